"""HTTP pollers in one process: celery-progress's default client, every 500 ms.

``python -m bench.poller SPEC.json``: like :mod:`bench.wsclient`, with ``count``
keep-alive HTTP/1.1 connections to ``host:port`` each asking ``path``, then waiting
``interval`` seconds after every answer (as celery_progress.js does).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

from bench.frames import RESULT_SEQ, poll_seq
from bench.limits import raise_nofile
from bench.wsclient import Viewer


class Polls:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.viewers = [Viewer() for _ in range(int(spec["count"]))]
        self.settled = 0
        self.finished = 0
        self.done = asyncio.Event()

    def settle(self) -> None:
        self.settled += 1
        if self.settled == len(self.viewers):
            opened = sum(v.first is not None for v in self.viewers)
            with open(self.spec["ready"] + ".tmp", "w") as f:
                json.dump({"opened": opened, "at": time.time()}, f)
            os.replace(self.spec["ready"] + ".tmp", self.spec["ready"])

    async def poll(self, k: int, v: Viewer) -> None:
        spec = self.spec
        keep = spec.get("keep", "frames")
        await asyncio.sleep(
            max(0.0, spec["start_at"] + k * spec["spread"] / len(self.viewers) - time.time())
        )
        v.start = time.time()
        request = (
            f"GET {spec['path']} HTTP/1.1\r\nHost: {spec['host']}:{spec['port']}\r\n"
            "Accept: application/json\r\nConnection: keep-alive\r\n\r\n"
        ).encode()
        settled = False
        writer: asyncio.StreamWriter | None = None
        try:
            reader, writer = await asyncio.open_connection(spec["host"], spec["port"])
            v.open = time.time()
            while True:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                now = time.time()
                v.frames += 1
                v.bytes += len(head) + len(body)
                if v.first is None:
                    v.first = now
                if not settled:
                    settled = True
                    self.settle()
                seq = poll_seq(body, spec["marker"])
                if keep != "summary":
                    v.times.append(now)
                    v.seqs.append(seq)
                if seq == RESULT_SEQ:
                    v.result = now
                    v.code = 1000
                    break
                if spec.get("once"):
                    break
                await asyncio.sleep(spec["interval"])
        except asyncio.CancelledError:
            v.closed_by_client = True
        except Exception as exc:
            v.error = repr(exc)[:200]
        finally:
            if writer is not None:
                writer.close()
            if not settled:
                self.settle()
            self.finished += 1
            if self.finished == len(self.viewers):
                self.done.set()

    def stopped(self) -> bool:
        return os.path.exists(self.spec["stop"])  # a stat call: cheap enough to poll

    async def main(self) -> None:
        tasks = [asyncio.create_task(self.poll(k, v)) for k, v in enumerate(self.viewers)]
        while not self.done.is_set():
            if time.time() > self.spec["deadline"] or self.stopped():
                break
            await asyncio.sleep(0.05)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    raise_nofile()
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    polls = Polls(spec)
    asyncio.run(polls.main())
    from dataclasses import asdict

    with open(spec["out"] + ".tmp", "w") as f:
        json.dump({"cpu_s": time.process_time(), "viewers": [asdict(v) for v in polls.viewers]}, f)
    os.replace(spec["out"] + ".tmp", spec["out"])


if __name__ == "__main__":
    main()
