"""Requests from outside the worker: cancel (more to come). Each is a seq-ordered writer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import router, transaction
from django.utils import timezone, translation

from liveops_htmx import rendering
from liveops_htmx.groups import group_name
from liveops_htmx.models import State
from liveops_htmx.publisher import get_publisher

if TYPE_CHECKING:
    from channels.layers import BaseChannelLayer

    from liveops_htmx.models import LiveOperation


def _layer(layer: BaseChannelLayer | None) -> BaseChannelLayer | None:
    if layer is not None:
        return layer
    from channels.layers import get_channel_layer

    from liveops_htmx.conf import conf

    return get_channel_layer(conf.CHANNEL_LAYER)


def request_cancel(op: LiveOperation, layer: BaseChannelLayer | None = None) -> bool:
    """Ask ``op`` to stop; False if it had already finished or been asked.

    A pending operation is cancelled at once (no worker has it yet); a running one
    shows "Cancelling…" until its worker notices, at its next flush or check.
    """
    model = type(op)
    db = router.db_for_write(model, instance=op)
    with transaction.atomic(using=db):
        row = model._base_manager.using(db).select_for_update().get(pk=op.pk)
        if row.is_finished or row.cancel_requested:
            return False
        base = row.seq
        row.cancel_requested = True
        row.seq = base + 1
        fields = ["cancel_requested", "seq"]
        terminal = row.state == State.PENDING
        if terminal:
            row.state = State.CANCELLED
            row.finished_at = timezone.now()
            fields += ["state", "finished_at"]
        row.save(update_fields=fields)
        names = rendering.PARTS if terminal else ("status",)
        with translation.override(row.language or None):
            message = rendering.update_message(
                row, base, [n for n in names if n != "log"], lifecycle=True, terminal=terminal
            )
        target = _layer(layer)
        if target is not None:
            group = group_name(model._meta.label, row.pk)
            transaction.on_commit(
                lambda: get_publisher().publish(target, group, message, essential=True), using=db
            )
    for name in fields:
        setattr(op, name, getattr(row, name))
    return True
