"""Letting one viewer in, the same for a socket and an event stream.

What a subscription follows (an operation, or a user's list), the outbox its viewer
gets, and the read that admits it; then the first snapshot, read after the viewer
joined its hub. A read that fails is tried again, ever less often, with the viewer
kept: closing would make htmx reconnect at once, and start its backoff over with
every connection that opened.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from liveops_htmx.security import Subscription, SubscriptionRefused
from liveops_htmx.serverside import hub, snapshots
from liveops_htmx.serverside.fanout import Socket, Viewer
from liveops_htmx.serverside.lists import ListSubject
from liveops_htmx.serverside.outbox import RowOutbox

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

    from liveops_htmx.serverside.reads import Subject

logger = logging.getLogger("liveops_htmx.serverside")

#: Seconds before a failed first read of the row is tried again, doubling up to the max.
FIRST_READ_RETRY = 1.0
FIRST_READ_RETRY_MAX = 30.0


def viewer_for(
    sub: Subscription,
    user: AbstractBaseUser | AnonymousUser | None,
    socket: Socket,
) -> tuple[Subject, Viewer, Callable[[], Any]]:
    """What ``sub`` follows, a viewer on ``socket``, and the read that admits it."""
    if sub.kind == "list":
        subject: Subject = ListSubject(str(sub.user_pk))
        return subject, Viewer(socket, RowOutbox()), subject.load
    subject = snapshots.OperationSubject(sub.model, sub.pk)
    return subject, Viewer(socket), functools.partial(snapshots.for_viewer, sub, user)


async def first_snapshot(joined: hub.Hub, viewer: Viewer, read: Callable[[], Any]) -> None:
    """Read the viewer's snapshot and offer it; a failed read is tried again."""
    pause = FIRST_READ_RETRY
    while True:
        try:
            snap = await joined.read(read)
        except SubscriptionRefused as refused:
            await viewer.end(refused.code)
            return
        except Exception as exc:
            logger.warning("Reading %s failed, again in %.0f s: %r", joined.group, pause, exc)
            await asyncio.sleep(pause)
            pause = min(pause * 2, FIRST_READ_RETRY_MAX)
            continue
        if isinstance(snap, snapshots.Admitted):
            viewer.outbox.can_control = snap.can_control
            snap = snap.snapshot
        viewer.offer_snapshot(snap)
        return
