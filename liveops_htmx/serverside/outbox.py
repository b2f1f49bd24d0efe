"""What one viewer still has to receive, merged so a slow viewer gets news, not a backlog.

Every push carries ``seq`` (the operation's sequence after the write) and ``base``
(the sequence it builds on). A viewer accepts a push only if it is newer than what
it holds and builds on it; a push that skips ahead means one was lost, and the
viewer waits for a snapshot from the database instead of showing a gap.

While a viewer's socket is busy, later pushes merge into the frame still waiting:
each part keeps its newest rendering (latest wins), log appends are concatenated,
never dropped. A push that changes the operation's state or stage (``milestone``)
closes the frame it lands in, so nothing later overwrites it before it is sent.

Pushes and snapshots carry the controls part for viewers who may only look; an
outbox whose viewer may control the operation (``can_control``) takes the
controllers' rendering in its place (``controller_parts``), so each viewer gets the
same bytes live and in a later snapshot as everyone of its audience.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from liveops_htmx.rendering.fragments import compose, for_audience, with_oob
from liveops_htmx.rendering.protocol import CONTROLLER_HTML, CONTROLLER_PARTS
from liveops_htmx.rendering.rows import row_insert


class Offer(enum.Enum):
    QUEUED = "queued"  # will be sent
    STALE = "stale"  # already held (seq not newer): dropped
    GAP = "gap"  # a push was lost: held until a snapshot arrives
    HELD = "held"  # no snapshot yet: held until one arrives


@dataclass(frozen=True)
class Snapshot:
    """Every part of an operation at ``seq``, as read from the database."""

    seq: int
    parts: Mapping[str, str]
    last_line: int
    terminal: bool
    #: The audience parts for viewers who may control the operation.
    controller_parts: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Frame:
    seq: int
    parts: dict[str, str]
    log: list[Sequence[Any]] = field(default_factory=list)
    terminal: bool = False
    closed: bool = False
    html: str | None = None  # the push's own text, while nothing was merged into it

    def text(self) -> str:
        if self.html is None:
            self.html = compose(self.parts, self.log)
        return self.html


def _closes(msg: Mapping[str, Any]) -> bool:
    # Messages from before "milestone" existed: every lifecycle push was one.
    return bool(msg.get("milestone", msg.get("lifecycle")) or msg.get("terminal"))


class Outbox:
    def __init__(self) -> None:
        #: The viewer may cancel and restart the operation: it gets the controllers'
        #: rendering of the controls. Set once the viewer is admitted.
        self.can_control = False
        self.frames: deque[Frame] = deque()
        self.last_seq = -1
        self.last_line = 0
        self.synced = False
        self.held: list[Mapping[str, Any]] = []

    def offer(self, msg: Mapping[str, Any]) -> Offer:
        if not self.synced:
            self.held.append(msg)
            return Offer.HELD
        seq: int = msg["seq"]
        if seq <= self.last_seq:
            return Offer.STALE
        if msg.get("reset"):  # every part, whatever this viewer holds: a snapshot
            self._take(
                Snapshot(
                    seq,
                    msg["parts"],
                    int(msg["last_line"]),
                    bool(msg.get("terminal")),
                    msg.get(CONTROLLER_PARTS) or {},
                )
            )
            return Offer.QUEUED
        full = msg.get("full")
        if msg["base"] > self.last_seq and full is not None:  # the row lags: take it whole
            controller = full.get(CONTROLLER_PARTS) or {}
            self._take(Snapshot(seq, full["parts"], int(full["last_line"]), False, controller))
            return Offer.QUEUED
        if msg["base"] > self.last_seq:
            self.synced = False
            self.held.append(msg)
            return Offer.GAP
        parts: Mapping[str, str] = msg["parts"]
        html: str | None = msg.get("liveop_html")
        if self.can_control and msg.get(CONTROLLER_PARTS):
            parts = {**parts, **msg[CONTROLLER_PARTS]}
            html = msg.get(CONTROLLER_HTML)
        all_log: Sequence[Sequence[Any]] = msg.get("log") or ()
        log = [chunk for chunk in all_log if chunk[1] > self.last_line]
        tail = self.frames[-1] if self.frames and not self.frames[-1].closed else None
        if tail is not None and log and "log" in tail.parts:
            # htmx 4 resolves every out-of-band target of a frame before it swaps any:
            # an append in the frame that replaces the log would land in the old list.
            tail = None
        if tail is None:
            exact = len(log) == len(all_log)
            self.frames.append(
                Frame(
                    seq,
                    dict(parts),
                    log,
                    terminal=bool(msg.get("terminal")),
                    closed=_closes(msg),
                    html=html if exact else None,
                )
            )
        else:
            tail.seq = seq
            tail.parts.update(parts)
            tail.log.extend(log)
            tail.terminal = bool(msg.get("terminal"))
            tail.closed = _closes(msg)
            tail.html = None
        self.last_seq = seq
        if log:
            self.last_line = max(self.last_line, log[-1][1])
        return Offer.QUEUED

    def offer_snapshot(self, snap: Snapshot) -> list[Offer]:
        """Take ``snap`` if it is newer, then replay what was held; return the replay's outcomes."""
        if snap.seq > self.last_seq:
            self._take(snap)
        self.synced = True
        held, self.held = self.held, []
        return [self.offer(msg) for msg in held]

    def _take(self, snap: Snapshot) -> None:
        self.frames.clear()
        parts = for_audience(snap.parts, snap.controller_parts, can_control=self.can_control)
        self.frames.append(
            Frame(snap.seq, dict(parts), terminal=snap.terminal, closed=snap.terminal)
        )
        self.last_seq = snap.seq
        self.last_line = snap.last_line

    def pop(self) -> Frame | None:
        return self.frames.popleft() if self.frames else None

    def ready(self) -> bool:
        """True when a frame waits to be sent."""
        return bool(self.frames)


@dataclass(frozen=True)
class ListSnapshot:
    """A user's list as read from the database: its rows, and each row's seq."""

    html: str
    rows: Mapping[str, int]
    terminal: bool = False


class RowOutbox(Outbox):
    """A list's outbox: per row, the newest rendering wins; a row new to the list goes first."""

    def __init__(self) -> None:
        super().__init__()
        self.known: dict[str, int] = {}
        self.pending: dict[str, tuple[bool, str]] = {}
        self.snapshot_html: str | None = None

    def offer(self, msg: Mapping[str, Any]) -> Offer:
        if not self.synced:
            self.held.append(msg)
            return Offer.HELD
        key, seq = msg["key"], msg["seq"]
        if seq <= self.known.get(key, -1):
            return Offer.STALE
        inserting = key not in self.known or self.pending.get(key, (False, ""))[0]
        self.known[key] = seq
        self.pending[key] = (inserting, msg["html"])
        return Offer.QUEUED

    def offer_snapshot(self, snap: ListSnapshot) -> list[Offer]:  # type: ignore[override]
        if self.synced and dict(snap.rows) == self.known:
            return []  # a periodic check that found nothing new: send nothing
        self.snapshot_html = snap.html
        self.pending.clear()
        self.known = dict(snap.rows)
        self.synced = True
        held, self.held = self.held, []
        return [self.offer(msg) for msg in held]

    def ready(self) -> bool:
        return self.snapshot_html is not None or bool(self.pending)

    def pop(self) -> Frame | None:
        if not self.ready():
            return None
        parts = {} if self.snapshot_html is None else {"list": self.snapshot_html}
        for key, (inserting, html) in self.pending.items():
            parts[key] = row_insert(html) if inserting else with_oob(html, "outerHTML")
        self.snapshot_html = None
        self.pending.clear()
        return Frame(0, parts)
