"""A connection of the worker's own, for progress written while ``run()`` holds a transaction.

A flush inside the caller's ``transaction.atomic()`` would otherwise be seen by
nobody until the commit. On PostgreSQL the worker thread keeps a second connection in
autocommit mode, with a short lock timeout: progress written there is committed, and
pushed, at once. Where that is not possible (SQLite has one writer; other backends
are not tried), or once it fails inside a transaction (the row is locked by that
transaction, or not visible outside it), the flush goes to the caller's connection:
it is pushed at once and persisted at the commit.

The connection comes from ``django.db.connections.create_connection()``, which
builds it from the same settings as the operation's own.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import TYPE_CHECKING

from django.db import connections

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger("liveops_htmx.workerside")

#: Backends whose side connection can write while another connection holds a transaction.
VENDORS = frozenset({"postgresql"})
#: How long a side write waits for a row lock before the flush goes to the main connection.
LOCK_TIMEOUT = "500ms"


class _Held(dict[str, "BaseDatabaseWrapper"]):
    """A thread's side connections, closed when the thread ends without closing them
    (a worker of the user's own that never reaches :func:`close_all`)."""

    def __del__(self) -> None:
        for conn in self.values():
            with contextlib.suppress(Exception):
                conn.close()


_local = threading.local()


def side_connection(alias: str) -> BaseDatabaseWrapper | None:
    """This thread's side connection to ``alias``, or None where there is none to have."""
    if connections[alias].vendor not in VENDORS:
        return None
    held: _Held = _local.__dict__.setdefault("connections", _Held())
    conn = held.get(alias)
    if conn is None:
        create = getattr(connections, "create_connection", None)
        if create is None:  # pragma: no cover - a Django without it
            return None
        conn = held[alias] = create(alias)
    if conn.connection is None:
        try:
            conn.ensure_connection()
            with conn.cursor() as cursor:
                cursor.execute("SET lock_timeout = %s", [LOCK_TIMEOUT])
        except Exception as exc:
            logger.warning("No side connection to %s: %r", alias, exc)
            forget(alias)
            return None
    return conn


def forget(alias: str) -> None:
    """Close this thread's side connection to ``alias`` (it failed, or the run ended)."""
    held = _local.__dict__.get("connections", {})
    conn = held.pop(alias, None)
    if conn is not None:
        with contextlib.suppress(Exception):  # closing a broken connection may fail too
            conn.close()


def close_all() -> None:
    """Close every side connection of this thread (a worker does, after each run)."""
    for alias in list(_local.__dict__.get("connections", {})):
        forget(alias)
