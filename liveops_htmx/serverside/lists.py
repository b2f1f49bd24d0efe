"""A user's operations list, as the server side reads it: one socket for the whole page.

Rows are pushed to the owner's group when an operation starts, changes state or
stage, and at most once a second while it progresses. A row's ``seq`` is its
operation's, so a viewer drops a row older than the one it shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from liveops_htmx.conf import conf
from liveops_htmx.registry import operation_models
from liveops_htmx.rendering import protocol, rows
from liveops_htmx.serverside.outbox import ListSnapshot

if TYPE_CHECKING:
    from liveops_htmx.models import LiveOperation


def operations_of(user_pk: Any, limit: int | None = None) -> list[LiveOperation]:
    """The newest operations of every operation model owned by ``user_pk``."""
    limit = limit or conf.LIST_SIZE
    found: list[LiveOperation] = []
    for model in operation_models():
        found += model._base_manager.filter(owner_id=user_pk).order_by("-created_at", "-pk")[:limit]
    found.sort(key=lambda op: (op.created_at, str(op.pk)), reverse=True)
    return found[:limit]


@dataclass(frozen=True)
class ListSubject:
    """The hub subject of one user's list."""

    user_pk: str
    pk: None = None

    @property
    def group(self) -> str:
        return protocol.user_group(self.user_pk)

    def load(self) -> ListSnapshot:
        ops = operations_of(self.user_pk)
        return ListSnapshot(
            html=rows.rows_snapshot(ops), rows={rows.row_key(op): op.seq for op in ops}
        )
