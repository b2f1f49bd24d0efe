"""Server-Sent Events viewers in one process: ``python -m bench.sseclient SPEC.json``.

As :mod:`bench.wsclient` (same spec, same output), but each viewer GETs ``url`` (an
``http://`` one) and reads the event stream: every event (its ``data:`` lines) is a
frame, stamped as its bytes arrive. A result frame, or the end of the stream, ends it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

from bench import wsclient


class Stream(wsclient.Socket):
    """One viewer's HTTP/1.1 event stream, de-chunked and split into events."""

    def __init__(self, run: wsclient.Run, v: wsclient.Viewer, spec: dict[str, Any]) -> None:
        self.run, self.v, self.spec = run, v, spec
        self.keep = spec.get("keep", "frames") != "summary"
        self.marker = spec["marker"]
        self.texts: list[str] = []
        self.settled = False
        self.transport: asyncio.Transport | None = None
        self.closer: asyncio.TimerHandle | None = None
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.finished: asyncio.Future[None] = loop.create_future()
        self.url = urlsplit(spec["url"])
        self.raw = b""  # bytes not yet parsed (head, or chunk framing)
        self.head: bytes | None = None
        self.chunked = False
        self.events = b""  # de-chunked bytes not yet split into events
        self.status = 0

    def address(self) -> tuple[str, int]:
        return str(self.url.hostname), int(self.url.port or 80)

    def close_code(self) -> int:
        return 1000 if self.v.result is not None else 1006

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        path = self.url.path + (f"?{self.url.query}" if self.url.query else "")
        head = [f"GET {path} HTTP/1.1", f"Host: {self.url.netloc}", "Accept: text/event-stream"]
        if self.spec.get("cookie"):
            head.append(f"Cookie: {self.spec['cookie']}")
        transport.write(("\r\n".join(head) + "\r\n\r\n").encode())

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.raw += data
        if self.head is None:
            end = self.raw.find(b"\r\n\r\n")
            if end < 0:
                return
            self.head, self.raw = self.raw[:end], self.raw[end + 4 :]
            lines = self.head.decode("latin-1").split("\r\n")
            self.status = int(lines[0].split()[1])
            self.chunked = any(
                line.lower().replace(" ", "") == "transfer-encoding:chunked" for line in lines
            )
            self.v.open = now
            self.opened.set_result(None)
            if not self.spec.get("expect_snapshot", True):
                self.settle()
        ended = self.dechunk() if self.chunked else self.take_all()
        while b"\n\n" in self.events:
            event, self.events = self.events.split(b"\n\n", 1)
            lines = event.decode().split("\n")
            text = "\n".join(x[5:].removeprefix(" ") for x in lines if x.startswith("data:"))
            if text:
                self.message(text.encode(), now)
        if ended and self.transport is not None:
            self.transport.close()

    def take_all(self) -> bool:
        self.events += self.raw
        self.raw = b""
        return False

    def dechunk(self) -> bool:
        """Move whole chunks from ``raw`` to ``events``; True at the last (empty) chunk."""
        while True:
            line_end = self.raw.find(b"\r\n")
            if line_end < 0:
                return False
            size = int(self.raw[:line_end].split(b";")[0], 16)
            if size == 0:
                return True
            if len(self.raw) < line_end + 2 + size + 2:
                return False
            chunk = self.raw[line_end + 2 : line_end + 2 + size]
            self.raw = self.raw[line_end + 2 + size + 2 :]
            self.events += chunk

    def eof_received(self) -> bool | None:
        return None

    def close(self) -> None:
        if self.v.closed_by_client or self.transport is None:
            return
        self.v.closed_by_client = True
        self.v.code = 1000
        self.transport.close()


class StreamRun(wsclient.Run):
    connection = Stream


if __name__ == "__main__":
    wsclient.main(StreamRun)
