"""The bare Channels relay: join a group, forward whatever text the group carries."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import path

RELAY_TYPE = "relay.message"


def groups_of(scope: dict[str, Any]) -> list[str]:
    """``?group=g`` (one operation) or ``?groups=g1,g2,...`` (a list page)."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if "groups" in query:
        return query["groups"][0].split(",")
    return query.get("group", ["bench-relay"])[:1]


class RelayConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    relay_groups: list[str] = []

    async def connect(self) -> None:
        self.relay_groups = groups_of(self.scope)
        for group in self.relay_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in self.relay_groups:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def relay_message(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["text"])


websocket_urlpatterns = [path("asgi/notifications/", RelayConsumer.as_asgi())]
