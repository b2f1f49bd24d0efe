"""A serving process's subscription to one group: join, confirm, keep, and heal.

Joining adds the loop's inbox channel to the group and confirms it with a probe sent
to the group (the Redis pub/sub layer may return from ``group_add`` before Redis
listens). A layer that refuses the join is tried again in the background, with a
growing pause; meanwhile the row is reread every few seconds, so viewers stay
current from the database and a layer that stays down costs no reconnect storm.

The watchdog rereads the row when nothing was heard for ``WATCHDOG_INTERVAL`` and
renews the membership every hour (memberships expire on the Redis layers). An
operation that has been pushing steadily is checked sooner: once it is silent for
``SILENCE_FACTOR`` times its usual gap (at least ``SILENCE_MIN``), the row is reread
once, and if it moved on without a push reaching this process, the membership is
renewed. A restarted Redis server forgets its groups, and a server that receives
from another shard has no other way to notice.

Stopping leaves the group whenever a join was sent, joined or not, and a leave the
layer fails is tried again for a few minutes: a membership left in Redis brings the
group's pushes to this process until it expires, a day later.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from channels.layers import BaseChannelLayer

from liveops_htmx._compat import within
from liveops_htmx.conf import conf
from liveops_htmx.rendering import protocol
from liveops_htmx.serverside.inbox import inbox_for

logger = logging.getLogger("liveops_htmx.serverside")

#: Seconds between renewals of a membership (both Redis layers expire them after a day).
REJOIN_EVERY = 3600.0
#: A steady operation silent for this many times its usual gap between pushes is checked.
SILENCE_FACTOR = 10.0
#: ...but never before this many seconds of silence.
SILENCE_MIN = 2.0
#: Weight of the newest gap in the usual gap (an exponential moving average).
GAP_WEIGHT = 0.25
#: Seconds the loop may wake the watchdog late before the silence is counted afresh.
STALL = 0.25
#: Pauses between the first tries to join; after them the subscription runs degraded.
FIRST_TRIES = (0.2, 0.5)
#: Longest pause between two tries to join a layer that keeps refusing.
RETRY_MAX = 30.0
#: Seconds between rereads of the row while the layer is down.
POLL_WHILE_DOWN = 2.0
#: Pauses before each new try of a leave the layer failed (about 4 minutes in all):
#: a membership left in Redis would bring the group's pushes to this process for a day.
LEAVE_RETRIES = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0, 30.0, 30.0, 30.0)

#: Leaves under way, kept from the garbage collector (their subscription is gone).
_leaving: set[asyncio.Task[None]] = set()


class Subscription:
    """One group, as this loop follows it: hands its messages to ``deliver``."""

    def __init__(
        self,
        layer: BaseChannelLayer,
        group: str,
        deliver: Callable[[dict[str, Any]], None],
        heal: Callable[[], None],
    ) -> None:
        self.layer = layer
        self.group = group
        self.deliver = deliver
        self._heal = heal
        self.loop = asyncio.get_running_loop()
        self.inbox = inbox_for(layer, group)
        self.joined = False
        #: A join was sent: the layer may hold the membership, joined or not (a rejoin
        #: that failed leaves the first one in Redis), so stopping leaves the group.
        self.added = False
        self.heard_at = self.loop.time()
        self.last_seq = -1  # the newest seq pushed to this process
        self._silent = False  # the watchdog asked for a reread after a silence
        self._pushed_at: float | None = None  # when the last update was heard
        self._gap: float | None = None  # the usual gap between updates heard (None: unknown)
        self._wake = asyncio.Event()  # a cadence was learnt: the watchdog looks at it
        #: Done once the first tries are over, joined or not: viewers need not wait longer.
        self.ready: asyncio.Future[None] = self.loop.create_future()
        self._probes: dict[str, asyncio.Future[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._retrying: asyncio.Task[None] | None = None
        self._stopped = False
        self._spawn(self._start())
        self._spawn(self._watch())

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- joining -------------------------------------------------------------------

    async def _join(self) -> None:
        # A layer whose server does not answer must not keep viewers from their snapshot.
        self.added = True
        await within(self.inbox.join(self.group), conf.PUBLISH_TIMEOUT)
        self.inbox.attach(self.group, self)
        self.joined = True
        await self._confirm()

    async def _start(self) -> None:
        # A layer that does not answer (each try waits PUBLISH_TIMEOUT) holds viewers
        # for one try at most; a join that succeeds after they were let in rereads the
        # row for them, as they may have missed a push meanwhile.
        release = self.loop.call_later(conf.PUBLISH_TIMEOUT, self._release)
        try:
            for attempt, pause in enumerate((*FIRST_TRIES, None)):
                try:
                    await self._join()
                    if self.ready.done():
                        self.heal()
                    return
                except Exception as exc:
                    logger.warning("Joining %s failed (try %d): %r", self.group, attempt + 1, exc)
                    if pause is not None:
                        await asyncio.sleep(pause)
            self._retry()
        finally:
            release.cancel()
            self._release()

    def _release(self) -> None:
        if not self.ready.done():
            self.ready.set_result(None)

    def _retry(self) -> None:
        """Keep trying to join, ever less often; viewers are served from the row meanwhile."""
        self.joined = False
        if self._retrying is None and not self._stopped:
            self._retrying = self._spawn(self._keep_trying())

    async def _keep_trying(self) -> None:
        pause = 1.0
        try:
            while True:
                await asyncio.sleep(pause)
                try:
                    await self._join()
                except Exception as exc:
                    pause = min(pause * 2, RETRY_MAX)
                    logger.warning(
                        "Joining %s failed, next try in %.0f s: %r", self.group, pause, exc
                    )
                    continue
                logger.info("Joined %s again", self.group)
                self._heal()  # whatever was pushed while the layer was down
                return
        finally:
            self._retrying = None

    async def _confirm(self) -> None:
        """Wait until a probe sent to the group comes back (or say it did not)."""
        nonce = uuid.uuid4().hex
        heard = self._probes[nonce] = self.loop.create_future()
        try:
            await self.layer.group_send(self.group, protocol.probe_message(self.group, nonce))
            await asyncio.wait_for(heard, conf.PUBLISH_TIMEOUT)
        except Exception as exc:  # the watchdog heals what an unconfirmed subscription misses
            logger.warning("Subscription to %s not confirmed: %r", self.group, exc)
        finally:
            self._probes.pop(nonce, None)

    # -- what the inbox calls ------------------------------------------------------------

    def dispatch(self, msg: dict[str, Any]) -> None:
        if msg.get("type") == protocol.PROBE:
            heard = self._probes.get(msg.get("nonce", ""))
            if heard is not None and not heard.done():
                heard.set_result(None)
            return
        now = self.heard_at = self.loop.time()
        if msg.get("type") == protocol.UPDATE:
            self.last_seq = max(self.last_seq, int(msg.get("seq", 0)))
            self._learn_cadence(now, terminal=bool(msg.get("terminal")))
        self.deliver(msg)

    def _learn_cadence(self, now: float, terminal: bool) -> None:
        if terminal:  # nothing more is coming: a silence now says nothing
            self._pushed_at = self._gap = None
            return
        if self._pushed_at is not None:
            gap = now - self._pushed_at
            known = self._gap is not None
            self._gap = gap if self._gap is None else self._gap + GAP_WEIGHT * (gap - self._gap)
            if not known:
                self._wake.set()
        self._pushed_at = now

    def checked(self, snapshot: Any) -> None:
        """A reread after a silence found the row past every push heard: join again.

        The layer lost the membership (a Redis server restarted, and its groups with
        it): the reread healed the page, and a new membership brings pushes back.
        """
        seq = getattr(snapshot, "seq", None)
        if self._silent and seq is not None and seq > self.last_seq and self.joined:
            logger.info("%s moved on without a push reaching us: joining again", self.group)
            self.recover()
        self._silent = False

    def heal(self) -> None:
        self.heard_at = self.loop.time()
        self._heal()

    def recover(self) -> None:
        """The layer failed: join again, then reread (pushes may have been lost)."""
        if not self._stopped and self._retrying is None:
            self._retrying = self._spawn(self._rejoin())

    async def _rejoin(self) -> None:
        try:
            await self.inbox.renew(self.group)
        except Exception as exc:
            logger.warning("Rejoining %s failed: %r", self.group, exc)
            self._retrying = None
            self._retry()
            return
        self._retrying = None
        self.heal()

    # -- keeping it -------------------------------------------------------------------

    def _reread_after_silence(self) -> None:
        """Reread the row; if joined, :meth:`checked` then asks whether pushes were lost."""
        self._silent = self.joined
        self.heal()

    def _unusual_silence_at(self) -> float | None:
        """When silence would be unusual for this operation (None: no cadence known)."""
        if self._gap is None or self._pushed_at is None or not self.joined:
            return None
        return self._pushed_at + max(SILENCE_MIN, SILENCE_FACTOR * self._gap)

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if an unusual silence falls due first."""
        deadline = self.loop.time() + seconds
        while (now := self.loop.time()) < deadline:
            due = self._unusual_silence_at()
            if due is not None and due <= now:
                self._pushed_at = self._gap = None  # checked once; pushes teach it again
                self._reread_after_silence()
                continue
            self._wake.clear()
            until = min(deadline, due) if due is not None else deadline
            with suppress(TimeoutError, asyncio.TimeoutError):  # one class from Python 3.11
                await within(self._wake.wait(), until - now)
            if self.loop.time() - until > STALL and self._pushed_at is not None:
                # The loop was too busy to wake us, or to read the inbox: a silence it
                # caused proves nothing, and a check of every hub would add to the load.
                # Count it again from now.
                self._pushed_at = self.loop.time()

    async def _watch(self) -> None:
        renewed = self.loop.time()
        while True:
            interval = conf.WATCHDOG_INTERVAL if self.joined else POLL_WHILE_DOWN
            await self._pause(min(interval, conf.WATCHDOG_INTERVAL))
            now = self.loop.time()
            if now - self.heard_at >= interval or not self.joined:
                self._reread_after_silence()
            if self.joined and now - renewed >= REJOIN_EVERY:
                renewed = now
                try:
                    await self.inbox.renew(self.group)
                except Exception as exc:
                    logger.warning("Renewing %s failed: %r", self.group, exc)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for task in list(self._tasks):
            task.cancel()
        self.inbox.detach(self.group, self)
        if self.added:
            task = self.loop.create_task(self._leave())
            _leaving.add(task)
            task.add_done_callback(_leaving.discard)

    async def _leave(self) -> None:
        """Leave the group; a layer that fails (or hangs) is tried again, ever less often.

        Each try goes through the inbox, which keeps the membership if a newer hub of
        this loop has joined the group meanwhile.
        """
        for attempt, pause in enumerate((*LEAVE_RETRIES, None)):
            try:
                await within(self.inbox.leave(self.group, self), conf.PUBLISH_TIMEOUT)
                return
            except Exception as exc:
                if pause is None:
                    logger.warning("Leaving %s failed, giving up: %r", self.group, exc)
                    return
                logger.log(
                    logging.DEBUG if attempt else logging.WARNING,
                    "Leaving %s failed, next try in %.0f s: %r",
                    self.group,
                    pause,
                    exc,
                )
                await asyncio.sleep(pause)
