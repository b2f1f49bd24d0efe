"""The ASGI application of every bench system, routed as each project documents."""

from __future__ import annotations

import gc
import os

import django
from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.project.settings")
django.setup()

# Every compared server runs with the collector tuned as the README recommends for a
# server with many sockets; BENCH_GC0=700 gives Python's default back.
gc.set_threshold(int(os.environ.get("BENCH_GC0", "20000")), 10, 10)

from django.conf import settings  # noqa: E402


def _websocket_routes() -> list:
    if settings.BENCH_SYSTEM == "htmx":
        from liveops_htmx.routing import websocket_urlpatterns

        return list(websocket_urlpatterns)
    if settings.BENCH_SYSTEM == "djl":
        from liveops.routing import websocket_urlpatterns as djl_routes

        return list(djl_routes)
    from bench.project.relay import websocket_urlpatterns as relay_routes

    return list(relay_routes)


application = ProtocolTypeRouter(
    {
        "http": get_asgi_application(),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(_websocket_routes()))
        ),
    }
)
