"""Writing an operation's row from its worker: one UPDATE per flush, ordered by ``seq``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import router
from django.utils import timezone

from liveops_htmx.models import TERMINAL_STATES

if TYPE_CHECKING:
    from liveops_htmx.models import LiveOperation
    from liveops_htmx.progress import Progress


def db_for(op: LiveOperation) -> str:
    return router.db_for_write(type(op), instance=op)


def write(progress: Progress, fields: set[str]) -> tuple[int, int]:
    """UPDATE ``fields`` of the row at the next seq; return (base, seq).

    The WHERE clause names the seq and cancel flag this worker last saw. When another
    writer got there first (a cancel request, a lost mark), no row matches: reread
    them, learn why, and write again — or stop, if the operation ended elsewhere.
    """
    from liveops_htmx.progress import OperationCancelled

    op = progress.op
    rows = type(op)._base_manager.using(db_for(op))
    op.heartbeat_at = timezone.now()
    values = {name: getattr(op, name) for name in fields}
    values["heartbeat_at"] = op.heartbeat_at
    while True:
        base = op.seq
        written = rows.filter(pk=op.pk, seq=base, cancel_requested=op.cancel_requested).update(
            seq=base + 1, **values
        )
        if written:
            op.seq = base + 1
            return base, base + 1
        current = rows.filter(pk=op.pk).values("seq", "cancel_requested", "state").first()
        if current is None:
            progress.finished = True
            raise OperationCancelled(f"{op} was deleted while it ran.")
        if current["state"] in TERMINAL_STATES:  # marked lost, or cancelled while pending
            progress.finished = True
            raise OperationCancelled(f"{op} was finished elsewhere ({current['state']}).")
        op.seq = current["seq"]
        op.cancel_requested = current["cancel_requested"]


def cancel_requested(op: LiveOperation) -> bool:
    rows = type(op)._base_manager.using(db_for(op))
    return bool(rows.filter(pk=op.pk).values_list("cancel_requested", flat=True).first())
