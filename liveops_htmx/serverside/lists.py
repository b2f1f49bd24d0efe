"""A user's operations list, as the server side reads it: one socket for the whole page.

Rows are pushed to the owner's group when an operation starts, changes state or
stage, and at most once a second while it progresses. A row's ``seq`` is its
operation's, so a viewer drops a row older than the one it shows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
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


def row_seqs(ops: Iterable[LiveOperation]) -> dict[str, int]:
    """Each row's key and seq: what a list viewer holds."""
    return {rows.row_key(op): op.seq for op in ops}


def version(seqs: Mapping[str, int]) -> str:
    """A short digest of a list's rows and their seqs: what a poll of the list compares."""
    text = ",".join(f"{key}={seq}" for key, seq in sorted(seqs.items()))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def current_version(user_pk: Any) -> str:
    """The :func:`version` of ``user_pk``'s list as it is now, read without rendering.

    One query per operation model, of three columns each; the rows are the ones
    :func:`operations_of` returns.
    """
    limit = conf.LIST_SIZE
    found: list[tuple[Any, str, str, int]] = []
    for model in operation_models():
        newest = model._base_manager.filter(owner_id=user_pk).order_by("-created_at", "-pk")
        for pk, created, seq in newest.values_list("pk", "created_at", "seq")[:limit]:
            found.append((created, str(pk), rows.key_of(model, pk), seq))
    found.sort(key=lambda row: (row[0], row[1]), reverse=True)
    return version({key: seq for _, _, key, seq in found[:limit]})


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
        return ListSnapshot(html=rows.rows_snapshot(ops), rows=row_seqs(ops))
