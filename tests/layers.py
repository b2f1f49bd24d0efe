"""An in-memory channel layer that fails on request, for the hub's error paths."""

from __future__ import annotations

import asyncio

from channels.layers import InMemoryChannelLayer


class FlakyLayer(InMemoryChannelLayer):
    fail_group_add = False
    hang_group_add = False  # a Redis that does not answer: the call waits until cancelled
    drop_probes = False
    receive_failures = 0
    discard_failures = 0
    group_adds = 0

    async def group_add(self, group, channel):
        type(self).group_adds += 1
        if self.fail_group_add:
            raise ConnectionError("cannot subscribe")
        while type(self).hang_group_add:
            await asyncio.sleep(0.01)
        await super().group_add(group, channel)

    async def group_discard(self, group, channel):
        if type(self).discard_failures > 0:
            type(self).discard_failures -= 1
            raise ConnectionError("connection refused")
        await super().group_discard(group, channel)

    async def group_send(self, group, message):
        if self.drop_probes and message.get("type") == "liveop.probe":
            return
        await super().group_send(group, message)

    async def receive(self, channel):
        if type(self).receive_failures > 0:
            type(self).receive_failures -= 1
            raise ConnectionError("connection reset")
        return await super().receive(channel)
