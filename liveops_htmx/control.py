"""Writers other than the worker: cancel requests and lost-worker marks.

Each takes the row's lock, bumps ``seq`` and pushes after commit, so its frame is
ordered with the worker's; the worker's next write meets the new ``seq``, rereads
the row and learns what happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

from django.db import router, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext

from liveops_htmx.conf import conf
from liveops_htmx.layer import configured_layer
from liveops_htmx.models import TERMINAL_STATES, LiveOperation, State
from liveops_htmx.registry import operation_models
from liveops_htmx.rendering import protocol
from liveops_htmx.rendering.fragments import UPDATED_PARTS
from liveops_htmx.workerside.publisher import get_publisher
from liveops_htmx.workerside.rows import publish_row

if TYPE_CHECKING:
    from channels.layers import BaseChannelLayer


def _write(
    op: LiveOperation,
    change: Callable[[LiveOperation], tuple[list[str], Iterable[str], bool] | None],
    layer: BaseChannelLayer | None,
) -> bool:
    """Lock the row, apply ``change`` (fields, parts to push, terminal?), push after commit."""
    model = type(op)
    db = router.db_for_write(model, instance=op)
    rows = model._base_manager.using(db)
    with transaction.atomic(using=db):
        # Write first: SQLite cannot turn a read transaction into a write one once
        # another connection (the worker) wrote in between, and fails at once with
        # "database is locked"; a transaction that starts by writing waits its turn.
        # Elsewhere this is a row lock, as the FOR UPDATE that follows.
        rows.filter(pk=op.pk).update(seq=F("seq"))
        row = rows.select_for_update().get(pk=op.pk)
        base = row.seq
        outcome = change(row)
        if outcome is None:
            return False
        fields, parts, terminal = outcome
        row.seq = base + 1
        row.save(update_fields=[*fields, "seq"])
        with translation.override(row.language or None):
            message = protocol.update_message(row, base, parts, lifecycle=True, terminal=terminal)
        target = layer if layer is not None else configured_layer()
        if target is not None:
            group = message[protocol.GROUP]
            transaction.on_commit(
                lambda: get_publisher().publish(target, group, message, essential=True), using=db
            )
            publish_row(row, target)
    for name in [*fields, "seq"]:
        setattr(op, name, getattr(row, name))
    return True


def request_cancel(op: LiveOperation, layer: BaseChannelLayer | None = None) -> bool:
    """Ask ``op`` to stop; False if it had already finished or been asked.

    A pending operation is cancelled at once (no worker has it yet); a running one
    shows "Cancelling…" until its worker notices, at its next flush or check.
    """

    def cancel(row: LiveOperation) -> tuple[list[str], Iterable[str], bool] | None:
        if row.is_finished or row.cancel_requested:
            return None
        row.cancel_requested = True
        if row.state != State.PENDING:
            return ["cancel_requested"], ("status", "controls"), False
        row.state = State.CANCELLED
        row.finished_at = timezone.now()
        return ["cancel_requested", "state", "finished_at"], UPDATED_PARTS, True

    return _write(op, cancel, layer)


def run_again(op: LiveOperation) -> LiveOperation | None:
    """Start a new operation with ``op``'s inputs (``op.copy_inputs()``); None if ``op`` runs.

    ``op`` keeps its log, result and timings: both stay in the owner's list.
    """
    current = type(op)._base_manager.filter(pk=op.pk).values_list("state", flat=True).first()
    if current is None or current not in TERMINAL_STATES:
        return None
    again = op.copy_inputs()
    db = router.db_for_write(type(op), instance=op)
    with transaction.atomic(using=db):
        again.save(using=db)
        for field in type(op)._meta.many_to_many:
            getattr(again, field.name).set(getattr(op, field.name).all())
        again.start()
    return again


def is_stale(op: LiveOperation) -> bool:
    """True if ``op`` runs but its worker has not beaten for ``LOST_AFTER`` seconds."""
    if op.state != State.RUNNING:
        return False
    last = op.heartbeat_at or op.started_at
    return last is None or timezone.now() - last > timedelta(seconds=conf.LOST_AFTER)


def mark_lost(op: LiveOperation, layer: BaseChannelLayer | None = None) -> bool:
    """Mark ``op`` lost if its worker stopped beating (checked again under the row lock)."""

    def lose(row: LiveOperation) -> tuple[list[str], Iterable[str], bool] | None:
        if not is_stale(row):
            return None
        row.state = State.LOST
        row.finished_at = timezone.now()
        row.error = gettext("The worker running this operation stopped; it did not finish.")
        return ["state", "finished_at", "error"], UPDATED_PARTS, True

    return _write(op, lose, layer)


def reap_lost(layer: BaseChannelLayer | None = None) -> int:
    """Mark every stale running operation of every model lost; return how many."""
    threshold = timezone.now() - timedelta(seconds=conf.LOST_AFTER)
    stale = Q(heartbeat_at__lt=threshold) | Q(heartbeat_at__isnull=True, started_at__lt=threshold)
    lost = 0
    for model in operation_models():
        for op in model._base_manager.filter(Q(state=State.RUNNING) & stale):
            lost += mark_lost(op, layer)
    return lost
