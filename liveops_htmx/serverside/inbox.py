"""A few channels per event loop and layer, on which all of that loop's hubs receive.

Rather than a channel and a receiving task per followed group, the hubs of one loop
share ``INBOX_CHANNELS`` channels of the layer, each group always on the same one (a
hash of its name): a hub adds its inbox's channel to its group, one task per inbox
receives on it, and each message goes to the hub of the group it names
(:data:`~liveops_htmx.rendering.protocol.GROUP`). A message that names no group (a
sender of another version) makes every hub of that inbox reread its row instead.
Several channels rather than one: ``RedisChannelLayer`` receives one message per
four round trips on a channel, and caps what a channel holds (100 by default), so
one channel would bound what a process can follow. Only the layer's public API is
used: ``new_channel``, ``group_add``, ``group_discard``, ``receive``.

Hubs share the channel, so their memberships go through the inbox: a hub that joins
a group right after the last one left it waits for that leave to finish, and a leave
that finds a newer hub on its group keeps the membership. Otherwise the layer could
run the old discard after the new add, and the new hub would hear nothing.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import zlib
from typing import Any, Protocol

from channels.layers import BaseChannelLayer

from liveops_htmx.conf import conf
from liveops_htmx.layer import host_count, listen, loop_bound, unlisten
from liveops_htmx.rendering.protocol import GROUP

logger = logging.getLogger("liveops_htmx.serverside")

#: Names of the inboxes' own channels where the layer's would be process-local.
PLAIN_PREFIX = "liveops.inbox."


class Receiver(Protocol):
    """What the inbox hands a group's messages to (a hub's subscription)."""

    def dispatch(self, msg: dict[str, Any]) -> None: ...

    def heal(self) -> None: ...  # reread the row: something may have been lost

    def recover(self) -> None: ...  # rejoin and reread: the layer failed


class Inbox:
    """A channel that some of one loop's hubs of one layer receive on, and its reading task."""

    def __init__(
        self,
        layer: BaseChannelLayer,
        loop: asyncio.AbstractEventLoop,
        key: tuple[BaseChannelLayer, int],
    ) -> None:
        self.layer = layer
        self.loop = loop
        self.key = key
        self.channel: str | None = None
        self.receivers: dict[str, Receiver] = {}
        self._naming = asyncio.Lock()
        self._joining: dict[str, int] = {}
        self._leaving: dict[str, asyncio.Future[None]] = {}
        self._task: asyncio.Task[None] | None = None

    async def _channel(self) -> str:
        async with self._naming:  # hubs joining together must add the same channel
            if self.channel is None:
                name = await self.layer.new_channel()
                if "!" in name and host_count(self.layer) == 1:
                    # A process-local name: channels_redis receives all of a process's
                    # through one key, one buffer and one lock, about twice a plain
                    # channel's cost per message. An inbox is its channel's one
                    # receiver: a plain name of its own will do. Not over several
                    # hosts: channels_redis reads a plain channel from any of them in
                    # turn, while a group's messages reach it on one.
                    name = f"{PLAIN_PREFIX}{uuid.uuid4().hex}"
                self.channel = name
            return self.channel

    async def join(self, group: str) -> None:
        """Add the inbox's channel to ``group``, after a leave of it under way."""
        self._joining[group] = self._joining.get(group, 0) + 1
        try:
            leaving = self._leaving.get(group)
            if leaving is not None:
                await asyncio.wait([leaving])
            await self.layer.group_add(group, await self._channel())
        finally:
            self._joining[group] -= 1
            if not self._joining[group]:
                del self._joining[group]

    async def renew(self, group: str) -> None:
        """Add the channel to ``group`` again: memberships expire, and servers restart."""
        await self.layer.group_add(group, await self._channel())

    async def leave(self, group: str, receiver: Receiver) -> None:
        """Take the channel out of ``group``, unless a newer hub has or is getting it."""
        if self.channel is None or self._joining.get(group):
            return
        if self.receivers.get(group, receiver) is not receiver:
            return
        done = self._leaving[group] = self.loop.create_future()
        try:
            await self.layer.group_discard(group, self.channel)
        finally:
            done.set_result(None)
            if self._leaving.get(group) is done:
                del self._leaving[group]

    def attach(self, group: str, receiver: Receiver) -> None:
        """Route ``group``'s messages to ``receiver`` (the inbox reads while any is attached)."""
        self.receivers[group] = receiver
        # The last receiver may have left while this one was joining its group.
        _inboxes.setdefault(self.loop, {}).setdefault(self.key, self)
        if self._task is None:
            if loop_bound(self.layer):
                listen(self.layer, self.loop)
            self._task = self.loop.create_task(self._read())

    def detach(self, group: str, receiver: Receiver) -> None:
        if self.receivers.get(group) is receiver:
            del self.receivers[group]
        if not self.receivers:
            self._retire()

    def _retire(self) -> None:
        inboxes = _inboxes.get(self.loop, {})
        if inboxes.get(self.key) is self:
            del inboxes[self.key]
        if self._task is not None:
            self._task.cancel()
            self._task = None
            if loop_bound(self.layer) and not any(i.layer is self.layer for i in inboxes.values()):
                unlisten(self.layer, self.loop)

    async def _read(self) -> None:
        me = asyncio.current_task()
        backoff = 0.1
        channel = await self._channel()
        while self._task is me:
            try:
                msg = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if "Timeout" in type(exc).__name__:
                    # channels_redis blocks 5 s in BZPOPMIN, as long as redis-py 8's
                    # default socket timeout: an idle receive times out. Nothing was
                    # lost that a reread would not heal; listen again at once.
                    continue
                logger.warning("Receiving on %s failed, rejoining: %r", channel, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                for receiver in list(self.receivers.values()):
                    receiver.recover()
                continue
            backoff = 0.1
            self._route(msg)

    def _route(self, msg: dict[str, Any]) -> None:
        group = msg.get(GROUP)
        if group is None:
            for receiver in list(self.receivers.values()):
                receiver.heal()
            return
        target = self.receivers.get(group)
        if target is not None:  # else: a push that crossed its hub's leaving
            target.dispatch(msg)


_inboxes: dict[asyncio.AbstractEventLoop, dict[tuple[BaseChannelLayer, int], Inbox]] = {}


def slot_of(group: str) -> int:
    """Which of the loop's inboxes ``group`` is followed on: always the same one."""
    return zlib.crc32(group.encode()) % conf.INBOX_CHANNELS


def inbox_for(layer: BaseChannelLayer, group: str) -> Inbox:
    """The running loop's inbox for ``group`` on ``layer``."""
    loop = asyncio.get_running_loop()
    for closed in [known for known in _inboxes if known.is_closed()]:
        del _inboxes[closed]
    inboxes = _inboxes.setdefault(loop, {})
    key = (layer, slot_of(group))
    inbox = inboxes.get(key)
    if inbox is None:
        inbox = inboxes[key] = Inbox(layer, loop, key)
    return inbox
