"""Server-Sent Events: a viewer of a hub whose socket is an HTTP response's stream.

The stream follows exactly as a WebSocket does: it joins the hub of its operation (or
list) with a :class:`~.fanout.Viewer`, reads its snapshot after joining, and gets
its snapshot first, then the pushes that build on it. Each frame is one unnamed
message (``data:`` lines), which both htmx sse extensions swap in. After the
terminal frame, which replaces the stream's element (so htmx closes it and never
reconnects), the stream ends. A refusal is one message, a notice that replaces the
stream's element, and the end: an ``EventSource`` given another status than 200
fails, and htmx 2 would retry it forever.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from channels.layers import BaseChannelLayer
from django.http import StreamingHttpResponse

from liveops_htmx.rendering.fragments import refusal
from liveops_htmx.security import REASONS, CloseCode, Subscription
from liveops_htmx.serverside import hub, viewers
from liveops_htmx.serverside.fanout import Viewer
from liveops_htmx.serverside.reads import Subject

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

logger = logging.getLogger("liveops_htmx.serverside")

#: Seconds of silence after which a stream sends a comment: proxies close idle
#: responses (often after 30-60 s), and a write is how a server learns the client left.
KEEPALIVE = 15.0
KEEPALIVE_COMMENT = ": keepalive\n\n"

_LINES = re.compile(r"\r\n|\r|\n")


def message(text: str) -> str:
    """One unnamed event whose data is ``text``: every line of it a ``data:`` line."""
    return "".join(f"data: {line}\n" for line in _LINES.split(text)) + "\n"


class EventStream:
    """A viewer's socket (:class:`~.fanout.Socket`) that an HTTP response streams out.

    At most one frame waits: a viewer's send returns once the stream took the frame
    before it, so the frames of a slow client merge in the viewer's outbox, as a slow
    WebSocket's do. Once the client is gone, sends fail and the viewer stops.
    """

    def __init__(self, element_id: str) -> None:
        self.element_id = element_id  # what a refusal notice replaces
        self.closed = False
        self._waiting: deque[str | None] = deque()  # None: the end of the stream
        self._arrived = asyncio.Event()
        self._taken = asyncio.Event()

    async def send_frame(self, text: str) -> None:
        await self._put(message(text))

    async def end(self, code: int) -> None:
        """End the stream; a refusal first sends the notice that replaces the element."""
        reason = REASONS.get(code)
        if reason is not None:
            await self._put(message(refusal(self.element_id, str(reason), code)))
        self._push(None)

    async def _put(self, chunk: str) -> None:
        while self._waiting and not self.closed:
            self._taken.clear()
            await self._taken.wait()
        if self.closed:
            raise ConnectionError("the client went away")
        self._push(chunk)

    def _push(self, chunk: str | None) -> None:
        if not self.closed:
            self._waiting.append(chunk)
            self._arrived.set()

    async def chunks(self, keepalive: float | None = None) -> AsyncIterator[str]:
        """What the response sends, until the end; a comment after each quiet while."""
        quiet = KEEPALIVE if keepalive is None else keepalive
        while True:
            if not self._waiting:
                self._arrived.clear()
                try:
                    await asyncio.wait_for(self._arrived.wait(), quiet)
                except asyncio.TimeoutError:
                    yield KEEPALIVE_COMMENT
                    continue
            chunk = self._waiting.popleft()
            self._taken.set()
            if chunk is None:
                return
            yield chunk

    def close(self) -> None:
        """The response is over (finished, or the client left): wake and fail any send."""
        self.closed = True
        self._waiting.clear()
        self._taken.set()


def detached(coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    """Run ``coro`` in a task outside the request's context, as a consumer's work runs.

    Django runs a request's synchronous work in a thread of the request's own, which
    it shuts down when the response ends. A hub belongs to the process and outlives
    the stream that started it: its tasks, and the reads they make, must not
    inherit that context.
    """
    task: asyncio.Task[None] = contextvars.Context().run(
        asyncio.get_running_loop().create_task, coro
    )
    return task


async def follow(
    layer: BaseChannelLayer,
    sub: Subscription,
    user: AbstractBaseUser | AnonymousUser | None,
    element_id: str,
) -> AsyncIterator[str]:
    """The stream of one viewer of ``sub``: its snapshot, the pushes after it, the end.

    Runs on the server's loop as the response is sent; when the client goes away,
    Django cancels the response and the viewer leaves its hub.
    """
    stream = EventStream(element_id)
    subject, viewer, read = viewers.viewer_for(sub, user, stream)
    subscribing = detached(_subscribe(layer, subject, viewer, read))
    try:
        async for chunk in stream.chunks():
            yield chunk
    finally:
        subscribing.cancel()
        contextvars.Context().run(viewer.leave)
        stream.close()


async def _subscribe(
    layer: BaseChannelLayer, subject: Subject, viewer: Viewer, read: Callable[[], Any]
) -> None:
    """Join the hub, read the snapshot after joining, and offer it: as the consumer does."""
    try:
        joined = await hub.join(layer, subject, viewer)
    except Exception as exc:
        logger.warning("Subscribing a stream to %s failed: %r", subject.group, exc)
        await viewer.end(CloseCode.SERVER_ERROR)
        return
    await viewers.first_snapshot(joined, viewer, read)


async def refused(element_id: str, code: int) -> AsyncIterator[str]:
    """A stream that only says it was refused (the notice replaces its element)."""
    yield message(refusal(element_id, str(REASONS[code]), code))


def response(chunks: AsyncIterator[str]) -> StreamingHttpResponse:
    """An event-stream response that caches and proxies pass on as it is written."""
    out = StreamingHttpResponse(chunks, content_type="text/event-stream")
    out["Cache-Control"] = "no-cache, no-store"
    out["X-Accel-Buffering"] = "no"  # nginx: do not buffer this response
    return out
