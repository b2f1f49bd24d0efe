"""A user's operations list: one socket for the whole page, a row per operation.

Rows are pushed to the owner's group (``liveops.user.<pk>``) when an operation
starts, changes state or stage, and at most once a second while it progresses. A
row's ``seq`` is its operation's, so a viewer drops a row older than the one it shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import translation
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from liveops_htmx import rendering
from liveops_htmx.conf import conf
from liveops_htmx.models import LiveOperation
from liveops_htmx.outbox import ListSnapshot
from liveops_htmx.publisher import get_publisher
from liveops_htmx.store import db_for

if TYPE_CHECKING:
    from channels.layers import BaseChannelLayer

ROW = "liveop.row"


def user_group(user_pk: object) -> str:
    return f"liveops.user.{user_pk}"


def operations_of(user_pk: Any, limit: int | None = None) -> list[LiveOperation]:
    """The newest operations of every operation model owned by ``user_pk``."""
    from liveops_htmx.control import operation_models

    limit = limit or conf.LIST_SIZE
    found: list[LiveOperation] = []
    for model in operation_models():
        found += model._base_manager.filter(owner_id=user_pk).order_by("-created_at", "-pk")[:limit]
    found.sort(key=lambda op: (op.created_at, str(op.pk)), reverse=True)
    return found[:limit]


def row_html(op: LiveOperation) -> str:
    with translation.override(op.language or None):
        return rendering.render_row(op)


def rows_html(ops: list[LiveOperation]) -> SafeString:
    return mark_safe("".join(row_html(op) for op in ops))


def row_message(op: LiveOperation) -> dict[str, Any]:
    return {"type": ROW, "key": rendering.row_key(op), "seq": op.seq, "html": row_html(op)}


def publish_row(op: LiveOperation, layer: BaseChannelLayer | None, message: dict[str, Any]) -> None:
    """Push ``message`` (a row of ``op``) to its owner's list, after commit."""
    if op.owner_id is None or layer is None:
        return
    group = user_group(op.owner_id)
    transaction.on_commit(
        lambda: get_publisher().publish(layer, group, message, essential=True),
        using=db_for(op),
    )


@dataclass(frozen=True)
class ListSubject:
    """The hub subject of one user's list."""

    user_pk: str
    pk: None = None

    @property
    def group(self) -> str:
        return user_group(self.user_pk)

    def load(self) -> ListSnapshot:
        ops = operations_of(self.user_pk)
        html = format_html(
            '<ul id="{}" hx-swap-oob="innerHTML">{}</ul>', rendering.LIST_ROWS, rows_html(ops)
        )
        return ListSnapshot(html=html, rows={rendering.row_key(op): op.seq for op in ops})
