"""HTTP pollers in one process: celery-progress's default client, every 500 ms.

``python -m bench.poller SPEC.json``: like :mod:`bench.wsclient`, with ``count``
keep-alive HTTP/1.1 connections to ``host:port`` each asking ``path``, then waiting
``interval`` seconds after every answer (as celery_progress.js does).

With ``"since": ""`` in the spec, a poller of liveops-htmx's ``…/poll/`` instead: it
adds ``&since=<seq>`` (the value of the poll element of the last answer), a 204 is no
frame, and every other answer is one (its update numbers read as a socket frame's).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
from typing import Any

from bench.frames import RESULT_SEQ, poll_seq, seq_of
from bench.limits import raise_nofile
from bench.wsclient import Viewer

_SINCE = re.compile(r"since=(\d+)")


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
        if "each" in spec:  # a target of its own for every viewer, as in bench.wsclient
            spec = {**spec, **spec["each"][k]}
            v.tag = spec.get("tag")
        keep = spec.get("keep", "frames")
        await asyncio.sleep(
            max(0.0, spec["start_at"] + k * spec["spread"] / len(self.viewers) - time.time())
        )
        v.start = time.time()
        since = spec.get("since")

        def request() -> bytes:
            path = spec["path"] if since is None else f"{spec['path']}&since={since}"
            cookie = f"Cookie: {spec['cookie']}\r\n" if spec.get("cookie") else ""
            return (
                f"GET {path} HTTP/1.1\r\nHost: {spec['host']}:{spec['port']}\r\n{cookie}"
                "Accept: application/json\r\nConnection: keep-alive\r\n\r\n"
            ).encode()

        settled = False
        writer: asyncio.StreamWriter | None = None
        try:
            reader, writer = await asyncio.open_connection(spec["host"], spec["port"])
            v.open = time.time()
            while True:
                writer.write(request())
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                now = time.time()
                if since is not None and head.split(b" ", 2)[1] == b"204":
                    if not settled:  # the first answer is the snapshot, never a 204
                        settled = True
                        self.settle()
                    await asyncio.sleep(spec["interval"])
                    continue
                v.frames += 1
                v.bytes += len(head) + len(body)
                if v.first is None:
                    v.first = now
                if not settled:
                    settled = True
                    self.settle()
                if since is None:
                    seq = poll_seq(body, spec["marker"])
                else:
                    text = body.decode()
                    seq = seq_of(text, "status", spec["marker"])
                    found = _SINCE.search(text)
                    since = found.group(1) if found else since
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
