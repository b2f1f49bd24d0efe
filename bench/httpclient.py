"""liveops-htmx viewers over HTTP in one process: an event stream, or polling.

``python -m bench.httpclient SPEC.json``: like :mod:`bench.wsclient` (the same spec
keys, ``each`` included, ``ready``/``stop``/``out`` files and
:class:`~bench.wsclient.Viewer` records), with ``mode``:

- ``sse``: GET ``path`` (the operation's ``…/events/``) and read the stream; every
  message is a frame, stamped when the read that completed it returned;
- ``poll``: GET ``path`` (``…/poll/``) with ``since=`` every ``interval`` seconds on
  a fixed schedule, as htmx's ``every`` trigger does, on one keep-alive connection;
  a 204 is nothing new, a 200 a frame whose poll element names the next ``since``.

Both stop at the result (``marker``), at ``deadline``, or when ``stop`` appears.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
from dataclasses import asdict
from typing import Any

from bench.frames import seq_of
from bench.limits import raise_nofile
from bench.wsclient import Viewer

_SINCE = re.compile(r"[?&]amp;since=(\d*)|[?&]since=(\d*)")


async def read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    headers = {}
    for line in head[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return status, headers


async def read_chunk(reader: asyncio.StreamReader) -> bytes:
    """One piece of a chunked body (b"" at its end)."""
    size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
    data = await reader.readexactly(size + 2)
    return data[:-2]


async def read_body(reader: asyncio.StreamReader, status: int, headers: dict[str, str]) -> bytes:
    if status in (204, 304):
        return b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while piece := await read_chunk(reader):
            parts.append(piece)
        return b"".join(parts)
    return await reader.readexactly(int(headers.get("content-length", "0")))


class Run:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.viewers = [Viewer() for _ in range(int(spec["count"]))]
        self.texts: list[list[str]] = [[] for _ in self.viewers]
        # A path (and tag) of its own for every viewer, as in bench.wsclient.
        each = spec.get("each") or [{} for _ in self.viewers]
        self.specs = [{**spec, **one} for one in each]
        for v, one in zip(self.viewers, self.specs, strict=True):
            v.tag = one.get("tag")
        self.settled = 0

    def settle(self) -> None:
        self.settled += 1
        if self.settled == len(self.viewers):
            opened = sum(v.open is not None for v in self.viewers)
            with open(self.spec["ready"] + ".tmp", "w") as f:
                json.dump({"opened": opened, "at": time.time()}, f)
            os.replace(self.spec["ready"] + ".tmp", self.spec["ready"])

    def frame(self, k: int, text: str, now: float) -> bool:
        """Record a frame of viewer ``k``; True once it holds the result."""
        v = self.viewers[k]
        v.frames += 1
        v.bytes += len(text.encode())
        if v.first is None:
            v.first = now
            self.settle()
        v.times.append(now)
        self.texts[k].append(text)
        if self.spec["marker"] in text and v.result is None:
            v.result = now
            v.code = 1000
            return True
        return False

    def request(self, k: int, path: str) -> bytes:
        spec = self.specs[k]
        return (
            f"GET {path} HTTP/1.1\r\nHost: {spec['host']}:{spec['port']}\r\n"
            "Accept: text/html, text/event-stream\r\nConnection: keep-alive\r\n\r\n"
        ).encode()

    async def stream(self, k: int) -> None:
        spec = self.specs[k]
        reader, writer = await asyncio.open_connection(spec["host"], spec["port"])
        try:
            self.viewers[k].open = time.time()
            writer.write(self.request(k, spec["path"]))
            status, headers = await read_head(reader)
            assert status == 200 and "text/event-stream" in headers.get("content-type", "")
            buffer = ""
            while piece := await read_chunk(reader):
                now = time.time()
                buffer += piece.decode()
                *messages, buffer = buffer.split("\n\n")
                for block in messages:
                    data = [line[6:] for line in block.split("\n") if line.startswith("data: ")]
                    if data and self.frame(k, "\n".join(data), now):
                        return
        finally:
            writer.close()

    async def poll(self, k: int) -> None:
        spec = self.specs[k]
        interval = float(spec["interval"])
        reader, writer = await asyncio.open_connection(spec["host"], spec["port"])
        try:
            self.viewers[k].open = time.time()
            since = ""
            due = time.monotonic()
            while True:
                writer.write(self.request(k, f"{spec['path']}&since={since}"))
                status, headers = await read_head(reader)
                body = await read_body(reader, status, headers)
                now = time.time()
                if status == 200:
                    text = body.decode()
                    if self.frame(k, text, now):
                        return
                    found = _SINCE.findall(text)
                    since = next((a or b for a, b in reversed(found)), since)
                due += interval
                while due < time.monotonic():  # a tick missed while busy is dropped
                    due += interval
                await asyncio.sleep(due - time.monotonic())
        finally:
            writer.close()

    async def view(self, k: int) -> None:
        v = self.viewers[k]
        v.start = time.time()
        try:
            await (self.stream(k) if self.specs[k]["mode"] == "sse" else self.poll(k))
        except asyncio.CancelledError:
            v.closed_by_client = True
        except Exception as exc:
            v.error = repr(exc)[:200]
        finally:
            if v.first is None:
                self.settle()

    def stopped(self) -> bool:
        return os.path.exists(self.spec["stop"])  # a stat call: cheap enough to poll

    async def main(self) -> None:
        tasks = [asyncio.create_task(self.view(k)) for k in range(len(self.viewers))]
        while not all(task.done() for task in tasks):
            if time.time() > self.spec["deadline"] or self.stopped():
                break
            await asyncio.sleep(0.05)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for v, texts in zip(self.viewers, self.texts, strict=True):
            v.seqs = [seq_of(text, "status", self.spec["marker"]) for text in texts]


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
