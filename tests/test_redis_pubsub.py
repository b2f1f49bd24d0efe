"""The pub/sub layer's shortcuts on a real Redis: one subscribing connection per loop."""

from __future__ import annotations

import asyncio
import itertools

import pytest
import redis.asyncio
from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.test.utils import override_settings

from liveops_htmx import redis_groups, redis_pubsub
from tests.conftest import REDIS_PREFIX
from tests.test_redis_inbox import Hub, join_hubs

pytestmark = pytest.mark.redis

_runs = itertools.count()


def _layer(url, **kwargs):
    prefix = f"{REDIS_PREFIX}-pubsub-{next(_runs)}"
    return RedisPubSubChannelLayer(hosts=[url], prefix=prefix, **kwargs)


async def _hubs(layer, *groups):
    return await join_hubs(redis_pubsub.inbox_for(layer), layer, *groups)


async def _leave(inbox, hubs):
    for hub in hubs:
        await hub.leave()


async def _subscribed(client, layer, group, expect=None):
    """Subscribers of the group's Redis channel (waiting a while for ``expect``)."""
    name = layer._get_layer()._get_group_channel_name(group)
    for _ in range(50):
        count = (await client.pubsub_numsub(name))[0][1]
        if expect is None or count == expect:
            break
        await asyncio.sleep(0.02)  # an UNSUBSCRIBE is not waited for
    return count


async def test_each_push_reaches_the_hub_of_its_group_only(redis_url):
    layer = _layer(redis_url)
    inbox, (one, two) = await _hubs(layer, "one", "two")
    try:
        await redis_groups.group_send(layer, "one", {"type": "t", "n": 1})
        await layer.group_send("two", {"type": "t", "n": 2})  # the layer's own publish
        await redis_groups.group_send(layer, "one", {"type": "t", "n": 3})
        assert [(await one.next())["n"] for _ in range(2)] == [1, 3]
        assert (await two.next())["n"] == 2
        await asyncio.sleep(0.1)
        assert one.got.empty() and two.got.empty()
    finally:
        await _leave(inbox, [one, two])


async def test_the_layer_own_receive_hears_our_publish(redis_url):
    layer = _layer(redis_url)
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    await redis_groups.group_send(layer, "g", {"type": "t", "n": 1})
    assert (await asyncio.wait_for(layer.receive(channel), 5))["n"] == 1
    await layer.flush()


@pytest.mark.parametrize("protocol", [2, 3])
async def test_both_protocols_deliver(redis_url, protocol):
    url = f"{redis_url}{'&' if '?' in redis_url else '?'}protocol={protocol}"
    layer = _layer(url)
    inbox, (hub,) = await _hubs(layer, "g")
    try:
        await redis_groups.group_send(layer, "g", {"type": "t", "n": protocol})
        assert (await hub.next())["n"] == protocol
        assert int(inbox._conn.protocol) == protocol
    finally:
        await _leave(inbox, [hub])


async def test_a_restarted_redis_makes_every_hub_reread_and_pushes_flow_again(own_redis):
    layer = _layer(own_redis.url)
    inbox, hubs = await _hubs(layer, "one", "two")
    try:
        await asyncio.to_thread(own_redis.restart, 0.3)  # subscriptions are gone with it
        assert [await hub.next() for hub in hubs] == ["resync", "resync"]
        for n, hub in enumerate(hubs):
            await redis_groups.group_send(layer, hub.group, {"type": "t", "n": n})
            assert (await hub.next())["n"] == n
    finally:
        await _leave(inbox, hubs)


@pytest.mark.parametrize("first", ["leave", "join"])
async def test_a_hub_that_replaces_one_keeps_the_subscription(redis_url, first):
    layer = _layer(redis_url)
    client = redis.asyncio.Redis.from_url(redis_url)
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
            assert await _subscribed(client, layer, "g") == 1
            await redis_groups.group_send(layer, "g", {"type": "t"})
            assert (await new.next())["type"] == "t"
            old = new
    finally:
        await _leave(inbox, [old, keep])
        await client.aclose()


async def test_a_leaving_hub_unsubscribes(redis_url):
    layer = _layer(redis_url)
    client = redis.asyncio.Redis.from_url(redis_url)
    inbox, (one, two) = await _hubs(layer, "one", "two")
    try:
        assert await _subscribed(client, layer, "one") == 1
        await one.leave()
        assert await _subscribed(client, layer, "one", expect=0) == 0
        assert await _subscribed(client, layer, "two") == 1
    finally:
        await _leave(inbox, [two])
        await client.aclose()


async def _calls(client):
    stats = await client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


async def test_a_push_costs_one_publish_and_no_polling(own_redis):
    layer = _layer(own_redis.url)
    client = redis.asyncio.Redis.from_url(own_redis.url)
    inbox, (hub,) = await _hubs(layer, "one")
    try:
        before = await _calls(client)
        for n in range(20):
            await redis_groups.group_send(layer, "one", {"type": "t", "n": n})
            assert (await hub.next())["n"] == n
        after = await _calls(client)
        made = {name: after[name] - before.get(name, 0) for name in after}
        assert made["publish"] == 20
        assert made.get("subscribe", 0) == 0
        # Only the INFO above; a quiet connection is PINGed every WAIT seconds at most.
        assert sum(made.values()) - made["publish"] - made.get("info", 0) <= 1
    finally:
        await _leave(inbox, [hub])
        await client.aclose()


async def test_a_quiet_connection_is_pinged_and_kept(redis_url, monkeypatch):
    monkeypatch.setattr(redis_pubsub, "WAIT", 0.2)
    layer = _layer(redis_url)
    inbox, (hub,) = await _hubs(layer, "g")
    try:
        task = inbox._task
        await asyncio.sleep(1.0)  # five quiet spells, each answered by a PING's reply
        assert inbox._task is task and not task.done()
        assert hub.got.empty()  # no reconnect, so no reread
        await redis_groups.group_send(layer, "g", {"type": "t"})
        assert (await hub.next())["type"] == "t"
    finally:
        await _leave(inbox, [hub])


async def test_the_last_hub_leaving_ends_the_inbox(redis_url):
    layer = _layer(redis_url)
    inbox, hubs = await _hubs(layer, "one", "two")
    task = inbox._task
    assert task is not None and redis_pubsub.inbox_for(layer) is inbox
    await hubs[0].leave()
    await asyncio.sleep(0)
    assert not task.done()
    await _leave(inbox, hubs[1:])
    await asyncio.wait([task], timeout=1)
    assert task.done()
    assert redis_pubsub.inbox_for(layer) is not inbox


async def test_a_failed_join_leaves_nothing_reading(redis_url):
    layer = _layer(redis_url)
    inbox = redis_pubsub.inbox_for(layer)
    with override_settings(LIVEOPS={"PUBLISH_TIMEOUT": 0.001}), pytest.raises(TimeoutError):
        await inbox.join("g")
    await asyncio.sleep(0)
    assert inbox._task is None


def test_only_a_single_host_pubsub_layer_gets_the_shortcuts(redis_url):
    class Custom(RedisPubSubChannelLayer):
        pass

    async def found():
        return [
            redis_pubsub.inbox_for(layer)
            for layer in (
                _layer(redis_url),
                Custom(hosts=[redis_url]),
                RedisPubSubChannelLayer(hosts=[redis_url, redis_url]),
                RedisChannelLayer(hosts=[redis_url]),
            )
        ]

    assert isinstance(asyncio.run(found())[0], redis_pubsub.PubSubInbox)
    assert asyncio.run(found())[1:] == [None, None, None]
    with override_settings(LIVEOPS={"FAST_REDIS": False}):
        assert asyncio.run(found()) == [None] * 4
