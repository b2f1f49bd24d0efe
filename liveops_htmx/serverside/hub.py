"""One hub per followed group per serving process: a subscription, viewers, reads.

The first viewer of an operation (or list) in a process creates its hub, which joins
the group; later viewers only register with it. A push is received once per process
and offered to each viewer's outbox without a thread hop, and no viewer ever
receives another viewer's snapshot. A viewer registers before it reads the row, so
no push falls between its snapshot and the subscription. The hub rereads the row
when a viewer saw a gap, when the layer failed, or when it heard nothing for a
while, and offers that snapshot to every viewer that is behind it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from channels.layers import BaseChannelLayer

from liveops_htmx.serverside.fanout import Fanout, Viewer
from liveops_htmx.serverside.reads import Reads, Subject
from liveops_htmx.serverside.subscription import Subscription

T = TypeVar("T")


class Hub:
    def __init__(self, layer: BaseChannelLayer, subject: Subject) -> None:
        self.layer = layer
        self.subject = subject
        self.group = subject.group
        self.loop = asyncio.get_running_loop()
        self.fanout = Fanout(self.loop)
        self.reads = Reads(self.loop, subject, self.fanout)
        self.subscription = Subscription(
            layer, self.group, deliver=self.fanout.deliver, heal=self.reads.request_resync
        )
        self.reads.checked = self.subscription.checked
        self._stopped = False

    @property
    def viewers(self) -> set[Viewer]:
        return self.fanout.viewers

    async def read(self, fn: Callable[[], T]) -> T:
        return await self.reads.read(fn)

    # -- what its viewers call (fanout.Host) ----------------------------------------

    def request_resync(self) -> None:
        self.reads.request_resync()

    def remove(self, viewer: Viewer) -> None:
        self.fanout.viewers.discard(viewer)
        if not self.fanout.viewers:
            self.stop()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        hubs = _hubs.get(self.loop, {})
        if hubs.get(self.key) is self:
            del hubs[self.key]
        self.fanout.stop()
        self.reads.stop()
        self.subscription.stop()

    @property
    def key(self) -> tuple[BaseChannelLayer, str]:
        return (self.layer, self.group)


_hubs: dict[asyncio.AbstractEventLoop, dict[tuple[BaseChannelLayer, str], Hub]] = {}


async def join(layer: BaseChannelLayer, subject: Subject, viewer: Viewer) -> Hub:
    """Attach ``viewer`` to the subject's hub, subscribing first if this process is new to it."""
    loop = asyncio.get_running_loop()
    for closed in [known for known in _hubs if known.is_closed()]:
        del _hubs[closed]
    hubs = _hubs.setdefault(loop, {})
    key = (layer, subject.group)
    hub = hubs.get(key)
    if hub is None:
        hub = hubs[key] = Hub(layer, subject)
    hub.viewers.add(viewer)
    viewer.host = hub
    try:
        await asyncio.shield(hub.subscription.ready)
    except BaseException:
        viewer.leave()
        raise
    return hub


def hubs() -> list[Hub]:
    """The hubs alive on the running loop (for tests and benchmarks)."""
    return list(_hubs.get(asyncio.get_running_loop(), {}).values())
