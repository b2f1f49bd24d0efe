"""Reading an operation's snapshot from the database (sync; call through a thread)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.utils import translation

from liveops_htmx import control
from liveops_htmx.registry import model_for
from liveops_htmx.rendering import fragments, protocol
from liveops_htmx.security import CloseCode, Subscription, SubscriptionRefused
from liveops_htmx.serverside.outbox import Snapshot

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

    from liveops_htmx.models import LiveOperation

# The newest snapshot per operation: a connect storm renders it once per seq. The
# creation time is in the key because a deleted row's pk may be handed out again.
_cache: dict[tuple[str, str, str], tuple[int, Snapshot]] = {}
_cache_lock = threading.Lock()
_CACHE_MAX = 1024


def fetch(label: str, pk: str) -> LiveOperation:
    try:
        model = model_for(label)
    except LookupError:
        raise SubscriptionRefused(CloseCode.NOT_FOUND) from None
    try:
        return model._default_manager.get(pk=pk)
    except (ObjectDoesNotExist, ValidationError, ValueError, TypeError):
        raise SubscriptionRefused(CloseCode.NOT_FOUND) from None


def of(op: LiveOperation) -> Snapshot:
    """Render (or reuse) the snapshot of ``op`` as it was just read."""
    key = (op._meta.label, str(op.pk), op.created_at.isoformat() if op.created_at else "")
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] == op.seq:
        return hit[1]
    with translation.override(language_of(op)):
        snap = Snapshot(
            seq=op.seq,
            parts=fragments.snapshot_parts(op),
            last_line=op.log_count,
            terminal=op.is_finished,
            controller_parts=fragments.controller_parts(op, fragments.PARTS, oob=True),
        )
    with _cache_lock:
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        _cache[key] = (op.seq, snap)
    return snap


def clear_cache(**kwargs: Any) -> None:
    with _cache_lock:
        _cache.clear()


def language_of(op: LiveOperation) -> str | None:
    """The language an operation renders in, live and in snapshots alike."""
    return getattr(op, "language", None) or None


_shared = threading.local()


@contextmanager
def shared_reads() -> Iterator[None]:
    """Within this block (one thread), :func:`fresh` reads each operation once."""
    _shared.rows = {}
    try:
        yield
    finally:
        del _shared.rows


def fresh(label: str, pk: str) -> LiveOperation:
    """Read the operation; one whose worker died is marked lost first, so no page spins."""
    rows: dict[tuple[str, str], LiveOperation] | None = getattr(_shared, "rows", None)
    if rows is not None and (label, pk) in rows:
        return rows[(label, pk)]
    op = fetch(label, pk)
    if control.is_stale(op) and control.mark_lost(op):
        op = fetch(label, pk)
    if rows is not None:
        rows[(label, pk)] = op
    return op


@dataclass(frozen=True)
class Admitted:
    """A viewer let in: the snapshot, and whether it may control the operation."""

    snapshot: Snapshot
    can_control: bool


def for_viewer(sub: Subscription, user: AbstractBaseUser | AnonymousUser | None) -> Admitted:
    """Read the operation of ``sub``; admit ``user`` if they may see it.

    Whether they may also control it (``user_can_control``) is decided here, once:
    it picks the rendering of the controls the viewer gets from then on.
    """
    from django.contrib.auth.models import AnonymousUser

    viewer = user if user is not None else AnonymousUser()
    op = fresh(sub.model, sub.pk)
    if not op.user_can_view(viewer):
        raise SubscriptionRefused(CloseCode.FORBIDDEN, sub)
    return Admitted(of(op), bool(op.user_can_control(viewer)))


def current(label: str, pk: str) -> Snapshot | None:
    """Snapshot for a subscription's periodic check; None if the operation is gone."""
    try:
        return of(fresh(label, pk))
    except SubscriptionRefused:
        return None


@dataclass(frozen=True)
class OperationSubject:
    """The hub subject of one operation."""

    label: str
    pk: str

    @property
    def group(self) -> str:
        return protocol.operation_group(self.label, self.pk)

    def load(self) -> Snapshot | None:
        return current(self.label, self.pk)
