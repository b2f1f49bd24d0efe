"""One channel-layer subscription per operation per serving process, fanned out locally.

The first viewer of an operation in a process joins the operation's group with a
channel of the hub's own (on a plain ``RedisChannelLayer``, the loop's shared
:mod:`~.redis_inbox` channel; on the pub/sub layer, the loop's :mod:`~.redis_pubsub`
connection) and confirms the subscription with a round trip (the
Redis pub/sub layer may return from ``group_add`` before Redis listens). Later
viewers only register with the hub: a connect storm costs the layer nothing, a push
is received once per process and offered to each viewer's :class:`~.outbox.Outbox`
without a thread hop, and no viewer ever receives another viewer's snapshot.

The hub also reads the database when it has heard nothing for a while, when the
layer failed, or when a viewer saw a gap, and offers that snapshot to every viewer
that is behind it: whatever the layer lost is healed from the row.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from channels.db import database_sync_to_async
from channels.layers import BaseChannelLayer, InMemoryChannelLayer
from django.db import close_old_connections

from liveops_htmx import redis_groups, redis_inbox, redis_pubsub
from liveops_htmx.conf import conf
from liveops_htmx.outbox import Offer, Outbox
from liveops_htmx.publisher import get_publisher
from liveops_htmx.security import CloseCode

logger = logging.getLogger("liveops_htmx.hub")
T = TypeVar("T")

UPDATE = "liveop.update"
ROW = "liveop.row"
PROBE = "liveop.probe"
_REJOIN_EVERY = 3600.0  # group memberships expire after a day on both channels layers
_SUBSCRIBE_RETRIES = (0.2, 0.5, None)  # pauses between tries; None: give up
#: Seconds a round of sends may take before the hub spaces rounds out (see Hub rounds).
ROUND_FREE = 0.005
#: The pause after a long round, as a share of that round's length.
ROUND_PAUSE = 0.5
#: Viewers a round sends to per loop turn; between turns the hub reads new pushes.
ROUND_SLICE = 100


class Socket(Protocol):
    async def send_frame(self, text: str) -> None: ...

    async def end(self, code: int, pk: str | None = None) -> None: ...


class SharedInbox(Protocol):
    """What the hubs of one loop receive through (:mod:`~.redis_inbox`, :mod:`~.redis_pubsub`)."""

    channel: str

    async def join(self, group: str) -> None: ...

    async def leave(self, group: str, hub: Any) -> None: ...

    async def renew(self, group: str) -> None: ...

    def attach(self, group: str, hub: Any) -> None: ...

    def detach(self, group: str, hub: Any) -> None: ...


def _inbox_for(layer: BaseChannelLayer) -> SharedInbox | None:
    return redis_inbox.inbox_for(layer) or redis_pubsub.inbox_for(layer)


class Subject(Protocol):
    """What a hub follows: a group, and how to read its snapshot from the database."""

    @property
    def group(self) -> str: ...

    @property
    def pk(self) -> str | None: ...  # named in a refusal notice when the subject disappears

    def load(self) -> Any: ...  # a snapshot, or None if the subject is gone (sync: DB)


class Viewer:
    """One socket's end of a hub: its outbox and the task that drains it."""

    def __init__(self, socket: Socket, outbox: Outbox | None = None) -> None:
        self.socket = socket
        self.outbox = outbox if outbox is not None else Outbox()
        self.hub: Hub | None = None
        self.admitted = False  # True once the permission check passed
        self.done = False
        self._task: asyncio.Task[None] | None = None

    def offer(self, msg: dict[str, Any]) -> None:
        """Queue a push; it waits (merging) until the hub's round kicks this viewer."""
        if self.done:
            return
        if self.outbox.offer(msg) is Offer.GAP and self.hub is not None and self.admitted:
            self.hub.request_resync()

    def offer_snapshot(self, snap: Any) -> None:
        if self.done:
            return
        self.admitted = True
        if Offer.GAP in self.outbox.offer_snapshot(snap) and self.hub is not None:
            self.hub.request_resync()
        self.kick()

    def kick(self) -> None:
        """Start sending what waits, unless a send is already under way."""
        if self._task is None and self.outbox.ready():
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while (frame := self.outbox.pop()) is not None:
                await self.socket.send_frame(frame.text())
                if frame.terminal:
                    self.done = True
                    await self.socket.end(CloseCode.NORMAL)
                    break
        except Exception:  # the socket went away under us
            self.done = True
        finally:
            self._task = None
        if self.done:
            leave(self)

    async def end(self, code: int, pk: str | None) -> None:
        self.done = True
        leave(self)
        await self.socket.end(code, pk)


class Hub:
    def __init__(self, layer: BaseChannelLayer, subject: Subject) -> None:
        self.layer = layer
        self.subject = subject
        self.group = subject.group
        self.viewers: set[Viewer] = set()
        self.loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[None] = self.loop.create_future()
        self.channel: str | None = None
        self.heard_at = self.loop.time()
        self._probes: dict[str, asyncio.Future[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._resync: asyncio.Task[None] | None = None
        self._resync_again = False
        self._stopped = False
        self._next_round = 0.0  # loop time before which pushes wait for a round
        self._reads: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []
        self._reader: asyncio.Task[None] | None = None
        self._round_timer: asyncio.TimerHandle | None = None
        self._round: deque[Viewer] | None = None  # viewers a round under way has yet to serve
        self._round_began = 0.0
        self._final = False  # a terminal push is out: the rest goes in one turn
        self._inbox: SharedInbox | None = None
        self._rejoining: asyncio.Task[None] | None = None
        self._tasks.append(self.loop.create_task(self._start()))

    # -- subscription ------------------------------------------------------------

    async def _start(self) -> None:
        # A connection that died with its server fails its first command after the
        # restart and reconnects on the next one: try a few times before giving up.
        inbox = _inbox_for(self.layer)
        for attempt, pause in enumerate(_SUBSCRIBE_RETRIES):
            try:
                if inbox is not None:
                    self.channel = inbox.channel
                    await inbox.join(self.group)
                else:
                    if self.channel is None:
                        self.channel = await self.layer.new_channel()
                    await self.layer.group_add(self.group, self.channel)
                break
            except Exception as exc:
                logger.warning(
                    "Subscribing to %s failed (try %d): %r", self.group, attempt + 1, exc
                )
                if pause is None:
                    self.ready.set_exception(exc)
                    self.stop()
                    return
                await asyncio.sleep(pause)
        if isinstance(self.layer, InMemoryChannelLayer):
            get_publisher().bind_loop(self.layer, self.loop)
        if inbox is not None:
            self._inbox = inbox
            inbox.attach(self.group, self)
        else:
            self._tasks.append(self.loop.create_task(self._receive()))
        await self._confirm()
        self.ready.set_result(None)
        self._tasks.append(self.loop.create_task(self._watch()))

    async def _confirm(self) -> None:
        """Wait until a probe sent to the group comes back (or say it did not)."""
        nonce = uuid.uuid4().hex
        heard = self._probes[nonce] = self.loop.create_future()
        try:
            await redis_groups.group_send(self.layer, self.group, {"type": PROBE, "nonce": nonce})
            await asyncio.wait_for(heard, conf.PUBLISH_TIMEOUT)
        except Exception as exc:  # the watchdog heals what an unconfirmed subscription misses
            logger.warning("Subscription to %s not confirmed: %r", self.group, exc)
        finally:
            self._probes.pop(nonce, None)

    async def _receive(self) -> None:
        assert self.channel is not None
        backoff = 0.1
        while True:
            try:
                msg = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if "Timeout" in type(exc).__name__:
                    # channels_redis blocks 5 s in BZPOPMIN, as long as redis-py 8's
                    # default socket timeout: an idle receive times out. Nothing was
                    # lost that the watchdog would not heal; listen again at once.
                    logger.debug("Receiving for %s timed out; listening again", self.group)
                    continue
                logger.warning("Receiving for %s failed, retrying: %r", self.group, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                await self._rejoin()
                continue
            backoff = 0.1
            self.dispatch(msg)

    def recover(self) -> None:
        """Rejoin the group and reread the row: the layer failed, pushes may be lost."""
        if not self._stopped and self._rejoining is None:
            self._rejoining = self.loop.create_task(self._rejoin())

    async def _renew(self) -> None:
        """Add the hub's channel to its group again (memberships expire, Redis restarts)."""
        assert self.channel is not None
        if self._inbox is not None:
            await self._inbox.renew(self.group)
        else:
            await self.layer.group_add(self.group, self.channel)

    async def _rejoin(self) -> None:
        try:
            await self._renew()
        except Exception as exc:  # the next failed receive tries again
            logger.warning("Rejoining %s failed: %r", self.group, exc)
        else:
            self.request_resync()
        finally:
            self._rejoining = None

    def dispatch(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == PROBE:
            heard = self._probes.get(msg.get("nonce", ""))
            if heard is not None and not heard.done():
                heard.set_result(None)
            return
        if kind not in (UPDATE, ROW):
            return
        self.heard_at = now = self.loop.time()
        self._final = self._final or bool(msg.get("terminal"))
        for viewer in list(self.viewers):
            viewer.offer(msg)
        if self._round is not None:  # viewers the round has yet to serve take it along
            return
        if now < self._next_round:  # the last round was long: let pushes merge meanwhile
            if self._round_timer is None:
                self._round_timer = self.loop.call_at(self._next_round, self._open_round)
            return
        self._open_round()

    # -- rounds ----------------------------------------------------------------------
    # A push to N viewers makes N sends that asyncio runs back to back before it
    # reads the next push. When a round takes longer than pushes are apart, each
    # update would still go to everyone in turn and the lag would grow without
    # bound (1,000 viewers, 20 updates a second: 1.3 s behind after 5 s, measured).
    # So a hub whose last round was long pauses for half as long again: sending
    # takes at most two thirds of the loop, and the pushes that arrive meanwhile
    # merge into the viewers' waiting frames (latest wins per part; log appends and
    # milestones are kept). Small rounds never wait. (A pause as long as the round
    # was also tried: p99 staleness 150-165 ms against 130-160 ms at half.)
    # A round sends in slices of ROUND_SLICE viewers, one loop turn each, and the hub
    # reads pushes between slices: a push that arrives mid-round merges into the
    # frames of the viewers not yet served, who get it in this round, not the next.

    def _open_round(self) -> None:
        self._round_timer = None
        if self._stopped:
            return
        self._round = deque(self.viewers)
        self._round_began = self.loop.time()
        self._send_slice()

    def _send_slice(self) -> None:
        round_ = self._round
        if round_ is None or self._stopped:
            self._round = None
            return
        # Slices would let the closing handshakes of viewers that have the result
        # delay the result for the others: the result goes out in one turn.
        for _ in range(len(round_) if self._final else min(ROUND_SLICE, len(round_))):
            round_.popleft().kick()
        # Callbacks run in order: this one runs once every kicked send took its turn.
        self.loop.call_soon(self._send_slice if round_ else self._round_done)

    def _round_done(self) -> None:
        self._round = None
        now = self.loop.time()
        took = now - self._round_began
        self._next_round = now + took * ROUND_PAUSE if took >= ROUND_FREE else 0.0
        # Viewers served before a push arrived mid-round still hold it: next round.
        if self._round_timer is None and any(v.outbox.ready() for v in self.viewers):
            self._round_timer = self.loop.call_at(self._next_round, self._open_round)

    async def _watch(self) -> None:
        rejoined = self.loop.time()
        while True:
            interval = conf.WATCHDOG_INTERVAL
            await asyncio.sleep(interval)
            if self.loop.time() - self.heard_at >= interval:
                self.request_resync()
            if self.loop.time() - rejoined >= _REJOIN_EVERY and self.channel is not None:
                rejoined = self.loop.time()
                try:
                    await self._renew()
                except Exception as exc:
                    logger.warning("Renewing %s failed: %r", self.group, exc)

    # -- reading for joining viewers ---------------------------------------------

    async def read(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (sync, database) in a batch that starts after this call.

        Viewers joining together share one thread hop and one database connection
        (and, through :func:`snapshots.shared_reads`, one read of the row): in a
        connect storm that was a third of the server's time. A batch under way
        when a viewer arrives is not joined: its read began before the viewer
        joined the hub, and a push between the two would fall through the gap.
        """
        future: asyncio.Future[T] = self.loop.create_future()
        self._reads.append((fn, future))
        if self._reader is None:
            self._reader = self.loop.create_task(self._read_batches())
        return await future

    async def _read_batches(self) -> None:
        try:
            while self._reads:
                batch, self._reads = self._reads, []
                outcomes = await database_sync_to_async(_run_batch)([fn for fn, _ in batch])
                for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():  # its viewer went away meanwhile
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        except BaseException as exc:  # cancelled with the hub, or the thread pool failed
            for _, future in self._reads:
                if not future.done():
                    future.set_exception(RuntimeError(f"reading failed: {exc!r}"))
            raise
        finally:
            self._reader = None

    # -- healing from the database ----------------------------------------------

    def request_resync(self) -> None:
        """Read the row once for every viewer that is behind (coalesced, rate-limited)."""
        if self._stopped:
            return
        if self._resync is not None:
            self._resync_again = True
            return
        self._resync = self.loop.create_task(self._do_resync())

    async def _do_resync(self) -> None:
        try:
            while True:
                self._resync_again = False
                snap = await database_sync_to_async(self.subject.load)()
                self.heard_at = self.loop.time()
                admitted = [v for v in self.viewers if v.admitted]
                for viewer in admitted:
                    if snap is None:
                        await viewer.end(CloseCode.NOT_FOUND, self.subject.pk)
                    else:
                        viewer.offer_snapshot(snap)
                if not self._resync_again or snap is None:
                    break
                await asyncio.sleep(0.1)
        except Exception as exc:
            logger.warning("Resync of %s failed: %r", self.group, exc)
        finally:
            self._resync = None

    # -- teardown ------------------------------------------------------------------

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        hubs = _registry.get(self.loop, {})
        if hubs.get(self.key) is self:
            del hubs[self.key]
        for task in self._tasks:
            task.cancel()
        if self._round_timer is not None:
            self._round_timer.cancel()
        if self._reader is not None:
            self._reader.cancel()
        if self._resync is not None:
            self._resync.cancel()
        if self._rejoining is not None:
            self._rejoining.cancel()
        if self._inbox is not None:
            self._inbox.detach(self.group, self)
        self.loop.create_task(self._unsubscribe())

    async def _unsubscribe(self) -> None:
        same_layer = [k for k in _registry.get(self.loop, {}) if k[0] == id(self.layer)]
        if isinstance(self.layer, InMemoryChannelLayer) and not same_layer:
            get_publisher().unbind_loop(self.layer, self.loop)
        if self.channel is not None:
            try:
                if self._inbox is not None:
                    await self._inbox.leave(self.group, self)
                else:
                    await self.layer.group_discard(self.group, self.channel)
            except Exception as exc:
                logger.warning("Leaving %s failed: %r", self.group, exc)

    @property
    def key(self) -> tuple[int, str]:
        return (id(self.layer), self.group)


_registry: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[int, str], Hub]]
_registry = weakref.WeakKeyDictionary()


async def join(layer: BaseChannelLayer, subject: Subject, viewer: Viewer) -> Hub:
    """Attach ``viewer`` to the subject's hub, subscribing first if this process is new to it."""
    loop = asyncio.get_running_loop()
    hubs = _registry.setdefault(loop, {})
    key = (id(layer), subject.group)
    hub = hubs.get(key)
    if hub is None:
        hub = hubs[key] = Hub(layer, subject)
    hub.viewers.add(viewer)
    viewer.hub = hub
    try:
        await asyncio.shield(hub.ready)
    except BaseException:
        leave(viewer)
        raise
    return hub


def _run_batch(calls: list[Callable[[], Any]]) -> list[tuple[bool, Any]]:
    from liveops_htmx.snapshots import shared_reads

    outcomes: list[tuple[bool, Any]] = []
    with shared_reads():
        for fn in calls:
            try:
                outcomes.append((True, fn()))
            except Exception as exc:
                outcomes.append((False, exc))
    # Close here as well: the wrapper's own close missed this connection when many
    # viewers joined at once (seen on PostgreSQL: the test database stayed in use).
    close_old_connections()
    return outcomes


def leave(viewer: Viewer) -> None:
    hub, viewer.hub = viewer.hub, None
    if hub is None:
        return
    hub.viewers.discard(viewer)
    if not hub.viewers:
        hub.stop()


def hub_count() -> int:
    """Hubs alive on the running loop (for tests and benchmarks)."""
    return len(_registry.get(asyncio.get_running_loop(), {}))
