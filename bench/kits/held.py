"""One event loop in a thread that sends in order: how the peers' drivers push many operations.

django-liveops and the bare relay push with ``async_to_sync(group_send)``, a fresh
event loop and Redis connection per call (the latency step measures it: several ms).
The many-operations scenarios need thousands of pushes a second from a few worker
processes, so there their drivers send the very same messages through one held loop;
what is measured there is the server side.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any


class Held:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="bench-held", daemon=True).start()
        self.queue: deque[tuple[Callable[..., Awaitable[Any]], tuple[Any, ...]]] = deque()
        self.task: asyncio.Task[None] | None = None
        self.failed = 0

    def send(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Queue ``await fn(*args)``; sends run one after another, in order."""
        self.loop.call_soon_threadsafe(self._put, fn, args)

    def _put(self, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> None:
        self.queue.append((fn, args))
        if self.task is None:
            self.task = self.loop.create_task(self._drain())

    async def _drain(self) -> None:
        while self.queue:
            fn, args = self.queue.popleft()
            try:
                await fn(*args)
            except Exception:
                self.failed += 1
        self.task = None

    def flush(self, timeout: float = 60.0) -> None:
        async def idle() -> None:
            while self.task is not None:
                await asyncio.wait([self.task])

        asyncio.run_coroutine_threadsafe(idle(), self.loop).result(timeout)
