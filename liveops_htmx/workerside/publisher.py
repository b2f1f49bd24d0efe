"""Pushes from plain sync worker code, through one long-lived event loop, in order.

``async_to_sync(layer.group_send)`` starts a new event loop per call, and
channels_redis keeps its connections per loop, so every push would pay for a fresh
connection (milliseconds). Here a worker process keeps one loop in a daemon thread:
``publish()`` only queues (microseconds) and the loop sends in order over warm
connections. Layers whose queues belong to the serving process's loop (the in-memory
layer) are sent on the loops that listen to them (:func:`liveops_htmx.layer.listen`).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from channels.layers import BaseChannelLayer

from liveops_htmx._compat import within
from liveops_htmx.conf import conf
from liveops_htmx.layer import listening_loops, loop_bound
from liveops_htmx.rendering.protocol import merge

logger = logging.getLogger("liveops_htmx.workerside.publisher")


@dataclass
class _Push:
    layer: BaseChannelLayer
    group: str
    message: dict[str, Any]


class _Pump:
    """The in-order send queue of one event loop; touched only on that loop.

    A push that finds one to its group still waiting merges into it where the wire
    protocol allows (:func:`~liveops_htmx.rendering.protocol.merge`): a publisher
    that falls behind its layer sends fewer, newer messages, not a backlog.
    """

    def __init__(self) -> None:
        self.queue: deque[_Push] = deque()
        self.waiting: dict[tuple[int, str], _Push] = {}  # the last queued push per group
        self.task: asyncio.Task[None] | None = None

    def add(self, push: _Push) -> bool:
        """Queue ``push``; True if it merged into a push still waiting."""
        key = (id(push.layer), push.group)
        last = self.waiting.get(key)
        merged = None if last is None else merge(last.message, push.message)
        if last is not None and merged is not None:
            last.message = merged
            return True
        queued = _Push(push.layer, push.group, push.message)  # its own: loops do not share
        self.queue.append(queued)
        self.waiting[key] = queued
        return False

    def take(self) -> _Push:
        push = self.queue.popleft()
        key = (id(push.layer), push.group)
        if self.waiting.get(key) is push:
            del self.waiting[key]
        return push


class Publisher:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._pending = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pumps: dict[asyncio.AbstractEventLoop, _Pump] = {}
        #: sent, failed (layer error or timeout), dropped (queue full), unheard (no
        #: subscriber), merged (into a push to its group still waiting)
        self.stats: Counter[str] = Counter()

    # -- loops -------------------------------------------------------------------

    def _own_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=loop.run_forever, name="liveops-publisher", daemon=True
            )
            thread.start()
            self._loop = loop
        return self._loop

    def _targets(self, layer: BaseChannelLayer) -> list[asyncio.AbstractEventLoop]:
        if loop_bound(layer):
            # Its queues live on the serving loop; with no loop listening, nobody hears it.
            return listening_loops(layer)
        return [self._own_loop()]

    # -- sending -----------------------------------------------------------------

    def publish(
        self, layer: BaseChannelLayer, group: str, message: dict[str, Any], *, essential: bool
    ) -> None:
        """Queue ``message`` for ``group``; never blocks, never raises for layer trouble."""
        with self._lock:
            targets = self._targets(layer)
            if not targets:
                self.stats["unheard"] += 1
                return
            if not essential and self._pending >= conf.PUBLISH_QUEUE_MAX:
                self.stats["dropped"] += 1
                return
            self._pending += len(targets)
        push = _Push(layer, group, message)
        for loop in targets:
            try:
                loop.call_soon_threadsafe(self._enqueue, loop, push)
            except RuntimeError:  # the loop closed meanwhile
                self._done(1, "unheard")

    def _enqueue(self, loop: asyncio.AbstractEventLoop, push: _Push) -> None:
        pump = self._pumps.get(loop)
        if pump is None:
            pump = self._pumps[loop] = _Pump()
        if pump.add(push):
            self._done(1, "merged")
        if pump.task is None:
            pump.task = loop.create_task(self._drain(loop, pump))

    async def _drain(self, loop: asyncio.AbstractEventLoop, pump: _Pump) -> None:
        while pump.queue:
            push = pump.take()
            outcome = "sent"
            try:
                await within(push.layer.group_send(push.group, push.message), conf.PUBLISH_TIMEOUT)
            except Exception as exc:  # a push must never break the worker
                outcome = "failed"
                self._warn(push, exc)
            self._done(1, outcome)
        del self._pumps[loop]  # nothing queued: the next push starts a fresh drain

    def _warn(self, push: _Push, exc: BaseException) -> None:
        failed = self.stats["failed"] + 1
        if failed == 1 or failed % 100 == 0:
            logger.warning(
                "Push to %s failed (%s failures so far); the next snapshot will heal the page: %r",
                push.group,
                failed,
                exc,
            )

    def _done(self, n: int, outcome: str) -> None:
        with self._lock:
            self._pending -= n
            self.stats[outcome] += n
            if self._pending <= 0:
                self._lock.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued push was sent or failed; False on timeout."""
        if timeout is None:
            timeout = conf.PUBLISH_TIMEOUT * 2
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:  # waiting would block an event loop, perhaps the very one that sends
            return self._pending <= 0
        with self._lock:
            return self._lock.wait_for(lambda: self._pending <= 0, timeout)

    @property
    def pending(self) -> int:
        return self._pending


_publisher: Publisher | None = None
_publisher_lock = threading.Lock()


def get_publisher() -> Publisher:
    global _publisher
    if _publisher is None:
        with _publisher_lock:
            if _publisher is None:
                _publisher = Publisher()
    return _publisher


def _forget_after_fork() -> None:
    # A forked child (a Celery prefork worker) has no publisher thread: start afresh.
    global _publisher, _publisher_lock
    _publisher = None
    _publisher_lock = threading.Lock()


def _flush_at_exit() -> None:
    if _publisher is not None:
        _publisher.flush()


os.register_at_fork(after_in_child=_forget_after_fork)
atexit.register(_flush_at_exit)
