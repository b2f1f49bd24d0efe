"""One inbox per event loop for the hubs on channels_redis's ``RedisChannelLayer``.

channels_redis receives each message with four Redis commands (a cleanup script, the
blocking pop, a backup write before the message is handed over, and a backup pop
after) and two new tasks per ``receive()``. On a push to one viewer that cost about
0.4 ms of latency (A/B in bench/README.md). Here the hubs of one loop share a
plain channel of their own: each adds it to its group, one task waits on the
channel's Redis key with BZPOPMIN, and each message goes to the hub of the group its
sender wrote into it (:data:`redis_groups.GROUP_KEY`). A message that names no group
(from a sender without the tag) makes every hub reread its row instead.

Hubs share the channel, so their memberships go through the inbox: a hub that joins
a group right after the last one left it waits for that leave to finish, and a leave
that finds a newer hub on its group keeps the membership. Otherwise Redis could run
the old discard after the new add and the new hub would hear nothing.

The backup queue of channels_redis keeps a message whose receive was cancelled after
the pop. Here that happens only when the last hub leaves (nobody is left to tell) or
when the connection fails; then every hub rejoins its group and rereads its row.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

from channels.layers import BaseChannelLayer

from liveops_htmx import redis_groups
from liveops_htmx._compat import within
from liveops_htmx.conf import conf

logger = logging.getLogger("liveops_htmx.hub")

#: Seconds one BZPOPMIN blocks.
WAIT = 2
#: Seconds past WAIT after which an unanswered pop counts as a failed connection.
GRACE = 3


class Receiver(Protocol):
    def dispatch(self, msg: dict[str, Any]) -> None: ...

    def request_resync(self) -> None: ...

    def recover(self) -> None: ...


class LoopInbox:
    """What every shared inbox is: one per loop and layer, known while hubs use it."""

    def __init__(self, layer: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.layer = layer
        self.loop = loop
        self.hubs: dict[str, Receiver] = {}
        self._task: asyncio.Task[None] | None = None

    def _register(self) -> None:
        # The last hub may have left while this one was joining its group: carry on.
        _inboxes.setdefault(self.loop, {}).setdefault(id(self.layer), self)

    def _retire(self) -> None:
        """No hub is left: forget this inbox and stop its reading task."""
        inboxes = _inboxes.get(self.loop, {})
        if inboxes.get(id(self.layer)) is self:
            del inboxes[id(self.layer)]
        if self._task is not None:
            # A cancel can be lost inside redis-py's read (its timeout turns it into
            # an empty answer): the task also ends by itself once it is not the inbox's.
            self._task.cancel()
            self._task = None


_inboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, LoopInbox]]
_inboxes = weakref.WeakKeyDictionary()
InboxT = TypeVar("InboxT", bound=LoopInbox)


def shared(layer: BaseChannelLayer, make: Callable[[asyncio.AbstractEventLoop], InboxT]) -> InboxT:
    """The running loop's inbox for ``layer``, made by ``make(loop)`` if it has none."""
    loop = asyncio.get_running_loop()
    inboxes = _inboxes.setdefault(loop, {})
    inbox = inboxes.get(id(layer))
    if inbox is None:
        inbox = inboxes[id(layer)] = make(loop)
    return cast(InboxT, inbox)


class Inbox(LoopInbox):
    """The channel that one loop's hubs of one layer receive on, and its reading task."""

    def __init__(self, layer: Any, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(layer, loop)
        self.channel = f"liveops.inbox.{uuid.uuid4().hex}"
        self.key = layer.prefix + self.channel
        self._joining: dict[str, int] = {}
        self._leaving: dict[str, asyncio.Future[None]] = {}

    async def join(self, group: str) -> None:
        """Add the inbox's channel to ``group``, after a leave of it under way."""
        self._joining[group] = self._joining.get(group, 0) + 1
        try:
            leaving = self._leaving.get(group)
            if leaving is not None:
                await asyncio.wait([leaving])
            await self.layer.group_add(group, self.channel)
        finally:
            self._joining[group] -= 1
            if not self._joining[group]:
                del self._joining[group]

    async def leave(self, group: str, hub: Receiver) -> None:
        """Take the channel out of ``group``, unless a newer hub has or is getting it."""
        if self._joining.get(group) or self.hubs.get(group, hub) is not hub:
            return
        done = self._leaving[group] = self.loop.create_future()
        try:
            await self.layer.group_discard(group, self.channel)
        finally:
            done.set_result(None)
            if self._leaving.get(group) is done:
                del self._leaving[group]

    async def renew(self, group: str) -> None:
        """Add the channel to ``group`` again: memberships expire, and Redis may restart."""
        await self.layer.group_add(group, self.channel)

    def attach(self, group: str, hub: Receiver) -> None:
        self.hubs[group] = hub
        self._register()
        if self._task is None:
            self._task = self.loop.create_task(self._read())

    def detach(self, group: str, hub: Receiver) -> None:
        if self.hubs.get(group) is hub:
            del self.hubs[group]
        if not self.hubs:
            self._retire()

    async def _read(self) -> None:
        from liveops_htmx.redis_conn import Line  # redis-py: only with the redis extra

        line = Line(self.layer)
        me = asyncio.current_task()
        backoff = 0.1
        try:
            while self._task is me:
                try:
                    popped = await within(
                        line.call("BZPOPMIN", self.key, WAIT, retry=False), WAIT + GRACE
                    )
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the connection failed, or Redis did not answer
                    logger.warning("Receiving on %s failed, rejoining: %r", self.channel, exc)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    for hub in list(self.hubs.values()):
                        hub.recover()
                    continue
                backoff = 0.1
                if popped:
                    self._route(popped[1])
                    # Let the viewers' sends that the push started go out before the
                    # next BZPOPMIN is written: that write took 0.15 ms of each push's
                    # latency (a stamped trace, bench/README.md).
                    await asyncio.sleep(0)
        finally:
            await line.close()

    def _route(self, raw: bytes) -> None:
        try:
            msg = self.layer.deserialize(raw)
        except Exception as exc:  # not ours to read (another key prefix, another secret)
            logger.warning("Unreadable message on %s: %r", self.channel, exc)
            msg = {}
        group = msg.get(redis_groups.GROUP_KEY)
        if group is None:
            for hub in list(self.hubs.values()):
                hub.request_resync()
            return
        target = self.hubs.get(group)
        if target is not None:  # else: a push that crossed its hub's leaving
            target.dispatch(msg)


def inbox_for(layer: BaseChannelLayer) -> Inbox | None:
    """The running loop's inbox for ``layer``; None where the layer's own receive is used."""
    if not conf.FAST_REDIS or not redis_groups.plain_redis(layer):
        return None
    return shared(layer, lambda loop: Inbox(layer, loop))
