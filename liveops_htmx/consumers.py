"""The WebSocket consumer: verify the token, join the hub, send the snapshot, relay."""

from __future__ import annotations

import contextlib
import functools
import logging
from typing import Any
from urllib.parse import parse_qs

from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from channels.utils import await_many_dispatch

from liveops_htmx import hub, rendering, snapshots
from liveops_htmx.conf import conf
from liveops_htmx.lists import ListSubject
from liveops_htmx.outbox import RowOutbox
from liveops_htmx.security import (
    REASONS,
    CloseCode,
    SubscriptionRefused,
    check_user,
    read_subscription_token,
)
from liveops_htmx.snapshots import OperationSubject

logger = logging.getLogger("liveops_htmx.consumers")


class LiveOperationConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """Follow one operation: ``?subscription_token=`` names it and proves the right to see it.

    Refusals are accepted first and then closed with a 44xx code (see
    :class:`~liveops_htmx.security.CloseCode`): a socket closed before accept reaches
    the browser as 1006, which the htmx ws extension retries forever.
    """

    viewer: hub.Viewer | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # No channel per socket: the operation's hub is this process's only subscriber.
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        with contextlib.suppress(StopConsumer):
            await await_many_dispatch([receive], self.dispatch)

    def token(self) -> str | None:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        values = query.get("subscription_token")
        return values[0] if values else None

    async def connect(self) -> None:
        await self.accept()
        user = self.scope.get("user")
        try:
            sub = read_subscription_token(self.token())
            check_user(sub, user)
        except SubscriptionRefused as refused:
            await self.end(refused.code, refused.pk)
            return
        layer = get_channel_layer(conf.CHANNEL_LAYER)
        if layer is None:
            logger.error("No channel layer %r: live updates are off.", conf.CHANNEL_LAYER)
            await self.end(CloseCode.SERVER_ERROR)
            return
        if sub.kind == "list":
            subject: hub.Subject = ListSubject(str(sub.user_pk))
            viewer = self.viewer = hub.Viewer(self, RowOutbox())
            read = subject.load
        else:
            subject = OperationSubject(sub.model, sub.pk)
            viewer = self.viewer = hub.Viewer(self)
            read = functools.partial(snapshots.for_viewer, sub, user)
        try:
            joined = await hub.join(layer, subject, viewer)
            snap = await joined.read(read)
        except SubscriptionRefused as refused:
            await viewer.end(refused.code, refused.pk)
            return
        except Exception as exc:
            logger.warning("Subscribing a viewer to %s failed: %r", subject.group, exc)
            await viewer.end(CloseCode.SERVER_ERROR, None)
            return
        viewer.offer_snapshot(snap)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # Nothing is expected from the browser; only an oversized frame is worth a word.
        size = len(text_data.encode()) if text_data is not None else len(bytes_data or b"")
        if size > conf.CLIENT_FRAME_MAX:
            await self.end(CloseCode.TOO_BIG)

    async def disconnect(self, code: int) -> None:
        if self.viewer is not None:
            self.viewer.done = True
            hub.leave(self.viewer)

    # -- the hub.Socket protocol ------------------------------------------------------

    async def send_frame(self, text: str) -> None:
        # Straight to the server: every viewer gets every frame, and the two layers of
        # channels' send() cost about a twentieth of a fan-out's CPU (py-spy).
        await self.base_send({"type": "websocket.send", "text": text})

    async def end(self, code: int, pk: str | None = None) -> None:
        """Close with ``code``; a refusal first replaces the page's socket element."""
        reason = REASONS.get(code)
        if reason is not None and pk is not None:
            await self.send(text_data=rendering.refusal(pk, str(reason), code))
        await self.close(code)
