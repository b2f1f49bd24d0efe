"""Polling: what changed since the seq a page shows, read from the row (sync; database).

A poll needs no hub: it compares the seq the page holds with the row's. While they
are equal the answer is empty, and costs one query of a few columns (plus what the
project's authentication reads). Otherwise it is the snapshot, which brings the page
from any seq to the current one (each part, the log tail included, is replaced
whole), rendered once per seq for every poller.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError

from liveops_htmx import control
from liveops_htmx.registry import model_for
from liveops_htmx.security import CloseCode, Subscription, SubscriptionRefused
from liveops_htmx.serverside import lists, snapshots
from liveops_htmx.serverside.outbox import ListSnapshot

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

    from liveops_htmx.models import LiveOperation

#: The columns a poll reads while nothing changed: the seq, and what the view
#: permission and the lost-worker check use (other fields load if an override reads them).
POLL_FIELDS = ("seq", "owner", "state", "heartbeat_at", "started_at")


def viewable(sub: Subscription, user: AbstractBaseUser | AnonymousUser | None) -> LiveOperation:
    """The row of ``sub``'s operation (a few columns), if ``user`` may see it.

    Raises :class:`~liveops_htmx.security.SubscriptionRefused` if it is gone or
    ``user`` may not see it.
    """
    from django.contrib.auth.models import AnonymousUser

    try:
        model = model_for(sub.model)
    except LookupError:
        raise SubscriptionRefused(CloseCode.NOT_FOUND, sub) from None
    try:
        row = model._default_manager.only(*POLL_FIELDS).filter(pk=sub.pk).first()
    except (ValidationError, ValueError, TypeError):
        row = None
    if row is None:
        raise SubscriptionRefused(CloseCode.NOT_FOUND, sub)
    if not row.user_can_view(user if user is not None else AnonymousUser()):
        raise SubscriptionRefused(CloseCode.FORBIDDEN, sub)
    return row


def operation_since(
    sub: Subscription, user: AbstractBaseUser | AnonymousUser | None, since: str
) -> snapshots.Admitted | None:
    """None while the operation of ``sub`` is at seq ``since``; else its snapshot now.

    Refused as :func:`viewable` is.
    """
    row = viewable(sub, user)
    if str(row.seq) == since and not control.is_stale(row):
        return None
    return snapshots.for_viewer(sub, user)  # marks a lost worker's operation lost


def list_since(sub: Subscription, since: str) -> ListSnapshot | None:
    """None while the list of ``sub``'s user has the version ``since``; else the list now."""
    user_pk: Any = sub.user_pk
    if lists.current_version(user_pk) == since:
        return None
    return lists.ListSubject(str(user_pk)).load()
