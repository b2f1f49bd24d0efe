"""The API ``run(self, p)`` reports through.

:class:`Progress` is transport-neutral: it keeps the operation's live state on the
instance, coalesces bursts and decides when to flush. :class:`WebProgress` flushes
by writing the row (one UPDATE), rendering the changed parts once and pushing one
message to the operation's group after the transaction commits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import transaction
from django.template.loader import get_template
from django.utils import timezone, translation
from django.utils.html import conditional_escape

from liveops_htmx import values
from liveops_htmx.conf import conf
from liveops_htmx.layer import require_layer
from liveops_htmx.models import CHANGES, Level, State
from liveops_htmx.rendering import fragments, protocol, templates
from liveops_htmx.rendering.context import operation_urls
from liveops_htmx.workerside import persist
from liveops_htmx.workerside.publisher import get_publisher
from liveops_htmx.workerside.rows import publish_row

if TYPE_CHECKING:
    from channels.layers import BaseChannelLayer

    from liveops_htmx.models import LiveOperation

T = TypeVar("T")

__all__ = ["OperationCancelled", "Progress", "WebProgress"]

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

#: ``Level.values`` builds a list on every access, and status() is called often.
LEVELS = frozenset(Level.values)

#: Seconds between two list-row pushes of a progressing operation (state changes: at once).
ROW_INTERVAL = 1.0


class OperationCancelled(Exception):
    """Raised inside ``run()`` once a cancel was requested; the runner marks it cancelled."""


def clip(text: object) -> str:
    value = str(text)
    limit = conf.TEXT_MAX
    return value if len(value) <= limit else value[: limit - 1] + "…"


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

    @property
    def cancel_seen(self) -> bool:
        """True once this worker knows a cancel was requested (from a flush or a poll)."""
        return bool(self.op.cancel_requested)

    # -- reporting -------------------------------------------------------------------

    def status(self, text: object, level: str = Level.INFO) -> None:
        """Show ``text`` as the operation's status (escaped: it is text, not markup)."""
        if level not in LEVELS:
            raise ValueError(f"level must be one of {Level.values}, not {level!r}")
        text = clip(text)
        if (self.op.status, self.op.status_level) == (text, level):
            return
        self.op.status, self.op.status_level = text, level
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
        name = clip(name)
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
        states = dict(self.op.stage_states or {})
        states[name] = state
        self.op.stage_states = states
        self.op.stage = current
        self._flush({"stages"}, lifecycle=True)

    def check_cancelled(self) -> None:
        """Raise :class:`OperationCancelled` if a cancel was requested."""
        now = self.clock()
        if not self.cancel_seen and now - self._last_poll >= self.interval:
            self._last_poll = now
            self.op.cancel_requested = self._poll_cancel()
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
        self._flush({"state"}, lifecycle=True)

    def result(self, context: Mapping[str, Any] | None = None, **extra: Any) -> None:
        """Finish successfully; the result part renders from ``context`` (kept as JSON).

        Raises :class:`~liveops_htmx.values.ResultKeyError` (a ``ValueError``) for a
        name the kit uses itself, such as ``chained_to`` (see ``chain_to()``).
        """
        merged = {**(context or {}), **extra}
        values.check_result(merged)
        self.op.result_context = values.dump(merged)
        if self.op.percent is not None or self.op.progress:
            self.op.percent = 100.0
        self._finish(State.SUCCEEDED)

    def error(self, message: object) -> None:
        """Finish as failed, showing ``message`` (escaped)."""
        self.op.error = clip(message)
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
        self.emit(kinds, lines, regions, lifecycle=lifecycle, terminal=terminal)

    def emit(
        self,
        kinds: set[str],
        lines: list[tuple[int, str]],
        regions: dict[str, str],
        *,
        lifecycle: bool,
        terminal: bool,
    ) -> None:
        """Report what changed since the last flush (subclasses: persist, print, push)."""
        if terminal:
            self.finished = True

    def _poll_cancel(self) -> bool:
        return bool(self.op.cancel_requested)


class WebProgress(Progress):
    """Persist each flush in one UPDATE, render it once, push it after commit."""

    def __init__(
        self,
        op: LiveOperation,
        channel_layer: BaseChannelLayer | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        interval: float | None = None,
    ) -> None:
        super().__init__(op, clock=clock, interval=interval)
        if op.pk is None:
            raise ValueError("Save the operation before reporting progress on it.")
        self.layer = channel_layer if channel_layer is not None else require_layer()
        self.group = protocol.group_of(op)
        self._row_at = -math.inf

    def swap(
        self, selector: str, name: str | None = None, template: str | None = None, **context: Any
    ) -> None:
        if (name is None) == (template is None):
            raise TypeError("swap() needs exactly one of name= (a partial) or template=.")
        with translation.override(self.op.language or None):
            tmpl = templates.partial(self.op, name) if name else get_template(str(template))
            markup = tmpl.render({"op": self.op, **context})
        self._put_region(selector, markup)

    def html(self, selector: str, html: str) -> None:
        self._put_region(selector, str(conditional_escape(html)))

    def _put_region(self, selector: str, markup: str) -> None:
        if not selector or len(selector) > 200:
            raise ValueError("selector must be a CSS selector of at most 200 characters.")
        regions = dict(self.op.regions or {})
        regions[selector] = markup
        self.op.regions = regions
        self._changed_regions[selector] = markup
        self._flush({"regions"}, lifecycle=True)

    def emit(
        self,
        kinds: set[str],
        lines: list[tuple[int, str]],
        regions: dict[str, str],
        *,
        lifecycle: bool,
        terminal: bool,
    ) -> None:
        base, _seq = self._write({name for kind in kinds for name in CHANGES[kind]})
        names = [p for p in fragments.PARTS if any(p in PARTS[k] for k in kinds)]
        with translation.override(self.op.language or None):
            message = protocol.update_message(
                self.op,
                base,
                names,
                lines=lines,
                regions=regions,
                lifecycle=lifecycle,
                terminal=terminal,
                milestone=bool(kinds & MILESTONES),
            )
        transaction.on_commit(lambda: self._push(message), using=persist.db_for(self.op))
        now = self.clock()
        if self.op.owner_id is not None and (lifecycle or now - self._row_at >= ROW_INTERVAL):
            self._row_at = now
            publish_row(self.op, self.layer)

    def _push(self, message: dict[str, Any]) -> None:
        publisher = get_publisher()
        terminal = bool(message["terminal"])
        publisher.publish(
            self.layer, self.group, message, essential=terminal or bool(message["lifecycle"])
        )
        if terminal:
            self.finished = True
            publisher.flush()

    def _write(self, fields: set[str]) -> tuple[int, int]:
        return write(self, fields)

    def _poll_cancel(self) -> bool:
        return persist.cancel_requested(self.op)


def write(progress: Progress, fields: set[str]) -> tuple[int, int]:
    """Persist ``fields`` of the progress's operation; a row that ended elsewhere stops the run."""
    try:
        return persist.write(progress.op, fields)
    except persist.Ended as ended:
        progress.finished = True
        raise OperationCancelled(ended.why) from None
