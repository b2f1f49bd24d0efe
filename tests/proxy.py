"""A TCP proxy for fault tests: put it between a process and Redis, then break the line.

The proxy runs its own event loop on a daemon thread; the test drives it with plain
calls that return once the loop has applied them:

- :meth:`Proxy.delay` adds latency to every chunk, in one direction or both (with
  optional jitter; chunks of one connection never overtake each other);
- :meth:`Proxy.blackhole` stops forwarding while keeping every connection open, as
  a link that drops packets would: TCP on both ends retransmits, so what was sent
  arrives when the hole closes, unless an end gave up meanwhile. Bytes are held,
  never thrown away mid-stream (a TCP stream loses nothing without breaking);
  connections opened during the hole wait for it too;
- :meth:`Proxy.cut` closes every connection at once (a reset) and refuses new ones
  (the listening socket is closed: ``ECONNREFUSED``) for a while;
- :meth:`Proxy.heal` ends every fault now.

A fault given a duration ends by itself; :meth:`Proxy.wait_healed` returns the
``time.monotonic()`` at which the last one ended, the reference for convergence.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from tests.services import free_port

#: Directions: towards the upstream server, and back towards the client.
UP, DOWN = "up", "down"


@dataclass(eq=False)
class _Link:
    """One client connection and its connection upstream."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def abort(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is not None:
                writer.transport.abort()  # a reset, not an orderly close
        me = asyncio.current_task()
        for task in self.tasks:
            if task is not me:
                task.cancel()


class Proxy:
    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self.latency = {UP: 0.0, DOWN: 0.0}
        self.jitter = 0.0
        #: What happened: connections accepted, faults injected, bytes forwarded.
        self.stats: Counter[str] = Counter()
        #: ``time.monotonic()`` when the last fault ended (None while one is on).
        self.healed_at: float | None = time.monotonic()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._links: set[_Link] = set()
        self._server: asyncio.base_events.Server | None = None
        self._open: asyncio.Event | None = None  # cleared during a black hole
        self._timers: list[asyncio.TimerHandle] = []
        self._rng = random.Random(15)
        #: What went wrong inside the proxy itself (a test fails on any: see __exit__).
        self.errors: list[str] = []
        self._loop.set_exception_handler(lambda _, context: self.errors.append(str(context)))

    # -- life ----------------------------------------------------------------------

    def __enter__(self) -> Proxy:
        self._thread.start()
        self._call(self._start)
        return self

    def __exit__(self, *exc: object) -> None:
        self._call(self._stop)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()
        assert not self.errors, f"the proxy failed: {self.errors}"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _call(self, fn, *args):
        async def run():
            result = fn(*args)
            if asyncio.iscoroutine(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    async def _start(self) -> None:
        self._open = asyncio.Event()
        self._open.set()
        await self._listen()

    async def _stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        await self._unlisten()
        for link in list(self._links):
            link.abort()
        self._links.clear()

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._serve, "127.0.0.1", self.port, reuse_address=True
            )

    async def _unlisten(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    # -- faults (called from the test's thread) --------------------------------------

    def delay(self, seconds: float, direction: str | None = None, jitter: float = 0.0) -> None:
        """Hold every chunk ``seconds`` (plus up to ``jitter``) longer: UP, DOWN or both ways."""
        self._call(self._delay, seconds, direction, jitter)

    def _delay(self, seconds: float, direction: str | None, jitter: float) -> None:
        for way in (UP, DOWN) if direction is None else (direction,):
            self.latency[way] = seconds
        self.jitter = jitter
        if seconds or jitter:
            self.stats["delays"] += 1
            self.healed_at = None
        else:
            self._healed()

    def blackhole(self, seconds: float | None = None) -> None:
        """Forward nothing (connections stay open) for ``seconds``, or until :meth:`heal`."""
        self._call(self._blackhole, seconds)

    def _blackhole(self, seconds: float | None) -> None:
        assert self._open is not None
        self.stats["blackholes"] += 1
        self.healed_at = None
        self._open.clear()
        if seconds is not None:
            self._after(seconds, self._end_blackhole)

    def _end_blackhole(self) -> None:
        assert self._open is not None
        self._open.set()
        self._healed()

    def cut(self, seconds: float | None = 0.0) -> None:
        """Reset every connection and refuse new ones for ``seconds`` (None: until healed)."""
        self._call(self._cut, seconds)

    async def _cut(self, seconds: float | None) -> None:
        self.stats["cuts"] += 1
        self.stats["connections cut"] += len(self._links)
        self.healed_at = None
        await self._unlisten()
        for link in list(self._links):
            link.abort()
        self._links.clear()
        if seconds is not None:
            self._after(seconds, lambda: self._loop.create_task(self._end_cut()))

    async def _end_cut(self) -> None:
        await self._listen()
        self._healed()

    def heal(self) -> float:
        """End every fault now; return the monotonic time it happened."""
        self._call(self._heal)
        assert self.healed_at is not None
        return self.healed_at

    async def _heal(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self.latency = {UP: 0.0, DOWN: 0.0}
        self.jitter = 0.0
        assert self._open is not None
        self._open.set()
        await self._listen()
        self._healed()

    def wait_healed(self, timeout: float = 30.0) -> float:
        """Block until no fault is on; return the monotonic time the last one ended."""
        deadline = time.monotonic() + timeout
        while self.healed_at is None:
            if time.monotonic() > deadline:
                raise AssertionError("the proxy's fault did not end")
            time.sleep(0.01)
        return self.healed_at

    def _after(self, seconds: float, fn) -> None:
        self._timers.append(self._loop.call_later(seconds, fn))

    def _healed(self) -> None:
        calm = self.latency == {UP: 0.0, DOWN: 0.0} and self._open and self._open.is_set()
        if calm and self._server is not None:
            self.healed_at = time.monotonic()

    # -- forwarding -------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = _Link(writer)
        self._links.add(link)
        self.stats["connections"] += 1
        try:
            assert self._open is not None
            await self._open.wait()  # a connection opened into a black hole waits too
            try:
                up_reader, link.upstream = await asyncio.open_connection(*self.upstream)
            except OSError:
                self.stats["upstream refused"] += 1
                return
            link.tasks = [
                asyncio.current_task(),  # type: ignore[list-item]
                self._loop.create_task(self._pump(up_reader, writer, DOWN)),
            ]
            await self._pump(reader, link.upstream, UP)
        except (asyncio.CancelledError, OSError):
            pass  # cut, or reset by either end
        finally:
            link.abort()
            self._links.discard(link)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, way: str
    ) -> None:
        """Copy ``reader`` to ``writer``, each chunk held for the latency, none overtaking."""
        assert self._open is not None
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

        async def send() -> None:
            assert self._open is not None
            while (item := await queue.get()) is not None:
                due, data = item
                wait = due - self._loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._open.wait()  # nothing leaves a black hole
                writer.write(data)
                await writer.drain()
                self.stats[f"bytes {way}"] += len(data)
            with contextlib.suppress(OSError):
                writer.close()

        sender = self._loop.create_task(send())
        try:
            while True:
                await self._open.wait()  # nor is anything taken in
                data = await reader.read(65536)
                if not data:
                    break
                extra = self._rng.uniform(0, self.jitter) if self.jitter else 0.0
                queue.put_nowait((self._loop.time() + self.latency[way] + extra, data))
            queue.put_nowait(None)
            await sender
        except OSError:
            pass  # reset by either end: the link ends, as a real one would
        finally:
            sender.cancel()
            if sender.done() and not sender.cancelled():
                sender.exception()  # retrieved: a reset while writing is no news
            writer.transport.abort()
