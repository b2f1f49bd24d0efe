"""Writing an operation's row from its worker: one UPDATE per flush, ordered by ``seq``.

Each flush is a compare-and-set: ``UPDATE ... SET seq = <next> ... WHERE pk = %s AND
seq = <last seen> AND cancel_requested = <last seen>``. No row matches when another
writer got there first (a cancel request, a lost mark), when the row went away, or
when a write of this worker was rolled back with the caller's transaction: the row
is reread to learn which. Other writers only ever raise ``seq``.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.db import connections, models, router
from django.utils import timezone

from liveops_htmx.states import TERMINAL_STATES

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models import Field

    from liveops_htmx.models import LiveOperation

#: What a reread after a conflict reads: every field a rollback may have taken back.
REREAD = (
    "seq",
    "state",
    "status",
    "status_level",
    "percent",
    "progress",
    "stage",
    "stage_states",
    "log_tail",
    "log_count",
    "regions",
    "result_context",
    "error",
    "error_detail",
    "cancel_requested",
    "started_at",
    "finished_at",
)


class Ended(Exception):
    """The row ended without this worker (deleted, cancelled while pending, marked lost)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class RolledBack(Exception):
    """Writes of this worker were rolled back: ``row`` is what the database holds now."""

    def __init__(self, row: dict[str, Any]) -> None:
        super().__init__(f"rolled back to seq {row['seq']}")
        self.row = row


class Conflict(Exception):
    """No row matched on a connection that does not resolve conflicts (the side one)."""


def db_for(op: LiveOperation) -> str:
    return router.db_for_write(type(op), instance=op)


def write(
    op: LiveOperation,
    fields: Iterable[str],
    *,
    connection: BaseDatabaseWrapper | None = None,
    seq_above: int | None = None,
) -> tuple[int, int]:
    """UPDATE ``fields`` of the row at the next seq; return (base, seq).

    On the operation's own connection (the default) a conflict is resolved: after
    another writer, ``op`` learns the new seq and cancel flag and the write is made
    again; after a rollback, :class:`RolledBack` says what the row holds; after the
    end of the row, :class:`Ended`. On any other ``connection`` a conflict raises
    :class:`Conflict` and the caller writes on the operation's own connection.
    ``seq_above``: the new seq must be above it (viewers saw pushes up to it).
    """
    alias = db_for(op)
    own = connection is None
    conn = connections[alias] if connection is None else connection
    op.heartbeat_at = timezone.now()
    sql, targets = _update_statement(type(op), alias, frozenset(fields))
    values = [f.get_db_prep_save(getattr(op, f.attname), conn) for f in targets]
    pk = type(op)._meta.pk
    assert pk is not None
    key = pk.get_db_prep_value(op.pk, conn)
    while True:
        base = op.seq
        seq = max(base, seq_above or 0) + 1
        with conn.cursor() as cursor:
            cursor.execute(sql, [seq, *values, key, base, op.cancel_requested])
            written = cursor.rowcount
        if written:
            op.seq = seq
            return base, seq
        if not own:
            raise Conflict(f"no row of {op} matched on a side connection")
        rows = type(op)._base_manager.using(alias)  # only on a conflict: a queryset costs
        current = rows.filter(pk=op.pk).values(*REREAD).first()
        if current is None:
            raise Ended(f"{op} was deleted while it ran.")
        if current["state"] in TERMINAL_STATES:  # marked lost, or cancelled while pending
            raise Ended(f"{op} was finished elsewhere ({current['state']}).")
        if current["seq"] <= op.seq:
            # Others only raise seq: a row that is not past the seq this worker wrote
            # last lost those writes to a rollback (a cancel may have come after it).
            raise RolledBack(current)
        op.seq = current["seq"]
        op.cancel_requested = current["cancel_requested"]


@lru_cache(maxsize=256)
def _update_statement(
    model: type[LiveOperation], alias: str, fields: frozenset[str]
) -> tuple[str, list[Field[Any, Any]]]:
    """The UPDATE of one flush, built once per model, database and set of fields.

    A worker flushes the same few field sets thousands of times; building the
    statement through the ORM each time cost more than running it.
    """
    opts = model._meta
    quote = connections[alias].ops.quote_name
    targets: list[Field[Any, Any]] = []
    for name in sorted(fields | {"heartbeat_at"}):
        field = opts.get_field(name)
        assert isinstance(field, models.Field)
        targets.append(field)

    def column(name: str) -> str:
        field = opts.get_field(name)
        assert isinstance(field, models.Field) and field.column
        return quote(field.column)

    assert opts.pk is not None
    assignments = ", ".join(f"{column(f.name)} = %s" for f in targets)
    seq = column("seq")
    sql = (
        f"UPDATE {quote(opts.db_table)} SET {seq} = %s, {assignments}"
        f" WHERE {column(opts.pk.name)} = %s AND {seq} = %s AND {column('cancel_requested')} = %s"
    )
    return sql, targets


def cancel_requested(op: LiveOperation) -> bool:
    rows = type(op)._base_manager.using(db_for(op))
    return bool(rows.filter(pk=op.pk).values_list("cancel_requested", flat=True).first())
