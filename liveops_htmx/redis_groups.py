"""Group sends on channels_redis's ``RedisChannelLayer`` in one Redis round trip.

The layer's own ``group_send`` makes four: drop expired members, read the members,
drop expired messages, then a script that adds the message under the capacity rule.
For a worker that pushes every few milliseconds, those round trips were most of a
push's latency. Here one script does all four inside Redis for the members this
sender saw last time; if the group changed meanwhile it answers with the members
instead, and the send is made again for them. What lands in Redis is what
``group_send`` would have written: the same keys, scores, expiry and capacity rule,
and messages serialized by the layer itself. The script goes out on a connection
the sender holds per loop (:mod:`~.redis_conn`), not through the client.

Only the exact ``RedisChannelLayer`` class on a single host takes this path: a
subclass may change ``group_send``, and with several hosts a group and its members
live on different servers. Everything else, or ``LIVEOPS["FAST_REDIS"] = False``,
goes through the layer's ``group_send``.

Every message to a group of such a layer also names its group (:data:`GROUP_KEY`),
whichever way it is sent: a serving process's :mod:`~.redis_inbox` routes by it. On
the pub/sub layer, :mod:`~.redis_pubsub` publishes instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from channels.layers import BaseChannelLayer

from liveops_htmx import redis_pubsub
from liveops_htmx.conf import conf

if TYPE_CHECKING:  # redis-py is there only with the redis extra: imported when used
    from liveops_htmx.redis_conn import Line

logger = logging.getLogger("liveops_htmx.publisher")

# KEYS: the group, then one key per channel. ARGV: member cutoff, now, message expiry,
# message cutoff, member count n, the n members, one message and one capacity per key.
SEND_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[1])
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local n = tonumber(ARGV[5])
if #members ~= n then return members end
for i = 1, n do
  if members[i] ~= ARGV[5 + i] then return members end
end
local k = #KEYS - 1
local over = 0
for i = 1, k do
  local key = KEYS[i + 1]
  redis.call('ZREMRANGEBYSCORE', key, 0, ARGV[4])
  if redis.call('ZCOUNT', key, '-inf', '+inf') < tonumber(ARGV[5 + n + k + i]) then
    redis.call('ZADD', key, ARGV[2], ARGV[5 + n + i])
    redis.call('EXPIRE', key, ARGV[3])
  else
    over = over + 1
  end
end
return over
"""
SEND_SHA = hashlib.sha1(SEND_SCRIPT.encode()).hexdigest()

#: Tries with the members a changed group answered with, before the layer's own send.
ATTEMPTS = 3
#: What the sender and the inbox use of the layer; a channels_redis without them gets
#: the layer's own send and receive.
LAYER_API = (
    "connection",
    "_group_key",
    "_map_channel_keys_to_connection",
    "group_expiry",
    "expiry",
    "prefix",
    "deserialize",
)
#: The key of a message that names the group it was sent to.
GROUP_KEY = "liveops_group"
#: Groups whose members one sender remembers (least recently sent forgotten first).
GROUPS_KEPT = 4096


class RedisGroupSender:
    """Sends to the groups of one ``RedisChannelLayer``, remembering their members."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.members: OrderedDict[str, list[str]] = OrderedDict()
        self.round_trips = 0
        self._lines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Line]
        self._lines = weakref.WeakKeyDictionary()

    def _line(self) -> Line:
        loop = asyncio.get_running_loop()
        line = self._lines.get(loop)
        if line is None:
            from liveops_htmx.redis_conn import Line

            line = self._lines[loop] = Line(self.layer)
        return line

    async def send(self, group: str, message: dict[str, Any]) -> None:
        from redis.exceptions import NoScriptError

        layer = self.layer
        line = self._line()
        group_key = layer._group_key(group)
        members = self.members.get(group, [])
        for _ in range(ATTEMPTS):
            _, messages, capacities = layer._map_channel_keys_to_connection(members, message)
            keys = list(messages)
            now = time.time()
            args = [
                int(now) - layer.group_expiry,
                now,
                layer.expiry,
                int(now) - int(layer.expiry),
                len(members),
                *members,
                *(messages[key] for key in keys),
                *(capacities[key] for key in keys),
            ]
            self.round_trips += 1
            call = (1 + len(keys), group_key, *keys, *args)
            try:
                reply = await line.call("EVALSHA", SEND_SHA, *call)
            except NoScriptError:  # a new or flushed server: EVAL caches the script
                reply = await line.call("EVAL", SEND_SCRIPT, *call)
            if isinstance(reply, int):
                self._remember(group, members)
                if reply:
                    logger.info("%s of %s channels over capacity in %s", reply, len(keys), group)
                return
            members = [m.decode() if isinstance(m, bytes) else str(m) for m in reply]
        self.members.pop(group, None)
        await layer.group_send(group, message)

    def _remember(self, group: str, members: list[str]) -> None:
        self.members[group] = members
        self.members.move_to_end(group)
        while len(self.members) > GROUPS_KEPT:
            self.members.popitem(last=False)


_plain: weakref.WeakKeyDictionary[BaseChannelLayer, bool] = weakref.WeakKeyDictionary()
#: The attribute a layer keeps its sender in (a weak mapping would never let go of a
#: layer: its sender refers to it).
SENDER_ATTR = "_liveops_group_sender"


def plain_redis(layer: BaseChannelLayer) -> bool:
    """True for the exact ``RedisChannelLayer`` on one host, the one the shortcuts know."""
    known = _plain.get(layer)
    if known is None:
        try:
            from channels_redis.core import RedisChannelLayer
        except ImportError:  # pragma: no cover - the redis extra is not installed
            known = False
        else:
            known = (
                type(layer) is RedisChannelLayer
                and getattr(layer, "ring_size", 0) == 1
                and all(hasattr(layer, name) for name in LAYER_API)
            )
        _plain[layer] = known
    return known


def sender_for(layer: BaseChannelLayer) -> RedisGroupSender | None:
    """The one-round-trip sender for ``layer``, or None where its own send must be used."""
    if not conf.FAST_REDIS or not plain_redis(layer):
        return None
    sender: RedisGroupSender | None = getattr(layer, SENDER_ATTR, None)
    if sender is None:
        sender = RedisGroupSender(layer)
        setattr(layer, SENDER_ATTR, sender)
    return sender


async def group_send(layer: BaseChannelLayer, group: str, message: dict[str, Any]) -> None:
    """``layer.group_send(group, message)``, in one round trip where the layer allows it."""
    if not plain_redis(layer):
        inner = redis_pubsub.loop_layer(layer)
        if inner is not None:
            await redis_pubsub.publish(layer, inner, group, message)
        else:
            await layer.group_send(group, message)
        return
    message = {**message, GROUP_KEY: group}
    sender = sender_for(layer)
    if sender is None:
        await layer.group_send(group, message)
    else:
        await sender.send(group, message)
