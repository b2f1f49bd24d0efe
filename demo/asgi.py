"""The demo's one ASGI application: pages, static files and the live socket."""

from __future__ import annotations

import os
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")
django.setup()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402

from liveops_htmx.routing import websocket_urlpatterns  # noqa: E402


async def refuse_websockets(scope: Any, receive: Any, send: Any) -> None:
    """Refuse every WebSocket upgrade (403), as some proxies do: ``DEMO_WEBSOCKETS=refuse``."""
    await receive()  # websocket.connect
    await send({"type": "websocket.close", "code": 1008})  # closed before accept: a 403


websockets = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
application = ProtocolTypeRouter(
    {
        "http": ASGIStaticFilesHandler(get_asgi_application()),
        "websocket": refuse_websockets
        if os.environ.get("DEMO_WEBSOCKETS") == "refuse"
        else websockets,
    }
)
