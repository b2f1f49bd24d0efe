"""WebSocket viewers in one process: the ``websockets`` library's sans-I/O client on asyncio.

``python -m bench.wsclient SPEC.json``: opens ``count`` sockets to ``url``, spread over
``spread`` seconds from ``start_at``, and stamps every frame with its arrival time
(``time.time()``, the clock the worker stamps with). Writes ``ready`` once every
socket is open (and holds its first frame, if ``expect_snapshot``), stops at
``deadline``, when ``stop`` appears, or when every socket has its result, and then
writes ``out``.

Each socket is an :class:`asyncio.Protocol` that feeds a ``websockets`` ``ClientProtocol``
and stamps the frames in ``data_received``. The library's asyncio connection (used
until run 13 of bench/README.md) costs a queue, a future and a task wake-up per
frame: at 1,000 viewers the four client processes used more CPU than the server they
measured, on a machine of two cores, and stamped each frame after that hop. Update
numbers are read out of the kept texts after the run, so the regular expressions are
off the clock too.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import enable_client_permessage_deflate
from websockets.frames import Opcode
from websockets.http11 import USER_AGENT, Response
from websockets.protocol import State
from websockets.typing import Origin
from websockets.uri import parse_uri

from bench.frames import seq_of
from bench.limits import raise_nofile

OPEN_TIMEOUT = 120.0
CLOSE_TIMEOUT = 5.0


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
    tag: int | None = None  # which of the run's targets this viewer follows (``each``)
    texts: list[str] = field(default_factory=list)  # kept whole with ``keep="texts"``


class Socket(asyncio.Protocol):
    """One viewer's connection: handshake, frames stamped on arrival, closing handshake."""

    def __init__(self, run: Run, v: Viewer, spec: dict[str, Any]) -> None:
        self.run, self.v, self.spec = run, v, spec
        self.keep = spec.get("keep", "frames") != "summary"
        self.marker = spec["marker"]
        self.texts: list[str] = []  # parsed into v.seqs after the run
        self.partial: list[bytes] = []
        self.settled = False
        self.transport: asyncio.Transport | None = None
        self.closer: asyncio.TimerHandle | None = None
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.finished: asyncio.Future[None] = loop.create_future()
        extensions = enable_client_permessage_deflate(None) if spec.get("deflate", True) else None
        self.ws = ClientProtocol(
            parse_uri(spec["url"]),
            origin=Origin(spec["origin"]),
            extensions=extensions,
            max_size=None,
        )

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        request = self.ws.connect()
        request.headers["User-Agent"] = USER_AGENT
        if self.spec.get("cookie"):
            request.headers["Cookie"] = self.spec["cookie"]
        self.ws.send_request(request)
        self.flush()

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Response):
                self.handshaken(now)
            elif event.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
                self.partial.append(event.data)
                if event.fin:
                    self.message(b"".join(self.partial), now)
                    self.partial.clear()
        self.flush()  # close replies and pongs
        if self.ws.close_expected():
            self.end_later()

    def eof_received(self) -> bool | None:
        self.ws.receive_eof()
        self.flush()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closer is not None:
            self.closer.cancel()
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed before the handshake"))
        if not self.finished.done():
            self.finished.set_result(None)

    # -- the viewer ---------------------------------------------------------------------

    def flush(self) -> None:
        out = self.ws.data_to_send()
        if out and self.transport is not None and not self.transport.is_closing():
            if out[-1] == b"":  # the protocol asks to half-close
                out.pop()
                self.transport.write(b"".join(out))
                if self.transport.can_write_eof():
                    self.transport.write_eof()
            else:
                self.transport.write(b"".join(out))

    def handshaken(self, now: float) -> None:
        if self.ws.handshake_exc is not None:
            self.opened.set_exception(self.ws.handshake_exc)
            return
        self.v.open = now
        self.opened.set_result(None)
        if not self.spec.get("expect_snapshot", True):
            self.settle()

    def settle(self) -> None:
        if not self.settled:
            self.settled = True
            self.run.settle()

    def message(self, data: bytes, now: float) -> None:
        v = self.v
        v.frames += 1
        v.bytes += len(data)
        if v.first is None:
            v.first = now
        self.settle()
        text = data.decode()
        result = self.marker in text
        if self.keep:
            v.times.append(now)
            self.texts.append(text)
        if result and v.result is None:
            v.result = now
            if self.spec.get("close_on_result", True):
                self.close()

    def close(self) -> None:
        """Start the closing handshake (code 1000); the server ends the TCP connection."""
        if self.v.closed_by_client or self.transport is None:
            return
        self.v.closed_by_client = True
        self.v.code = 1000
        if self.ws.state is State.OPEN:  # not if the server's close came in the same read
            self.ws.send_close(1000)
            self.flush()
        self.end_later()

    def end_later(self) -> None:
        # The server ends the TCP connection after the closing handshake; if it does
        # not, this side does, as the library's own client would.
        if self.transport is not None and self.closer is None:
            self.closer = asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, self.transport.close)

    def seqs(self) -> list[int]:
        spec = self.spec
        parse, n = spec.get("parse", "status"), spec.get("percent_n", 100)
        return [seq_of(text, parse, self.marker, n) for text in self.texts]


class Run:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.viewers = [Viewer() for _ in range(int(spec["count"]))]
        self.sockets: list[Socket] = []
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
        if "each" in spec:  # a URL (and cookie, tag) of its own for every viewer
            spec = {**spec, **spec["each"][k]}
            v.tag = spec.get("tag")
        await asyncio.sleep(
            max(0.0, spec["start_at"] + k * spec["spread"] / len(self.viewers) - time.time())
        )
        v.start = time.time()
        sock = Socket(self, v, spec)
        self.sockets.append(sock)
        uri = sock.ws.uri
        try:
            async with asyncio.timeout(OPEN_TIMEOUT):
                await asyncio.get_running_loop().create_connection(lambda: sock, uri.host, uri.port)
                await sock.opened
            await sock.finished
            if not v.closed_by_client:
                rcvd = sock.ws.close_rcvd
                v.code = rcvd.code if rcvd is not None else 1006
        except asyncio.CancelledError:
            v.closed_by_client = True
            if sock.transport is not None:
                sock.transport.close()
        except Exception as exc:
            v.error = repr(exc)[:200]
        finally:
            sock.settle()
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
        for sock in self.sockets:
            sock.v.seqs = sock.seqs()
            if sock.spec.get("keep") == "texts":
                sock.v.texts = sock.texts


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
