"""The Progress of the web: each flush persisted, rendered once, pushed to the viewers.

The push goes out at once, or when the caller's transaction commits where the write
waits for it (:mod:`~.writer`); an operation with an owner also refreshes its row of
the owner's live list, at most every ``ROW_INTERVAL`` seconds while it progresses.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.template.loader import get_template
from django.utils import translation
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

from liveops_htmx import values
from liveops_htmx.layer import require_layer
from liveops_htmx.rendering import fragments, protocol, templates
from liveops_htmx.workerside import persist
from liveops_htmx.workerside.publisher import get_publisher
from liveops_htmx.workerside.reporting import MILESTONES, PARTS, Flush, Progress
from liveops_htmx.workerside.rows import publish_row

if TYPE_CHECKING:
    from channels.layers import BaseChannelLayer

    from liveops_htmx.models import LiveOperation

#: Seconds between two list-row pushes of a progressing operation (state changes: at once).
ROW_INTERVAL = 1.0


class WebProgress(Progress):
    """Persist each flush in one UPDATE, render it once, push it to the viewers."""

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
        markup = mark_safe(values.storable(markup))  # still the same markup
        regions = dict(self.op.regions or {})
        regions[selector] = markup
        self.op.regions = regions
        self._changed_regions[selector] = markup
        self._flush({"regions"}, lifecycle=True)

    def emit(self, flush: Flush) -> None:
        written, lines, reset = self.save(flush)
        kinds, lifecycle, terminal = flush.kinds, flush.lifecycle, flush.terminal
        with translation.override(self.op.language or None):
            if reset:
                message = protocol.reset_message(self.op, written.base)
            else:
                message = protocol.update_message(
                    self.op,
                    written.base,
                    [p for p in fragments.PARTS if any(p in PARTS[k] for k in kinds)],
                    lines=lines,
                    regions=flush.regions,
                    lifecycle=lifecycle,
                    terminal=terminal,
                    milestone=bool(kinds & MILESTONES),
                    full=not written.committed,
                )
        if written.at_once:
            self._push(message)
        else:
            transaction.on_commit(lambda: self._push(message), using=persist.db_for(self.op))
        now = self.clock()
        if self.op.owner_id is not None and (
            lifecycle or reset or now - self._row_at >= ROW_INTERVAL
        ):
            self._row_at = now
            publish_row(self.op, self.layer, at_once=written.at_once)

    def _push(self, message: dict[str, Any]) -> None:
        publisher = get_publisher()
        terminal = bool(message["terminal"])
        publisher.publish(
            self.layer, self.group, message, essential=terminal or bool(message["lifecycle"])
        )
        if terminal:
            self.finished = True
            publisher.flush()

    def _poll_cancel(self) -> bool:
        return persist.cancel_requested(self.op)
