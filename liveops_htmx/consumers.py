"""The WebSocket consumer: verify the token, join the hub, send the snapshot, relay."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import parse_qs

from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.utils import await_many_dispatch

from liveops_htmx._compat import within
from liveops_htmx.conf import conf
from liveops_htmx.layer import configured_layer
from liveops_htmx.rendering.context import element_id
from liveops_htmx.rendering.fragments import SOCKET, refusal
from liveops_htmx.rendering.rows import LIST_SOCKET
from liveops_htmx.security import (
    REASONS,
    CloseCode,
    Subscription,
    SubscriptionRefused,
    check_user,
    read_subscription_token,
)
from liveops_htmx.serverside import hub, limits, viewers
from liveops_htmx.serverside.fanout import Viewer

logger = logging.getLogger("liveops_htmx.consumers")


class LiveOperationConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """Follow one operation (or a user's list): ``?subscription_token=`` names it.

    Refusals are accepted first and then closed with a 44xx code (see
    :class:`~liveops_htmx.security.CloseCode`), after a notice that replaces the
    page's socket element: a socket closed before accept reaches the browser as
    1006, and one whose element stays is retried by the htmx ws extension.

    Each open socket holds a slot of its visitor (:mod:`~.serverside.limits`); past
    ``LIVEOPS["SOCKETS_PER_USER"]`` in this process, the next is refused with 4429.
    """

    viewer: Viewer | None = None
    sub: Subscription | None = None
    _first: asyncio.Future[None] | None = None
    slot: str | None = None  # the visitor whose slot this socket holds
    gone = False  # the client closed the socket (or dropped it)
    _gone: asyncio.Event | None = None  # set with ``gone`` while a close waits for it

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # No channel per socket: the hub is this process's only subscriber.
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            with contextlib.suppress(StopConsumer):
                await await_many_dispatch([receive], self.dispatch)
        finally:
            if self.slot is not None:
                limits.slots.release(self.slot)
                self.slot = None

    def token(self) -> str | None:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        values = query.get("subscription_token")
        return values[0] if values else None

    async def connect(self) -> None:
        await self.accept()
        user = self.scope.get("user")
        try:
            sub = self.sub = read_subscription_token(self.token())
            check_user(sub, user)
        except SubscriptionRefused as refused:
            self.sub = self.sub or refused.sub
            await self.end(refused.code)
            return
        visitor = await limits.scope_visitor_key(self.scope)
        if not limits.slots.acquire(visitor, conf.SOCKETS_PER_USER):
            # The key may be a session key: it stays out of the log.
            logger.info("Refused a socket: its visitor holds %s already.", conf.SOCKETS_PER_USER)
            await self.end(CloseCode.TOO_MANY)
            return
        self.slot = visitor
        layer = configured_layer()
        if layer is None:
            logger.error("No channel layer %r: live updates are off.", conf.CHANNEL_LAYER)
            await self.end(CloseCode.UNAVAILABLE)
            return
        subject, viewer, read = viewers.viewer_for(sub, user, self)
        self.viewer = viewer
        try:
            joined = await hub.join(layer, subject, viewer)
        except Exception as exc:  # the hub could not even be set up: nothing to wait for
            logger.warning("Subscribing a viewer to %s failed: %r", subject.group, exc)
            await viewer.end(CloseCode.SERVER_ERROR)
            return
        self._first = asyncio.ensure_future(viewers.first_snapshot(joined, viewer, read))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # Nothing is expected from the browser; only an oversized frame is worth a word.
        # (A server that does not check UTF-8 may pass on lone surrogates: count them too.)
        size = (
            len(text_data.encode(errors="surrogatepass"))
            if text_data is not None
            else len(bytes_data or b"")
        )
        if size > conf.CLIENT_FRAME_MAX:
            await self.end(CloseCode.TOO_BIG)

    async def disconnect(self, code: int) -> None:
        self.gone = True
        if self._gone is not None:
            self._gone.set()
        if self._first is not None:
            self._first.cancel()
        if self.viewer is not None:
            self.viewer.leave()

    # -- what a viewer sends through (fanout.Socket) -----------------------------------

    async def send_frame(self, text: str) -> None:
        # Straight to the server: the two layers of channels' send() cost a measurable
        # share of a fan-out's CPU (docs/architecture.md).
        await self.base_send({"type": "websocket.send", "text": text})

    async def end(self, code: int) -> None:
        """Close with ``code``; a refusal first replaces the page's socket element."""
        if code == CloseCode.NORMAL and await self.closed_by_page():
            return
        reason = REASONS.get(code)
        element = self.socket_element_id()
        if reason is not None and element is not None:
            await self.send(text_data=refusal(element, str(reason), code))
        await self.close(code)

    async def closed_by_page(self) -> bool:
        """Give the page ``CLOSE_GRACE`` seconds to close the socket; True if it did.

        The last frame swaps the socket element out, and htmx closes the socket. A
        server that closes first races the page's reading of that frame: daphne resets
        a connection whose client has not answered its close within a second, and the
        reset throws away what the client had not read yet.
        """
        grace = conf.CLOSE_GRACE
        if not self.gone and grace > 0:
            self._gone = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await within(self._gone.wait(), grace)
        return self.gone

    def socket_element_id(self) -> str | None:
        """The id of the page element that opened this socket, if the token said which."""
        if self.sub is None:
            return None
        if self.sub.kind == "list":
            return LIST_SOCKET
        return element_id(SOCKET, self.sub.pk)
