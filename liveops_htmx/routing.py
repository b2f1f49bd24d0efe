"""WebSocket routes; serve them inside ``AllowedHostsOriginValidator(AuthMiddlewareStack(...))``."""

from __future__ import annotations

from django.urls import path

from liveops_htmx.consumers import LiveOperationConsumer

websocket_urlpatterns = [
    path("asgi/notifications/", LiveOperationConsumer.as_asgi(), name="liveops_htmx_ws"),
]
