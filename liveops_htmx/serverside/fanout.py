"""A hub's viewers, and the rounds in which pushes are sent to them.

A push to N viewers makes N sends that asyncio runs back to back before it reads
the next push. When a round takes longer than pushes are apart, each update would
still go to everyone in turn and the lag would grow without bound. So after a long
round (over ``ROUND_FREE``) the next one waits ``ROUND_PAUSE`` times as long: sending
takes at most two thirds of the loop, and the pushes that arrive meanwhile merge
into the viewers' waiting frames (latest wins per part; log appends and milestones
are kept). Small rounds never wait.

A round sends in slices of ``ROUND_SLICE`` viewers, one loop turn each, and pushes
are read between slices: a push that arrives mid-round merges into the frames of the
viewers not yet served, who get it in this round, not the next. A terminal push goes
to everyone in one turn, ahead of the closing handshakes it causes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Protocol

from liveops_htmx.security import CloseCode
from liveops_htmx.serverside.outbox import Offer, Outbox

#: Seconds a round of sends may take before the next round is spaced out.
ROUND_FREE = 0.005
#: The pause after a long round, as a share of that round's length.
ROUND_PAUSE = 0.5
#: Viewers a round sends to per loop turn; between turns the hub reads new pushes.
ROUND_SLICE = 100


class Socket(Protocol):
    """What a viewer sends through (the consumer)."""

    async def send_frame(self, text: str) -> None: ...

    async def end(self, code: int) -> None:
        """Close with ``code``; ``NORMAL`` follows the last frame, which the page acts on."""


class Host(Protocol):
    """What a viewer belongs to (a hub)."""

    def request_resync(self) -> None: ...

    def remove(self, viewer: Viewer) -> None: ...


class Viewer:
    """One socket's end of a hub: its outbox and the task that drains it."""

    def __init__(self, socket: Socket, outbox: Outbox | None = None) -> None:
        self.socket = socket
        self.outbox = outbox if outbox is not None else Outbox()
        self.host: Host | None = None
        self.admitted = False  # True once the permission check passed
        self.done = False
        self._task: asyncio.Task[None] | None = None

    def offer(self, msg: dict[str, Any]) -> None:
        """Queue a push; it waits (merging) until the hub's round kicks this viewer."""
        if self.done:
            return
        if self.outbox.offer(msg) is Offer.GAP and self.host is not None and self.admitted:
            self.host.request_resync()

    def offer_snapshot(self, snap: Any) -> None:
        if self.done:
            return
        self.admitted = True
        if Offer.GAP in self.outbox.offer_snapshot(snap) and self.host is not None:
            self.host.request_resync()
        self.kick()

    def kick(self) -> None:
        """Start sending what waits, unless a send is already under way."""
        if self._task is None and self.outbox.ready():
            self._task = asyncio.get_running_loop().create_task(self._drain())

    @property
    def sending(self) -> bool:
        return self._task is not None

    async def _drain(self) -> None:
        try:
            while (frame := self.outbox.pop()) is not None:
                await self.socket.send_frame(frame.text())
                if frame.terminal:
                    self.leave()  # the hub is done with it, however long the close takes
                    await self.socket.end(CloseCode.NORMAL)
                    break
        except Exception:  # the socket went away under us
            self.done = True
        finally:
            self._task = None
        if self.done:
            self.leave()

    def leave(self) -> None:
        """Stop following: the hub forgets this viewer (and stops once it has none)."""
        self.done = True
        host, self.host = self.host, None
        if host is not None:
            host.remove(self)

    async def end(self, code: int) -> None:
        self.leave()
        await self.socket.end(code)


class Fanout:
    """The viewers of one hub, and its rounds of sends to them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.viewers: set[Viewer] = set()
        self._next_round = 0.0  # loop time before which pushes wait for a round
        self._timer: asyncio.TimerHandle | None = None
        self._round: deque[Viewer] | None = None  # viewers a round under way has yet to serve
        self._round_began = 0.0
        self._final = False  # a terminal push is out: the rest goes in one turn
        self._stopped = False

    def deliver(self, msg: dict[str, Any]) -> None:
        """Offer a push to every viewer; send it in this round, the next, or after a pause."""
        self._final = self._final or bool(msg.get("terminal"))
        for viewer in list(self.viewers):
            viewer.offer(msg)
        if self._round is not None:  # viewers the round has yet to serve take it along
            return
        if self.loop.time() < self._next_round:  # the last round was long: let pushes merge
            if self._timer is None:
                self._timer = self.loop.call_at(self._next_round, self._open_round)
            return
        self._open_round()

    @property
    def settled(self) -> bool:
        """True when no round, pause or send is under way (for tests and benchmarks)."""
        return (
            self._timer is None
            and self._round is None
            and not any(v.sending or v.outbox.ready() for v in self.viewers)
        )

    def _open_round(self) -> None:
        self._timer = None
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
        if self._timer is None and any(v.outbox.ready() for v in self.viewers):
            self._timer = self.loop.call_at(self._next_round, self._open_round)

    def stop(self) -> None:
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
