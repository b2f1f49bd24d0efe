"""How many live connections each visitor holds in this serving process, and the cap.

Every WebSocket the consumer accepts takes a *slot* of its visitor for as long as it
is open; a visitor who already holds ``LIVEOPS["SOCKETS_PER_USER"]`` slots in this
process is refused with close code 4429 (and a notice). The count is per serving
process: with N processes behind a balancer a visitor may hold up to N times as
many. It caps what one account or browser can pin on a server; it is no rate limit
(put that in the proxy, see ``docs/security.md``).

A visitor is (:func:`visitor_key`):

- a signed-in user: their user pk, however many browsers they use;
- an anonymous visitor with a session that exists on the server: the session key
  (a made-up session cookie does not count: the session is looked up first);
- otherwise the client address the server reports (``scope["client"]``; behind a
  proxy, run the server with its proxy-headers option so that this is the client's,
  not the proxy's).

An event stream takes a slot the same way, for the life of its stream. A poll holds
no connection, so it takes none.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from channels.db import database_sync_to_async

from liveops_htmx.conf import conf


class Slots:
    """Open connections per visitor in this process (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: Counter[str] = Counter()

    def acquire(self, key: str, limit: int | None = None) -> bool:
        """Take a slot for ``key`` unless it holds ``limit`` already (None: no limit)."""
        with self._lock:
            if limit is not None and self._held[key] >= limit:
                return False
            self._held[key] += 1
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._held[key] -= 1
            if self._held[key] <= 0:
                del self._held[key]

    def held(self, key: str) -> int:
        with self._lock:
            return self._held[key]

    @contextmanager
    def hold(self, key: str, limit: int | None = None) -> Iterator[bool]:
        """Hold a slot for the block; yields False (holding none) if ``key`` is at the cap.

        ``limit`` defaults to ``LIVEOPS["SOCKETS_PER_USER"]``.
        """
        admitted = self.acquire(key, conf.SOCKETS_PER_USER if limit is None else limit)
        try:
            yield admitted
        finally:
            if admitted:
                self.release(key)


#: The slots of this process, for every transport.
slots = Slots()


def visitor_key(user: Any, session_key: str | None, client: str | None) -> str:
    """Who holds a connection: the user, else the (existing) session, else the address."""
    if user is not None and getattr(user, "is_authenticated", False):
        return f"user:{user.pk}"
    if session_key:
        return f"session:{session_key}"
    if client:
        return f"client:{client}"
    return "anonymous"


def _existing_session_key(session: Any) -> str | None:
    # Reading the session loads it; a key the store does not know becomes None.
    session.get("_")
    key = session.session_key
    return str(key) if key else None


async def request_visitor_key(request: Any, user: Any) -> str:
    """:func:`visitor_key` of an HTTP request (an event stream's)."""
    session_key = None
    session = getattr(request, "session", None)
    authenticated = user is not None and getattr(user, "is_authenticated", False)
    if not authenticated and session is not None and getattr(session, "session_key", None):
        session_key = await database_sync_to_async(_existing_session_key)(session)
    return visitor_key(user, session_key, request.META.get("REMOTE_ADDR"))


async def scope_visitor_key(scope: Any) -> str:
    """:func:`visitor_key` of a WebSocket's ASGI scope (after ``AuthMiddlewareStack``)."""
    user = scope.get("user")
    session_key = None
    if user is None or not getattr(user, "is_authenticated", False):
        session = scope.get("session")
        if session is not None and getattr(session, "session_key", None):
            session_key = await database_sync_to_async(_existing_session_key)(session)
    client = scope.get("client")
    return visitor_key(user, session_key, str(client[0]) if client else None)
