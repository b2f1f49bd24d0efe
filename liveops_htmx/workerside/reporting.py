"""What ``run(self, p)`` reports through, before any transport: :class:`Progress`.

It keeps the operation's live state on the instance, coalesces bursts, decides when
to flush, and writes each flush in one UPDATE (:mod:`~.writer` says where, inside a
transaction); after a rollback it puts the operation back to what the row holds.
:mod:`~.pushing` adds the rendering and the push. Users import both from
:mod:`liveops_htmx.progress`.

Text from workers is text: status, stage names, log lines, error messages, and the
label and unit of ``track()`` are kept as plain strings, even when given marked safe,
so every frame and every snapshot escapes them alike. Each is cut to ``TEXT_MAX``
characters, and to its column's length where it has one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from django.utils import timezone

from liveops_htmx import values
from liveops_htmx.conf import conf
from liveops_htmx.models import CHANGES, Level, State
from liveops_htmx.rendering import fragments
from liveops_htmx.rendering.context import operation_urls
from liveops_htmx.workerside import persist
from liveops_htmx.workerside.writer import Writer, Written

if TYPE_CHECKING:
    from liveops_htmx.models import LiveOperation

T = TypeVar("T")

# Which parts each kind of change re-renders (what it writes: models.CHANGES).
PARTS: dict[str, tuple[str, ...]] = {
    "status": ("status",),
    "progress": ("progress",),
    "stages": ("stages",),
    "log": (),
    "regions": (),
    # The log part is never re-rendered by an update: lines are only ever appended.
    "state": fragments.UPDATED_PARTS,
}
#: Changes a slow viewer must see in turn; the others (status text, progress, custom
#: regions) are superseded by their next value, latest wins.
MILESTONES = frozenset({"state", "stages"})

#: What a stage still running when the operation finishes becomes.
STAGE_OUTCOMES = {State.SUCCEEDED: "done", State.FAILED: "failed", State.CANCELLED: "cancelled"}

#: ``Level.values`` builds a list on every access, and status() is called often.
LEVELS = frozenset(Level.values)

#: Everything a flush can write: what a write after a rollback writes.
ALL_FIELDS = frozenset(name for names in CHANGES.values() for name in names)
#: Fields a rollback restores by merging, not by taking the row's value.
_MERGED = frozenset({"log_tail", "log_count", "stage_states", "regions"})


class OperationCancelled(Exception):
    """Raised inside ``run()`` once a cancel was requested; the runner marks it cancelled."""


def text(value: object) -> str:
    """``value`` as a plain string: a string marked safe loses its mark, and what no
    database can store (NUL, lone surrogates) becomes U+FFFD."""
    return values.storable("".join((str(value),)))


def clip(value: object, limit: int | None = None) -> str:
    """``value`` as plain text of at most ``limit`` (default ``TEXT_MAX``) characters."""
    plain = text(value)
    limit = conf.TEXT_MAX if limit is None else min(limit, conf.TEXT_MAX)
    return plain if len(plain) <= limit else plain[: limit - 1] + "…"


def column_limit(op: LiveOperation, name: str) -> int | None:
    """The length of ``op``'s column ``name``, if it has one."""
    field = op._meta.get_field(name)
    length = getattr(field, "max_length", None)
    return int(length) if length else None


@dataclass(frozen=True)
class Flush:
    """What one flush reports: the kinds of change, new log lines, changed regions."""

    kinds: set[str]
    lines: list[tuple[int, str]]
    regions: dict[str, str]
    lifecycle: bool = False
    #: the operation's end: written, and pushed, only once the transaction commits
    terminal: bool = False


class Progress:
    """Live state of one operation, and when to report it.

    Lifecycle calls (status change, stage, result, error, cancel) flush at once;
    ``percent()``, ``track()`` and ``log()`` flush at most every
    ``LIVEOPS["FLUSH_INTERVAL"]`` seconds, carrying whatever accumulated.
    """

    def __init__(
        self,
        op: LiveOperation,
        *,
        clock: Callable[[], float] = time.monotonic,
        interval: float | None = None,
    ) -> None:
        self.op = op
        self.clock = clock
        self.interval = conf.FLUSH_INTERVAL if interval is None else interval
        self.finished = op.is_finished
        self._dirty: set[str] = set()
        self._changed_regions: dict[str, str] = {}
        self._lines: list[tuple[int, str]] = []
        self._last_flush = -math.inf
        self._last_poll = -math.inf
        #: Fields set since the last flush: what a rollback must not take back.
        self._touched: set[str] = set()
        self._touched_stages: dict[str, str] = {}
        self._writer: Writer | None = None
        #: A cancel learnt by polling. Kept apart from ``op.cancel_requested``, which the
        #: next write compares with the row's: after a rollback, another writer's cancel
        #: can bring the row to the seq of a rolled-back write, and the flag is then all
        #: that tells the two apart.
        self._cancel_polled = False

    @property
    def cancel_seen(self) -> bool:
        """True once this worker knows a cancel was requested (from a flush or a poll)."""
        return bool(self.op.cancel_requested) or self._cancel_polled

    # -- reporting -------------------------------------------------------------------

    def status(self, text: object, level: str = Level.INFO) -> None:
        """Show ``text`` as the operation's status (escaped: it is text, not markup)."""
        if level not in LEVELS:
            raise ValueError(f"level must be one of {Level.values}, not {level!r}")
        shown = clip(text, column_limit(self.op, "status"))
        if (self.op.status, self.op.status_level) == (shown, level):
            return
        self.op.status, self.op.status_level = shown, level
        self._touched.update(("status", "status_level"))
        self._flush({"status"}, lifecycle=True)

    def percent(self, value: float) -> None:
        """Set the progress to ``value`` (0 to 100); coalesced."""
        number = float(value)
        if math.isnan(number):
            raise ValueError("percent must be a number, not NaN")
        number = min(100.0, max(0.0, number))
        if number == self.op.percent and not {"done", "total", "eta"} & set(self.op.progress or {}):
            if self._dirty:  # nothing new, but what is held back may be due
                self._changed("progress")
            return
        self.op.percent = number
        detail = dict(self.op.progress or {})
        for key in ("done", "total", "eta"):
            detail.pop(key, None)
        self.op.progress = detail
        self._touched.update(("percent", "progress"))
        self._changed("progress")

    def track(
        self,
        iterable: Iterable[T],
        total: int | None = None,
        label: str | None = None,
        unit: str = "it",
    ) -> Iterator[T]:
        """Yield from ``iterable`` while reporting progress; raise once cancelled.

        The loop itself only counts: the clock, the cancel flag and the flush are
        looked at every *stride* items, a stride sized to the observed rate.
        """
        if total is None:
            try:
                total = len(iterable)  # type: ignore[arg-type]
            except TypeError:
                total = None
        label = None if label is None else clip(label)
        unit = clip(unit)
        started = self.clock()
        self._track(0, total, label, unit, started)
        done = 0
        next_check = 1
        for item in iterable:
            yield item
            done += 1
            if done >= next_check:
                next_check = done + self._track(done, total, label, unit, started)
        # The end of a loop is a milestone: it flushes at once.
        self._track(done, total if total is not None else done, label, unit, started, final=True)

    def _track(
        self,
        done: int,
        total: int | None,
        label: str | None,
        unit: str,
        started: float,
        *,
        final: bool = False,
    ) -> int:
        if self.cancel_seen:
            raise OperationCancelled()
        now = self.clock()
        elapsed = now - started
        rate = done / elapsed if elapsed > 0 else 0.0
        detail: dict[str, Any] = {"done": done, "total": total, "unit": unit}
        if label is not None:
            detail["label"] = label
        if total:
            self.op.percent = min(100.0, 100.0 * done / total)
            if rate > 0 and done < total:
                detail["eta"] = round((total - done) / rate, 1)
        else:
            self.op.percent = None
        self.op.progress = detail
        self._touched.update(("percent", "progress"))
        if final:
            self._flush({"progress"})
        else:
            self._changed("progress", now)
        # Look again in about a quarter of the flush interval.
        return max(1, min(int(rate * self.interval / 4), 1_000_000))

    def log(self, line: object) -> None:
        """Append ``line`` (or each line of it) to the log; coalesced, never dropped."""
        tail = list(self.op.log_tail or [])
        for text in str(line).splitlines() or [""]:
            self.op.log_count += 1
            entry = (self.op.log_count, clip(text))
            self._lines.append(entry)
            tail.append(list(entry))
        self.op.log_tail = tail[-conf.LOG_TAIL :]
        self._changed("log")

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Mark ``name`` running for the block, then done (or failed if it raises)."""
        name = clip(name, column_limit(self.op, "stage"))
        self._set_stage(name, "running", name)
        try:
            yield
        except OperationCancelled:
            self._set_stage(name, "cancelled", "")
            raise
        except BaseException:
            self._set_stage(name, "failed", "")
            raise
        self._set_stage(name, "done", "")

    def _set_stage(self, name: str, state: str, current: str) -> None:
        if self.op.is_finished:
            # The finish settled every running stage, and its push closes the viewers'
            # sockets: a stage left after it would change what none of them sees. Kept
            # for a rollback of the finish, which the next write restores.
            self._touched_stages[name] = state
            self._touched.add("stage")
            return
        states = dict(self.op.stage_states or {})
        states[name] = state
        self.op.stage_states = states
        self.op.stage = current
        self._touched_stages[name] = state
        self._touched.update(("stage", "stage_states"))
        kinds = {"stages"}
        if state == "running" and (self.op.percent is not None or self.op.progress):
            # A new stage starts its own count: the last stage's tracker is not its own.
            self.op.percent, self.op.progress = None, {}
            self._touched.update(("percent", "progress"))
            kinds.add("progress")
        self._flush(kinds, lifecycle=True)

    def check_cancelled(self) -> None:
        """Raise :class:`OperationCancelled` if a cancel was requested."""
        now = self.clock()
        if not self.cancel_seen and now - self._last_poll >= self.interval:
            self._last_poll = now
            self._cancel_polled = self._poll_cancel()
        if self.cancel_seen:
            raise OperationCancelled()

    def swap(
        self, selector: str, name: str | None = None, template: str | None = None, **context: Any
    ) -> None:
        """Render a partial (``name``) or a template into the page element at ``selector``."""
        raise NotImplementedError(f"{type(self).__name__} has no page to swap into.")

    def html(self, selector: str, html: str) -> None:
        """Put ``html`` into the page element at ``selector`` (escaped unless marked safe)."""
        raise NotImplementedError(f"{type(self).__name__} has no page to put HTML into.")

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Mark the operation running (the runner calls this before ``run()``)."""
        self.op.state = State.RUNNING
        self.op.started_at = timezone.now()
        self._touched.update(("state", "started_at"))
        self._flush({"state"}, lifecycle=True)

    def result(self, context: Mapping[str, Any] | None = None, **extra: Any) -> None:
        """Finish successfully; the result part renders from ``context`` (kept as JSON).

        Raises :class:`~liveops_htmx.values.ResultKeyError` (a ``ValueError``) for a
        name the kit uses itself, such as ``chained_to`` (see ``chain_to()``).
        """
        merged = {**(context or {}), **extra}
        values.check_result(merged)
        self.op.result_context = values.dump(merged)
        self._touched.add("result_context")
        if self.op.percent is not None or self.op.progress:
            self.op.percent = 100.0
            self._touched.add("percent")
        self._finish(State.SUCCEEDED)

    def error(self, message: object) -> None:
        """Finish as failed, showing ``message`` (escaped)."""
        self.op.error = clip(message)
        self._touched.update(("error", "error_detail"))
        self._finish(State.FAILED)

    def chain_to(self, next_op: LiveOperation) -> None:
        """Finish here and hand over to ``next_op``: the page swaps in its widget, live.

        ``next_op`` is saved (with this operation's owner and language, unless set)
        and started on the configured runner once this transaction commits.
        """
        if next_op.pk is None:
            if next_op.owner_id is None:
                next_op.owner_id = self.op.owner_id
            next_op.language = next_op.language or self.op.language
            next_op.save()
        urls = operation_urls(next_op)
        chain = {"model": next_op._meta.label_lower, "pk": str(next_op.pk)}
        chain.update({k: urls[k] for k in ("operation", "widget") if k in urls})
        self.op.result_context = values.dump({"chained_to": chain})
        self._touched.add("result_context")
        self._finish(State.SUCCEEDED)
        next_op.start()

    def cancelled(self) -> None:
        """Finish as cancelled (the runner calls this when ``OperationCancelled`` escapes)."""
        self._finish(State.CANCELLED)

    def _finish(self, state: State) -> None:
        if self.finished:
            raise RuntimeError(f"{self.op} has already finished.")
        self.op.state = state
        self.op.stage = ""
        self.op.finished_at = timezone.now()
        # What a tracker counted belongs to the run; a finished operation shows its end.
        self.op.progress = {}
        self._touched.update(("state", "stage", "finished_at", "progress"))
        states = dict(self.op.stage_states or {})
        for name, was in states.items():
            if was == "running":  # left after the finish, or never: it ends with the run
                states[name] = self._touched_stages[name] = STAGE_OUTCOMES[state]
        self.op.stage_states = states
        self._touched.add("stage_states")
        self._flush({"state"}, lifecycle=True, terminal=True)

    # -- flushing ----------------------------------------------------------------------

    def _changed(self, kind: str, now: float | None = None) -> None:
        self._dirty.add(kind)
        now = self.clock() if now is None else now
        if now - self._last_flush >= self.interval:
            self._flush(set())

    def _flush(self, kinds: set[str], *, lifecycle: bool = False, terminal: bool = False) -> None:
        kinds = kinds | self._dirty
        lines, regions = self._lines, self._changed_regions
        self._dirty, self._lines, self._changed_regions = set(), [], {}
        self._last_flush = self.clock()
        self.emit(Flush(kinds, lines, regions, lifecycle=lifecycle, terminal=terminal))
        self._touched.clear()
        self._touched_stages.clear()

    def save(self, flush: Flush) -> tuple[Written, list[tuple[int, str]], bool]:
        """Write a flush: return how, its log lines, and whether it had to reset.

        After a rollback the operation is put back to what its row holds, but for
        what was set since the last flush, and written whole: viewers that saw what
        was rolled back get all of it replaced (a reset). The new seq is above every
        seq viewers may hold.
        """
        if self._writer is None:
            self._writer = Writer(self.op)
        fields = {name for kind in flush.kinds for name in CHANGES[kind]}
        terminal = flush.terminal
        try:
            try:
                return self._writer.write(self.op, fields, terminal=terminal), flush.lines, False
            except persist.RolledBack as rolled:
                seen = self.op.seq
                lines = self.restore(rolled.row, flush.lines, flush.regions)
                written = self._writer.write(self.op, ALL_FIELDS, terminal=terminal, seq_above=seen)
                return written, lines, True
        except persist.Ended as ended:
            self.finished = True
            raise OperationCancelled(ended.why) from None

    def restore(
        self, row: Mapping[str, Any], lines: list[tuple[int, str]], regions: dict[str, str]
    ) -> list[tuple[int, str]]:
        """Take back what a rollback took back; return this flush's lines, renumbered."""
        op = self.op
        for name, value in row.items():
            if name not in self._touched and name not in _MERGED:
                setattr(op, name, value)
        op.stage_states = {**(row["stage_states"] or {}), **self._touched_stages}
        kept = row["regions"] or {}
        # A region that only rolled-back writes filled is emptied: pages still show it.
        emptied = {selector: "" for selector in op.regions or {} if selector not in kept}
        op.regions = {**emptied, **kept, **regions}
        first = int(row["log_count"])
        renumbered = [(first + i, line) for i, (_, line) in enumerate(lines, start=1)]
        op.log_count = first + len(renumbered)
        tail = [*(row["log_tail"] or []), *(list(entry) for entry in renumbered)]
        op.log_tail = tail[-conf.LOG_TAIL :]
        if not op.is_finished:  # what finished it was rolled back
            self.finished = False
        return renumbered

    def emit(self, flush: Flush) -> None:
        """Report what changed since the last flush (subclasses: persist, print, push)."""
        self.save(flush)
        if flush.terminal:
            self.finished = True

    def _poll_cancel(self) -> bool:
        return bool(self.op.cancel_requested)
