"""Settings: one ``LIVEOPS`` dict merged over defaults, read on every access.

Nothing is cached, so ``override_settings(LIVEOPS={...})`` just works in tests.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULTS: dict[str, Any] = {
    # htmx major version the {% liveop %} tag writes attributes for: 2 or 4.
    "HTMX_VERSION": 2,
    # Scripts {% liveops_scripts %} loads, in order: htmx, then its ws extension (static
    # paths, or URLs starting with "/", "http://" or "https://"). None: django-htmx's
    # bundled copies for HTMX_VERSION.
    "HTMX_SCRIPTS": None,
    # Alias in CHANNEL_LAYERS used for pushes and subscriptions.
    "CHANNEL_LAYER": "default",
    # Path the WebSocket routing serves; the tag builds ws-connect URLs from it.
    "WS_URL": "/asgi/notifications/",
    # Seconds a subscription token stays valid (a page left open longer reloads).
    "TOKEN_MAX_AGE": 24 * 60 * 60,
    # Minimum seconds between two coalesced progress/log flushes of one operation.
    "FLUSH_INTERVAL": 0.1,
    # Log lines kept in the database and sent in a snapshot.
    "LOG_TAIL": 100,
    # Characters kept of one log line or status text; the rest is cut with an ellipsis.
    "TEXT_MAX": 1000,
    # Seconds one group_send may take before it counts as failed.
    "PUBLISH_TIMEOUT": 2.0,
    # Pushes waiting in a worker process before progress pushes are dropped.
    "PUBLISH_QUEUE_MAX": 10_000,
    # Largest client frame (bytes) the consumer tolerates before closing with 1009.
    "CLIENT_FRAME_MAX": 4096,
    # WebSockets and event streams one visitor (user, else session, else client address)
    # may hold open in one serving process; the next is refused (4429). None: no limit.
    "SOCKETS_PER_USER": 100,
    # Channels a serving process's event loop receives pushes on, groups shared out
    # over them: more receive in parallel and hold more (see docs/architecture.md).
    "INBOX_CHANNELS": 8,
    # Seconds a finished operation's WebSocket waits for the page to close it (its last
    # frame swaps out the socket element, so htmx does) before the server closes it.
    "CLOSE_GRACE": 5.0,
    # Seconds between a subscription's checks of the database for missed pushes.
    "WATCHDOG_INTERVAL": 15.0,
    # Where op.start() runs operations: "thread", "celery", "django_tasks", "eager",
    # or the dotted path of an object with a submit(label, pk) method.
    "RUNNER": "thread",
    # Worker threads of the thread runner (per serving process).
    "THREAD_WORKERS": 4,
    # Seconds without a heartbeat after which a running operation is marked lost.
    "LOST_AFTER": 60.0,
    # Rows in a user's operations list.
    "LIST_SIZE": 50,
    # Template the bundled operation and list pages extend.
    "BASE_TEMPLATE": "liveops_htmx/base.html",
    # How pages follow operations: "auto" (a WebSocket; Server-Sent Events where it
    # cannot open; polling where neither delivers), or always "websocket", "sse", "poll".
    "TRANSPORT": "auto",
    # Seconds between two requests of a page that follows by polling.
    "POLL_INTERVAL": 2.0,
    # "auto": seconds a page waits for the first frame of its WebSocket (or event
    # stream) before it moves to the next transport; an error moves it at once.
    "FALLBACK_AFTER": 10.0,
}

#: The values of ``LIVEOPS["TRANSPORT"]``.
TRANSPORTS: tuple[str, ...] = ("auto", "websocket", "sse", "poll")


#: An HTMX_SCRIPTS entry starting with one of these is used as it is, not as a static path.
SCRIPT_URL_PREFIXES = ("/", "http://", "https://")


class LiveopsSettings:
    """Typed view of ``settings.LIVEOPS`` over :data:`DEFAULTS`."""

    def _get(self, name: str) -> Any:
        user = getattr(settings, "LIVEOPS", None) or {}
        return user.get(name, DEFAULTS[name])

    @property
    def user_keys(self) -> set[str]:
        return set(getattr(settings, "LIVEOPS", None) or {})

    @property
    def HTMX_VERSION(self) -> int:
        return int(self._get("HTMX_VERSION"))

    @property
    def HTMX_SCRIPTS(self) -> tuple[str, ...] | None:
        scripts = self._get("HTMX_SCRIPTS")
        if isinstance(scripts, str):  # not one script per character (check E008 says so)
            raise ImproperlyConfigured("LIVEOPS['HTMX_SCRIPTS'] must be a list, not a string.")
        return None if scripts is None else tuple(scripts)

    @property
    def CHANNEL_LAYER(self) -> str:
        return str(self._get("CHANNEL_LAYER"))

    @property
    def WS_URL(self) -> str:
        return str(self._get("WS_URL"))

    @property
    def TOKEN_MAX_AGE(self) -> int:
        return int(self._get("TOKEN_MAX_AGE"))

    @property
    def FLUSH_INTERVAL(self) -> float:
        return float(self._get("FLUSH_INTERVAL"))

    @property
    def LOG_TAIL(self) -> int:
        return int(self._get("LOG_TAIL"))

    @property
    def TEXT_MAX(self) -> int:
        return int(self._get("TEXT_MAX"))

    @property
    def PUBLISH_TIMEOUT(self) -> float:
        return float(self._get("PUBLISH_TIMEOUT"))

    @property
    def PUBLISH_QUEUE_MAX(self) -> int:
        return int(self._get("PUBLISH_QUEUE_MAX"))

    @property
    def CLIENT_FRAME_MAX(self) -> int:
        return int(self._get("CLIENT_FRAME_MAX"))

    @property
    def SOCKETS_PER_USER(self) -> int | None:
        value = self._get("SOCKETS_PER_USER")
        return None if value is None else int(value)

    @property
    def INBOX_CHANNELS(self) -> int:
        return int(self._get("INBOX_CHANNELS"))

    @property
    def CLOSE_GRACE(self) -> float:
        return float(self._get("CLOSE_GRACE"))

    @property
    def WATCHDOG_INTERVAL(self) -> float:
        return float(self._get("WATCHDOG_INTERVAL"))

    @property
    def RUNNER(self) -> str:
        return str(self._get("RUNNER"))

    @property
    def THREAD_WORKERS(self) -> int:
        return int(self._get("THREAD_WORKERS"))

    @property
    def LOST_AFTER(self) -> float:
        return float(self._get("LOST_AFTER"))

    @property
    def LIST_SIZE(self) -> int:
        return int(self._get("LIST_SIZE"))

    @property
    def BASE_TEMPLATE(self) -> str:
        return str(self._get("BASE_TEMPLATE"))

    @property
    def TRANSPORT(self) -> str:
        return str(self._get("TRANSPORT"))

    @property
    def POLL_INTERVAL(self) -> float:
        return float(self._get("POLL_INTERVAL"))

    @property
    def FALLBACK_AFTER(self) -> float:
        return float(self._get("FALLBACK_AFTER"))

    @property
    def HEARTBEAT_INTERVAL(self) -> float:
        """A running operation's heartbeat period: four beats fit in LOST_AFTER."""
        return self.LOST_AFTER / 4


conf = LiveopsSettings()
