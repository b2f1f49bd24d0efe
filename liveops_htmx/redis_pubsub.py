"""Sends and receives on channels_redis's ``RedisPubSubChannelLayer`` without its relay.

The layer publishes through redis-py's client (a pool checkout and a lock shared with
its subscriptions per message), and receives in a task of its own that polls
``get_message`` and puts each message on a queue, from which a second task, the
hub's receive, takes it: two task hops on the way to the viewers. Here a publisher
sends ``PUBLISH`` on a connection it holds (:mod:`~.redis_conn`), and the hubs of one
loop share a subscribing connection whose reading task hands each message straight
to the hub of its group. Names on the wire are the layer's own, so either side
works with the layer's own other side.

Only the exact ``RedisPubSubChannelLayer`` on a single host takes this path;
``LIVEOPS["FAST_REDIS"] = False`` turns it off.

The subscribing connection sends its commands in the order they were asked for, so
a hub that joins a group right after the last one left it is subscribed after the
unsubscribe, never before. When the connection fails, the reading task opens a new
one, subscribes again to every group, and asks every hub to reread its row.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.layers import BaseChannelLayer

from liveops_htmx._compat import within
from liveops_htmx.conf import conf
from liveops_htmx.redis_inbox import GRACE, WAIT, LoopInbox, Receiver, shared

logger = logging.getLogger("liveops_htmx.hub")

#: The attribute a loop's layer keeps its publishing connection in.
LINE_ATTR = "_liveops_line"


def loop_layer(layer: BaseChannelLayer) -> Any | None:
    """The running loop's part of a single-host pub/sub ``layer``; None for others."""
    if not conf.FAST_REDIS:
        return None
    try:
        from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer
    except ImportError:  # pragma: no cover - the redis extra is not installed
        return None
    if type(layer) is not RedisPubSubChannelLayer:
        return None
    inner = layer._get_layer()
    shards: Any = getattr(inner, "_shards", ())
    if type(inner) is not RedisPubSubLoopLayer or len(shards) != 1:
        return None
    if not hasattr(shards[0], "_ensure_redis"):
        return None
    return inner


def _client(inner: Any) -> Any:
    """The redis-py client of the layer's one shard on this loop (made on first use)."""
    shard = inner._shards[0]
    shard._ensure_redis()
    return shard._redis


async def publish(layer: BaseChannelLayer, inner: Any, group: str, message: dict[str, Any]) -> None:
    """``layer.group_send(group, message)`` on a connection held for the loop."""
    line = getattr(inner, LINE_ATTR, None)
    if line is None:
        from liveops_htmx.redis_conn import Line

        line = Line(inner, client=lambda: _client(inner))
        setattr(inner, LINE_ATTR, line)
    name = inner._get_group_channel_name(group)
    await line.call("PUBLISH", name, layer.serialize(message))


class PubSubInbox(LoopInbox):
    """The subscribing connection of one loop's hubs on one layer, and its reading task."""

    #: What the hub records as its channel: a group here is a Redis channel of its own.
    channel = "liveops.pubsub"

    def __init__(
        self, layer: BaseChannelLayer, inner: Any, loop: asyncio.AbstractEventLoop
    ) -> None:
        super().__init__(layer, loop)
        self.inner = inner
        self._names_start = len(inner._get_group_channel_name(""))
        self._joining: dict[str, int] = {}
        self._confirms: dict[str, list[asyncio.Future[None]]] = {}
        self._conn: Any = None
        self._up = asyncio.Event()
        self._lock = asyncio.Lock()

    async def join(self, group: str) -> None:
        """Subscribe to ``group`` and wait until Redis says it is subscribed."""
        name = self.inner._get_group_channel_name(group)
        self._joining[group] = self._joining.get(group, 0) + 1
        confirmed = self.loop.create_future()
        self._confirms.setdefault(name, []).append(confirmed)
        failed = True
        try:
            self._start()
            await self._send("SUBSCRIBE", name)
            # A connection that fails meanwhile subscribes again, and confirms, on the next.
            await within(asyncio.shield(confirmed), conf.PUBLISH_TIMEOUT)
            failed = False
        finally:
            waiting = self._confirms.get(name, [])
            if confirmed in waiting:
                waiting.remove(confirmed)
            if not waiting:
                self._confirms.pop(name, None)
            self._joining[group] -= 1
            if not self._joining[group]:
                del self._joining[group]
            if failed:  # no hub will attach: nothing may be left reading for it
                self._stop_if_unused()

    async def leave(self, group: str, hub: Receiver) -> None:
        """Unsubscribe from ``group``, unless a newer hub has or is getting it."""
        if self._joining.get(group) or self.hubs.get(group, hub) is not hub:
            return
        if self._task is None or not self._up.is_set():
            return  # no connection: nothing to take back (a new one subscribes for hubs only)
        await self._send("UNSUBSCRIBE", self.inner._get_group_channel_name(group))

    async def renew(self, group: str) -> None:
        """Nothing to do: a subscription lasts as long as its connection."""

    def attach(self, group: str, hub: Receiver) -> None:
        self.hubs[group] = hub
        self._register()
        self._start()

    def detach(self, group: str, hub: Receiver) -> None:
        if self.hubs.get(group) is hub:
            del self.hubs[group]
        self._stop_if_unused()

    # -- the connection ------------------------------------------------------------

    def _start(self) -> None:
        if self._task is None:
            self._task = self.loop.create_task(self._read())

    def _stop_if_unused(self) -> None:
        if not self.hubs and not self._joining:
            self._retire()

    async def _send(self, *args: Any) -> None:
        async with self._lock:  # first asked, first sent
            await within(self._up.wait(), conf.PUBLISH_TIMEOUT)
            conn = self._conn
            await conn.send_packed_command(conn.pack_command(*args), check_health=False)

    async def _read(self) -> None:
        from liveops_htmx.redis_conn import give_back, hold

        me = asyncio.current_task()
        backoff = 0.1
        fresh = True
        while self._task is me:
            client = conn = None
            try:
                client = _client(self.inner)
                conn = await within(hold(client), WAIT + GRACE)
                groups = set(self.hubs) | set(self._joining)
                names = [self.inner._get_group_channel_name(group) for group in groups]
                if names:
                    await conn.send_packed_command(
                        conn.pack_command("SUBSCRIBE", *names), check_health=False
                    )
                self._conn = conn
                self._up.set()
                if not fresh:  # pushes sent while no connection listened are lost
                    for hub in list(self.hubs.values()):
                        hub.request_resync()
                fresh = False
                backoff = 0.1
                await self._listen(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the connection failed, or Redis did not answer
                logger.warning("Subscribing connection failed, reconnecting: %r", exc)
                fresh = False
                self._up.clear()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                self._up.clear()
                self._conn = None
                if conn is not None:
                    await give_back(client, conn)

    async def _listen(self, conn: Any) -> None:
        pinged = False
        while True:
            # push_request: on RESP3 (redis-py 8's default) messages are pushes, which
            # redis-py would otherwise hand to a handler of its own and not return.
            reply = await conn.read_response(timeout=WAIT, push_request=True)
            if reply is None:  # quiet for WAIT seconds: is Redis still there?
                if pinged:
                    raise TimeoutError(f"no answer from Redis in {2 * WAIT} s")
                pinged = True
                async with self._lock:
                    await conn.send_packed_command(conn.pack_command("PING"), check_health=False)
                continue
            pinged = False
            self._handle(reply)

    def _handle(self, reply: Any) -> None:
        if not isinstance(reply, list) or len(reply) < 3:
            return  # an answer to our PING
        kind, name = reply[0], reply[1]
        if isinstance(name, bytes):
            name = name.decode()
        if kind in (b"message", "message"):
            hub = self.hubs.get(name[self._names_start :])
            if hub is None:  # a push that crossed its hub's leaving
                return
            try:
                msg = self.layer.deserialize(reply[2])
            except Exception as exc:  # not ours to read (another secret)
                logger.warning("Unreadable message on %s: %r", name, exc)
                return
            hub.dispatch(msg)
        elif kind in (b"subscribe", "subscribe"):
            for confirmed in self._confirms.get(name, []):
                if not confirmed.done():
                    confirmed.set_result(None)


def inbox_for(layer: BaseChannelLayer) -> PubSubInbox | None:
    """The running loop's inbox for ``layer``; None where the layer's own receive is used."""
    inner = loop_layer(layer)
    if inner is None:
        return None
    return shared(layer, lambda loop: PubSubInbox(layer, inner, loop))
