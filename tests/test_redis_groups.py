"""One-round-trip group sends on a real Redis: the same data as channels_redis writes.

Each scenario is played twice on one Redis, under two key prefixes: once with the
layer's own ``group_send``, once with ``RedisGroupSender``. Afterwards every key of
the two prefixes must hold the same members, messages and expiry.
"""

from __future__ import annotations

import itertools
import time

import pytest
import redis.asyncio
from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.test.utils import override_settings

from liveops_htmx import redis_groups
from liveops_htmx.redis_groups import RedisGroupSender, sender_for
from tests.conftest import REDIS_PREFIX

pytestmark = pytest.mark.redis

_runs = itertools.count()


def _layer(url, prefix, **config):
    return RedisChannelLayer(hosts=[url], prefix=prefix, **config)


async def _state(client, layer, prefix):
    """Every key under ``prefix``: its members (messages deserialized) and whether it expires."""
    state = {}
    async for raw in client.scan_iter(match=f"{prefix}*"):
        key = raw.decode()
        if await client.type(raw) != b"zset":
            continue
        members = []
        for member, _score in await client.zrange(raw, 0, -1, withscores=True):
            try:
                members.append(layer.deserialize(member))
            except Exception:
                members.append(member.decode())
        state[key[len(prefix) :]] = (members, await client.ttl(raw) > 0)
    return state


async def _play(url, scenario, send_with, **config):
    prefix = f"{REDIS_PREFIX}-groups-{next(_runs)}"
    layer = _layer(url, prefix, **config)
    client = redis.asyncio.Redis.from_url(url)
    try:
        send = await scenario(layer, client, prefix)
        sender = RedisGroupSender(layer)
        for message in send:
            if send_with == "layer":
                await layer.group_send("g", message)
            else:
                await sender.send("g", message)
        return await _state(client, layer, prefix)
    finally:
        await layer.flush()
        await client.aclose()
        await layer.close_pools()


def _message(i):
    return {"type": "liveop.update", "seq": i, "liveop_html": f"<p>{i}</p>" * 20}


async def _two_processes(layer, client, prefix):
    await layer.group_add("g", "specific.one!a")
    await layer.group_add("g", "specific.two!b")
    return [_message(i) for i in range(3)]


async def _one_process_two_channels(layer, client, prefix):
    # channels_redis keys both by their process: what it writes then is what we write.
    await layer.group_add("g", "specific.one!a")
    await layer.group_add("g", "specific.one!b")
    return [_message(1)]


async def _plain_channel_and_expired_member(layer, client, prefix):
    await layer.group_add("g", "plain")
    await client.zadd(f"{prefix}:group:g", {"specific.gone!x": time.time() - 10 * 86400})
    return [_message(1), _message(2)]


async def _full_channel(layer, client, prefix):
    await layer.group_add("g", "specific.one!a")
    await layer.group_add("g", "specific.two!b")
    await layer.send("specific.one!a", _message(0))
    await layer.send("specific.one!a", _message(0))
    return [_message(1), _message(2)]


async def _expired_message(layer, client, prefix):
    await layer.group_add("g", "specific.one!a")
    stale = layer.serialize(_message(0))
    await client.zadd(f"{prefix}specific.one!", {stale: time.time() - 3600})
    return [_message(1)]


async def _empty_group(layer, client, prefix):
    return [_message(1)]


@pytest.mark.parametrize(
    "scenario",
    [
        _two_processes,
        _one_process_two_channels,
        _plain_channel_and_expired_member,
        _full_channel,
        _expired_message,
        _empty_group,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
async def test_redis_holds_what_group_send_writes(redis_url, scenario):
    config = {"capacity": 2, "expiry": 60} if scenario is _full_channel else {"expiry": 60}
    theirs = await _play(redis_url, scenario, "layer", **config)
    ours = await _play(redis_url, scenario, "fast", **config)
    assert ours == theirs
    delivered = [m for members, _ in ours.values() for m in members if isinstance(m, dict)]
    assert bool(delivered) is (scenario is not _empty_group)


async def test_a_steady_group_costs_one_round_trip_a_send(redis_url):
    layer = _layer(redis_url, f"{REDIS_PREFIX}-trips")
    try:
        first = await layer.new_channel()
        await layer.group_add("g", first)
        sender = RedisGroupSender(layer)
        await sender.send("g", _message(1))
        assert sender.round_trips == 2  # learns the members, then sends
        for i in range(2, 12):
            await sender.send("g", _message(i))
        assert sender.round_trips == 12
        second = await layer.new_channel()  # another process joins
        await layer.group_add("g", second)
        await sender.send("g", _message(12))
        assert sender.round_trips == 14
        assert [(await layer.receive(first))["seq"] for _ in range(12)] == list(range(1, 13))
        assert (await layer.receive(second))["seq"] == 12
        await layer.group_discard("g", first)
        await sender.send("g", _message(13))
        assert (await layer.receive(second))["seq"] == 13
        assert sender.members["g"] == [second]
    finally:
        await layer.flush()
        await layer.close_pools()


async def test_a_group_that_keeps_changing_falls_back_to_the_layer(redis_url, monkeypatch):
    layer = _layer(redis_url, f"{REDIS_PREFIX}-fallback")
    try:
        channel = await layer.new_channel()
        await layer.group_add("g", channel)
        monkeypatch.setattr(redis_groups, "ATTEMPTS", 1)
        sender = RedisGroupSender(layer)
        await sender.send("g", _message(1))  # remembered nothing: one try, then group_send
        assert (await layer.receive(channel))["seq"] == 1
        assert "g" not in sender.members
    finally:
        await layer.flush()
        await layer.close_pools()


def test_only_a_plain_single_host_redis_channel_layer_takes_the_fast_path(redis_url):
    class Custom(RedisChannelLayer):
        pass

    assert isinstance(sender_for(_layer(redis_url, "x")), RedisGroupSender)
    assert sender_for(Custom(hosts=[redis_url])) is None
    assert sender_for(RedisChannelLayer(hosts=[redis_url, redis_url])) is None
    assert sender_for(RedisPubSubChannelLayer(hosts=[redis_url])) is None
    with override_settings(LIVEOPS={"FAST_REDIS": False}):
        assert sender_for(_layer(redis_url, "y")) is None
