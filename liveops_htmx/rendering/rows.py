"""The fragments of a user's operations list: one row per operation."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.utils import translation
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from liveops_htmx.rendering.context import context
from liveops_htmx.rendering.fragments import inert
from liveops_htmx.rendering.templates import partial

if TYPE_CHECKING:
    from liveops_htmx.models import LiveOperation

LIST_ROWS = "liveops-rows"
LIST_SOCKET = "liveops-socket"
#: The list's fallback element (see :mod:`.transports`).
LIST_FALLBACK = "liveops-fallback"


def row_key(op: LiveOperation) -> str:
    """The row's key in a list: unique across operation models."""
    return key_of(type(op), op.pk)


def key_of(model: type[LiveOperation], pk: object) -> str:
    """The key of the row of ``model``'s operation ``pk``."""
    return f"{model._meta.app_label}-{model._meta.model_name}-{pk}"


def row(op: LiveOperation) -> str:
    """One operation's row in its owner's list (the ``row`` partial), in its language."""
    with translation.override(op.language or None):
        ctx = context(op)
        ctx["row_id"] = f"liveop-row-{row_key(op)}"
        html: str = partial(op, "row").render(ctx)
    return html.strip()


def rows(ops: Iterable[LiveOperation]) -> SafeString:
    return mark_safe("".join(row(op) for op in ops))


def rows_snapshot(ops: Iterable[LiveOperation]) -> str:
    """Every row, replacing the list's content: what a list viewer gets first.

    It also makes the list's fallback inert: its transport delivers.
    """
    return format_html(
        '<ul id="{}" hx-swap-oob="innerHTML">{}</ul>{}',
        LIST_ROWS,
        rows(ops),
        mark_safe(inert(LIST_FALLBACK)),
    )


def row_insert(row_html: str) -> str:
    """Put a row new to the list at its top."""
    return format_html('<div hx-swap-oob="afterbegin:#{}">{}</div>', LIST_ROWS, mark_safe(row_html))
