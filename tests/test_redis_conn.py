"""The connections the publisher and the inbox hold apart from the client, on a real Redis."""

from __future__ import annotations

import asyncio
import itertools

import pytest
import redis.asyncio
from channels_redis.core import RedisChannelLayer
from redis.exceptions import ConnectionError as RedisConnectionError

from liveops_htmx.redis_conn import Line
from liveops_htmx.redis_groups import RedisGroupSender
from tests.conftest import REDIS_PREFIX

pytestmark = pytest.mark.redis

_runs = itertools.count()


def _layer(url):
    return RedisChannelLayer(hosts=[url], prefix=f"{REDIS_PREFIX}-conn-{next(_runs)}")


async def _calls(url):
    client = redis.asyncio.Redis.from_url(url)
    try:
        stats = await client.info("commandstats")
    finally:
        await client.aclose()
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


async def _sender_in_group(layer, n):
    """A channel in group "g" and a sender that has sent it message ``n`` (learning it)."""
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    sender = RedisGroupSender(layer)
    await sender.send("g", {"type": "t", "n": n})
    return channel, sender


async def test_a_command_after_a_redis_restart_is_sent_again_on_a_new_connection(own_redis):
    layer = _layer(own_redis.url)
    try:
        once, again = Line(layer), Line(layer)
        assert await once.call("PING") == await again.call("PING") == b"PONG"
        await asyncio.to_thread(own_redis.restart, 0.3)
        with pytest.raises((RedisConnectionError, OSError)):
            await once.call("PING", retry=False)
        assert await again.call("PING") == b"PONG"
        assert await once.call("PING", retry=False) == b"PONG"  # reopened by the next command
    finally:
        await layer.close_pools()


async def test_a_push_after_a_redis_restart_is_delivered(own_redis):
    layer = _layer(own_redis.url)
    try:
        channel, sender = await _sender_in_group(layer, 1)
        assert (await layer.receive(channel))["n"] == 1
        await asyncio.to_thread(own_redis.restart, 0.3)
        try:  # the restart lost the membership; the layer's first command after it fails
            await layer.group_add("g", channel)
        except RedisConnectionError:
            await layer.group_add("g", channel)
        await sender.send("g", {"type": "t", "n": 2})
        assert (await asyncio.wait_for(layer.receive(channel), 5))["n"] == 2
    finally:
        await layer.close_pools()


async def test_a_server_that_forgot_the_script_is_sent_it_once(own_redis):
    layer = _layer(own_redis.url)
    try:
        channel, sender = await _sender_in_group(layer, 0)
        client = redis.asyncio.Redis.from_url(own_redis.url)
        await client.script_flush()
        await client.aclose()
        before = await _calls(own_redis.url)
        for n in range(1, 4):
            await sender.send("g", {"type": "t", "n": n})
        after = await _calls(own_redis.url)
        made = {name: after[name] - before.get(name, 0) for name in after}
        assert (made["evalsha"], made["eval"]) == (3, 1)  # NOSCRIPT, EVAL, then EVALSHA
        assert [(await layer.receive(channel))["n"] for _ in range(4)] == [0, 1, 2, 3]
    finally:
        await layer.close_pools()


async def test_a_cancelled_command_leaves_nothing_for_the_next_one(redis_url):
    layer = _layer(redis_url)
    key = f"{layer.prefix}queue"
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        line = Line(layer)
        waiting = asyncio.create_task(line.call("BZPOPMIN", key, 5))
        await asyncio.sleep(0.1)
        waiting.cancel()
        await asyncio.wait([waiting])
        await client.zadd(key, {b"message": 1})
        # The cancelled pop's connection was closed: it can neither take the message
        # nor hand its answer to the next command.
        assert await line.call("PING") == b"PONG"
        assert await client.zcard(key) == 1
    finally:
        await client.delete(key)
        await client.aclose()
        await layer.close_pools()


async def test_a_line_gives_its_connection_back_to_the_pool(redis_url):
    layer = _layer(redis_url)
    try:
        pool = layer.connection(0).connection_pool
        in_use = len(pool._in_use_connections)  # redis-py's own count of lent connections
        for _ in range(5):
            line = Line(layer)
            await line.call("PING")
            assert len(pool._in_use_connections) == in_use + 1
            await line.close()
        assert len(pool._in_use_connections) == in_use
    finally:
        await layer.close_pools()
