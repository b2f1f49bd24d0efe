"""WebSocket viewers in one process (asyncio, the ``websockets`` library).

``python -m bench.wsclient SPEC.json``: opens ``count`` sockets to ``url``, spread over
``spread`` seconds from ``start_at``, and reads every frame with its arrival time
(``time.time()``, the clock the worker stamps with). Writes ``ready`` once every
socket is open (and holds its first frame, if ``expect_snapshot``), stops at
``deadline``, when ``stop`` appears, or when every socket has its result, and then
writes ``out``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from bench.frames import RESULT_SEQ, seq_of
from bench.limits import raise_nofile


@dataclass
class Viewer:
    start: float = 0.0
    open: float | None = None
    first: float | None = None
    result: float | None = None
    frames: int = 0
    bytes: int = 0
    times: list[float] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)
    code: int | None = None
    closed_by_client: bool = False
    error: str | None = None


class Run:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.viewers = [Viewer() for _ in range(int(spec["count"]))]
        self.settled = 0
        self.done = asyncio.Event()
        self.finished = 0

    def settle(self) -> None:
        self.settled += 1
        if self.settled == len(self.viewers):
            opened = sum(v.open is not None for v in self.viewers)
            with open(self.spec["ready"] + ".tmp", "w") as f:
                json.dump({"opened": opened, "at": time.time()}, f)
            os.replace(self.spec["ready"] + ".tmp", self.spec["ready"])

    async def view(self, k: int, v: Viewer) -> None:
        spec = self.spec
        keep = spec.get("keep", "frames")
        await asyncio.sleep(
            max(0.0, spec["start_at"] + k * spec["spread"] / len(self.viewers) - time.time())
        )
        v.start = time.time()
        settled = False
        headers = {"Cookie": spec["cookie"]} if spec.get("cookie") else None
        try:
            async with connect(
                spec["url"],
                origin=spec["origin"],
                additional_headers=headers,
                compression="deflate" if spec.get("deflate", True) else None,
                open_timeout=120,
                ping_interval=None,
                close_timeout=5,
                max_size=None,
            ) as ws:
                v.open = time.time()
                if not spec.get("expect_snapshot", True):
                    settled = True
                    self.settle()
                async for message in ws:
                    now = time.time()
                    text = message if isinstance(message, str) else message.decode()
                    v.frames += 1
                    v.bytes += len(text.encode())
                    if v.first is None:
                        v.first = now
                    if not settled:
                        settled = True
                        self.settle()
                    seq = seq_of(
                        text,
                        spec.get("parse", "status"),
                        spec["marker"],
                        spec.get("percent_n", 100),
                    )
                    if keep != "summary":
                        v.times.append(now)
                        v.seqs.append(seq)
                    if seq == RESULT_SEQ and v.result is None:
                        v.result = now
                        if spec.get("close_on_result", True):
                            v.closed_by_client = True
                            break
                v.code = ws.close_code if not v.closed_by_client else 1000
        except ConnectionClosed as exc:
            v.code = exc.rcvd.code if exc.rcvd is not None else 1006
        except asyncio.CancelledError:
            v.closed_by_client = True
        except Exception as exc:
            v.error = repr(exc)[:200]
        finally:
            if not settled:
                self.settle()
            self.finished += 1
            if self.finished == len(self.viewers):
                self.done.set()

    async def watch_stop(self) -> None:
        while not self.done.is_set():
            if time.time() > self.spec["deadline"] or self.stopped():
                return
            await asyncio.sleep(0.05)

    def stopped(self) -> bool:
        return os.path.exists(self.spec["stop"])  # a stat call: cheap enough to poll

    async def main(self) -> None:
        tasks = [asyncio.create_task(self.view(k, v)) for k, v in enumerate(self.viewers)]
        await self.watch_stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    raise_nofile()
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    run = Run(spec)
    asyncio.run(run.main())
    with open(spec["out"] + ".tmp", "w") as f:
        json.dump({"cpu_s": time.process_time(), "viewers": [asdict(v) for v in run.viewers]}, f)
    os.replace(spec["out"] + ".tmp", spec["out"])


if __name__ == "__main__":
    main()
