"""Pushing an operation's row to its owner's list."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from liveops_htmx.rendering import protocol
from liveops_htmx.workerside.persist import db_for
from liveops_htmx.workerside.publisher import get_publisher

if TYPE_CHECKING:
    from channels.layers import BaseChannelLayer

    from liveops_htmx.models import LiveOperation


def publish_row(
    op: LiveOperation, layer: BaseChannelLayer | None, *, at_once: bool = False
) -> None:
    """Render ``op``'s row now and push it to its owner's list: at once, or after commit."""
    if op.owner_id is None or layer is None:
        return
    message = protocol.row_message(op)
    group = message[protocol.GROUP]

    def push() -> None:
        get_publisher().publish(layer, group, message, essential=True)

    if at_once:
        push()
    else:
        transaction.on_commit(push, using=db_for(op))
