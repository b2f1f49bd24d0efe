"""Writing an operation's row from its worker: one UPDATE per flush, ordered by ``seq``."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.db import connections, models, router
from django.utils import timezone

from liveops_htmx.states import TERMINAL_STATES

if TYPE_CHECKING:
    from django.db.models import Field

    from liveops_htmx.models import LiveOperation


class Ended(Exception):
    """The row ended without this worker (deleted, cancelled while pending, marked lost)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def db_for(op: LiveOperation) -> str:
    return router.db_for_write(type(op), instance=op)


def write(op: LiveOperation, fields: Iterable[str]) -> tuple[int, int]:
    """UPDATE ``fields`` of the row at the next seq; return (base, seq).

    The WHERE clause names the seq and cancel flag this worker last saw. When another
    writer got there first (a cancel request, a lost mark), no row matches: reread
    both, and write again; ``op`` learns the new cancel flag. Raises :class:`Ended`
    if the operation ended elsewhere or was deleted.
    """
    alias = db_for(op)
    op.heartbeat_at = timezone.now()
    sql, targets = _update_statement(type(op), alias, frozenset(fields))
    connection = connections[alias]
    values = [f.get_db_prep_save(getattr(op, f.attname), connection) for f in targets]
    pk = type(op)._meta.pk
    assert pk is not None
    key = pk.get_db_prep_value(op.pk, connection)
    while True:
        base = op.seq
        with connection.cursor() as cursor:
            cursor.execute(sql, [base + 1, *values, key, base, op.cancel_requested])
            written = cursor.rowcount
        if written:
            op.seq = base + 1
            return base, base + 1
        rows = type(op)._base_manager.using(alias)  # only on a conflict: a queryset costs
        current = rows.filter(pk=op.pk).values("seq", "cancel_requested", "state").first()
        if current is None:
            raise Ended(f"{op} was deleted while it ran.")
        if current["state"] in TERMINAL_STATES:  # marked lost, or cancelled while pending
            raise Ended(f"{op} was finished elsewhere ({current['state']}).")
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
