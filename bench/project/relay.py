"""The bare Channels relay: join a group, forward whatever text the group carries."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import path

RELAY_TYPE = "relay.message"


def group_of(scope: dict[str, Any]) -> str:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return query.get("group", ["bench-relay"])[0]


class RelayConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    group = "bench-relay"

    async def connect(self) -> None:
        self.group = group_of(self.scope)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def relay_message(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["text"])


websocket_urlpatterns = [path("asgi/notifications/", RelayConsumer.as_asgi())]
