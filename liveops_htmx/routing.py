"""WebSocket routes; serve them inside ``AllowedHostsOriginValidator(AuthMiddlewareStack(...))``."""

from __future__ import annotations

from django.urls import path

from liveops_htmx.conf import conf
from liveops_htmx.consumers import LiveOperationConsumer

#: Routed at ``LIVEOPS["WS_URL"]`` (read when this module is imported), where pages connect.
websocket_urlpatterns = [
    path(conf.WS_URL.lstrip("/"), LiveOperationConsumer.as_asgi(), name="liveops_htmx_ws"),
]
