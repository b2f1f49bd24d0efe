"""The hubs' inbox on a real Redis: routing by group, healing, one command a message."""

from __future__ import annotations

import asyncio
import itertools

import pytest
import redis.asyncio
from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.test.utils import override_settings

from liveops_htmx import redis_groups, redis_inbox
from liveops_htmx.redis_groups import GROUP_KEY
from tests.conftest import REDIS_PREFIX

pytestmark = pytest.mark.redis

_runs = itertools.count()
WAIT = 5.0


class Hub:
    """What the inbox sees of a hub: what it was handed, and what it was asked to do."""

    def __init__(self, layer, group, inbox):
        self.layer, self.group, self.inbox = layer, group, inbox
        self.got: asyncio.Queue = asyncio.Queue()
        self.resyncs = 0
        self.recoveries = 0

    async def join(self):
        await self.inbox.join(self.group)
        self.inbox.attach(self.group, self)

    async def leave(self):  # as a stopping hub does: detach now, leave the group after
        self.inbox.detach(self.group, self)
        await self.inbox.leave(self.group, self)

    def dispatch(self, msg):
        self.got.put_nowait(msg)

    def request_resync(self):
        self.resyncs += 1
        self.got.put_nowait("resync")

    def recover(self):  # as the real hub does: join again, then reread
        self.recoveries += 1
        asyncio.get_running_loop().create_task(self._rejoin())

    async def _rejoin(self):
        try:
            await self.layer.group_add(self.group, self.inbox.channel)
        except Exception:
            return
        self.request_resync()

    async def next(self):
        return await asyncio.wait_for(self.got.get(), WAIT)


def _layer(url):
    return RedisChannelLayer(hosts=[url], prefix=f"{REDIS_PREFIX}-inbox-{next(_runs)}")


async def join_hubs(inbox, layer, *groups):
    """A hub per group, each joined through ``inbox`` (any of the kit's shared inboxes)."""
    assert inbox is not None
    hubs = [Hub(layer, group, inbox) for group in groups]
    for hub in hubs:
        await hub.join()
    return inbox, hubs


async def _hubs(layer, *groups):
    return await join_hubs(redis_inbox.inbox_for(layer), layer, *groups)


async def _leave(inbox, hubs):
    for hub in hubs:
        inbox.detach(hub.group, hub)
    await asyncio.sleep(0)


async def test_each_push_reaches_the_hub_of_its_group_only(redis_url):
    layer = _layer(redis_url)
    inbox, (one, two) = await _hubs(layer, "one", "two")
    try:
        await redis_groups.group_send(layer, "one", {"type": "t", "n": 1})
        with override_settings(LIVEOPS={"FAST_REDIS": False}):  # channels_redis's own send
            await redis_groups.group_send(layer, "two", {"type": "t", "n": 2})
        await redis_groups.group_send(layer, "one", {"type": "t", "n": 3})
        assert [(await one.next())["n"] for _ in range(2)] == [1, 3]
        got = await two.next()
        assert (got["n"], got[GROUP_KEY]) == (2, "two")
        await asyncio.sleep(0.1)
        assert one.got.empty() and two.got.empty()
    finally:
        await _leave(inbox, [one, two])


async def test_a_message_that_names_no_group_makes_every_hub_reread(redis_url):
    layer = _layer(redis_url)
    inbox, hubs = await _hubs(layer, "one", "two")
    try:
        await layer.group_send("one", {"type": "t"})  # a sender that does not tag
        assert [await hub.next() for hub in hubs] == ["resync", "resync"]
        await redis_groups.group_send(layer, "two", {"type": "t", "n": 1})
        assert (await hubs[1].next())["n"] == 1
    finally:
        await _leave(inbox, hubs)


async def test_a_restarted_redis_makes_every_hub_rejoin_and_pushes_flow_again(own_redis):
    layer = _layer(own_redis.url)
    inbox, hubs = await _hubs(layer, "one", "two")
    try:
        await asyncio.to_thread(own_redis.restart, 0.3)  # memberships are gone with it
        assert [await hub.next() for hub in hubs] == ["resync", "resync"]
        assert all(hub.recoveries >= 1 for hub in hubs)
        for n, hub in enumerate(hubs):
            await redis_groups.group_send(layer, hub.group, {"type": "t", "n": n})
            assert (await hub.next())["n"] == n
    finally:
        await _leave(inbox, hubs)


@pytest.mark.parametrize("first", ["leave", "join"])
async def test_a_hub_that_replaces_one_keeps_the_membership(redis_url, first):
    layer = _layer(redis_url)
    inbox, (old,) = await _hubs(layer, "g")
    keep = Hub(layer, "other", inbox)  # keeps the inbox alive across the handover
    await keep.join()
    try:
        for _ in range(10):
            new = Hub(layer, "g", inbox)
            if first == "leave":  # a page closed, then a new one opened
                moves = [asyncio.create_task(old.leave()), asyncio.create_task(new.join())]
            else:  # the new page's socket arrived before the old one's close
                moves = [asyncio.create_task(new.join()), asyncio.create_task(old.leave())]
            await asyncio.gather(*moves)
            members = await layer.connection(0).zrange(layer._group_key("g"), 0, -1)
            assert members == [inbox.channel.encode()]
            await redis_groups.group_send(layer, "g", {"type": "t"})
            assert (await new.next())["type"] == "t"
            old = new
    finally:
        await _leave(inbox, [old, keep])


async def _calls(client):
    stats = await client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


async def test_a_push_costs_the_receiving_side_one_command(own_redis):
    layer = _layer(own_redis.url)
    client = redis.asyncio.Redis.from_url(own_redis.url)
    inbox, (hub,) = await _hubs(layer, "one")
    try:
        await redis_groups.group_send(layer, "one", {"type": "t", "n": 0})
        await hub.next()
        before = await _calls(client)
        for n in range(1, 21):
            await redis_groups.group_send(layer, "one", {"type": "t", "n": n})
            assert (await hub.next())["n"] == n
        after = await _calls(client)
        made = {name: after[name] - before.get(name, 0) for name in after}
        # The sender's one script per push, the inbox's one pop per push (a pop that
        # timed out meanwhile may add one); channels_redis's receive would add a
        # cleanup EVAL, a backup ZADD and a ZPOPMIN for each.
        assert made["evalsha"] == 20
        assert 20 <= made["bzpopmin"] <= 21
        assert made.get("eval", 0) == made.get("zpopmin", 0) == 0
    finally:
        await _leave(inbox, [hub])
        await client.aclose()


async def test_the_last_hub_leaving_ends_the_inbox(redis_url):
    layer = _layer(redis_url)
    inbox, hubs = await _hubs(layer, "one", "two")
    task = inbox._task
    assert task is not None and redis_inbox.inbox_for(layer) is inbox
    inbox.detach("one", hubs[0])
    await asyncio.sleep(0)
    assert not task.done()
    await _leave(inbox, hubs[1:])
    await asyncio.wait([task], timeout=redis_inbox.WAIT + 1)
    assert task.done()
    fresh = redis_inbox.inbox_for(layer)
    assert fresh is not inbox and fresh.channel != inbox.channel


def test_only_a_plain_single_host_redis_channel_layer_gets_an_inbox(redis_url):
    class Custom(RedisChannelLayer):
        pass

    async def inboxes():
        return [
            redis_inbox.inbox_for(layer)
            for layer in (
                _layer(redis_url),
                Custom(hosts=[redis_url]),
                RedisChannelLayer(hosts=[redis_url, redis_url]),
                RedisPubSubChannelLayer(hosts=[redis_url]),
            )
        ]

    found = asyncio.run(inboxes())
    assert isinstance(found[0], redis_inbox.Inbox)
    assert found[1:] == [None, None, None]
    with override_settings(LIVEOPS={"FAST_REDIS": False}):
        assert asyncio.run(inboxes()) == [None] * 4
