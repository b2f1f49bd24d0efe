"""How a page follows an operation (or a user's list): the element that opens its transport.

One hidden element per followed thing (``op-socket-<pk>``; ``liveops-socket`` for a
list) opens the transport, and every transport delivers the same frames, which htmx
swaps in by id:

- ``websocket``: the htmx ws extension, on ``LIVEOPS["WS_URL"]``;
- ``sse``: the htmx sse extension, on an event stream (``…/events/``), one unnamed
  message per frame;
- ``poll``: ``hx-get`` of ``…/poll/?since=<seq>`` every ``POLL_INTERVAL`` seconds,
  answered 204 while nothing changed, else with a snapshot and the next poll element.

Every transport element holds a *fallback* element. With ``TRANSPORT = "auto"`` the
fallback of a WebSocket or stream element is armed: after ``FALLBACK_AFTER`` seconds,
or at once when the extension reports an error on the transport element, it asks
``…/fallback/?to=<next>`` for the next transport's element, which replaces the
transport element (and so closes it). Every snapshot (the first frame of a WebSocket
or stream) replaces the fallback with an inert one: a transport that delivered once
is kept, and the extensions reconnect it by themselves. Only htmx attributes are
used, no script and nothing evaluated (the page may run under a strict CSP).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from liveops_htmx.conf import TRANSPORTS, conf
from liveops_htmx.rendering.context import element_id
from liveops_htmx.rendering.fragments import FALLBACK, SOCKET, socket, with_oob
from liveops_htmx.rendering.rows import LIST_FALLBACK, LIST_SOCKET

AUTO, WEBSOCKET, SSE, POLL = TRANSPORTS
#: What "auto" moves to when a transport fails.
NEXT: dict[str, str] = {WEBSOCKET: SSE, SSE: POLL}

#: Events the extensions dispatch on the transport element when it fails, per htmx version.
ERROR_EVENTS: dict[tuple[str, int], tuple[str, ...]] = {
    (WEBSOCKET, 2): ("htmx:wsError",),
    (WEBSOCKET, 4): ("htmx:ws:error",),
    (SSE, 2): ("htmx:sseError",),
    # htmx 4 hands a response to the sse extension only if it is an event stream: a
    # first request that fails or is refused is one of core's own errors.
    (SSE, 4): ("htmx:sse:error", "htmx:error", "htmx:response:error"),
}


def websocket_url(token: str) -> str:
    return f"{conf.WS_URL}?subscription_token={quote(token, safe='')}"


def _interval(seconds: float) -> str:
    """An htmx interval (both versions read "<n>ms")."""
    return f"{max(1, round(seconds * 1000))}ms"


@dataclass(frozen=True)
class Endpoints:
    """One followed thing's transport element: its ids, token and the URLs it may use.

    ``events``, ``poll`` and ``switch`` (the fallback endpoint) are paths, or None
    where ``liveops_htmx.urls`` is not included (then only the WebSocket is there).
    """

    element: str
    fallback: str
    token: str
    htmx: int
    events: str | None
    poll: str | None
    switch: str | None

    def url(self, path: str, **params: object) -> str:
        return f"{path}?{urlencode({'subscription_token': self.token, **params})}"

    @property
    def http(self) -> bool:
        """True if the HTTP transports are routed (``liveops_htmx.urls`` is included)."""
        return None not in (self.events, self.poll, self.switch)


def _paths(names: tuple[str, str, str], **kwargs: object) -> tuple[str | None, ...]:
    try:
        return tuple(reverse(f"liveops_htmx:{name}", kwargs=kwargs or None) for name in names)
    except NoReverseMatch:
        return (None, None, None)


def for_operation(label_lower: str, pk: object, token: str, htmx: int) -> Endpoints:
    events, poll, switch = _paths(("events", "poll", "fallback"), model=label_lower, pk=pk)
    return Endpoints(
        element_id(SOCKET, pk), element_id(FALLBACK, pk), token, htmx, events, poll, switch
    )


def for_list(token: str, htmx: int) -> Endpoints:
    events, poll, switch = _paths(("list-events", "list-poll", "list-fallback"))
    return Endpoints(LIST_SOCKET, LIST_FALLBACK, token, htmx, events, poll, switch)


def fallback(ends: Endpoints, transport: str, *, auto: bool) -> SafeString:
    """The element that moves a failing ``transport`` to the next one (inert if it may not)."""
    to = NEXT.get(transport) if auto else None
    if to is None or ends.switch is None:
        return format_html('<div id="{}" hidden></div>', ends.fallback)
    triggers = [f"load delay:{_interval(conf.FALLBACK_AFTER)}"]
    # Only errors of the transport element itself: htmx 4's core errors bubble, and the
    # fallback's own failed request must not ask again at once.
    own = f"from:#{ends.element} target:#{ends.element}"
    triggers += [f"{event} {own}" for event in ERROR_EVENTS[(transport, ends.htmx)]]
    return format_html(
        '<div id="{}" hx-get="{}" hx-trigger="{}" hx-swap="none" hx-sync="this:drop" hidden></div>',
        ends.fallback,
        ends.url(ends.switch, to=to, htmx=ends.htmx),
        ", ".join(triggers),
    )


def element(
    ends: Endpoints,
    transport: str,
    *,
    auto: bool = False,
    since: str | int = "",
    now: bool = False,
    oob: bool = False,
) -> SafeString:
    """The hidden element that makes htmx follow over ``transport``.

    A poll element asks for what changed after ``since`` (the seq the page shows; for a
    list, its version), every ``POLL_INTERVAL`` seconds, and at once with ``now``.
    """
    inner = fallback(ends, transport, auto=auto)
    if transport == WEBSOCKET:
        html = _websocket(ends, inner)
    elif transport == SSE:
        html = _stream(ends, inner)
    elif transport == POLL:
        html = _poll(ends, inner, since, now)
    else:
        raise ValueError(f"unknown transport {transport!r}")
    return mark_safe(with_oob(html, "outerHTML")) if oob else html


def _websocket(ends: Endpoints, inner: str) -> SafeString:
    return socket(ends.element, websocket_url(ends.token), ends.htmx, inner)


def _stream(ends: Endpoints, inner: str) -> SafeString:
    if ends.events is None:
        raise LookupError("no route to the event stream: include liveops_htmx.urls")
    url = ends.url(ends.events)
    # Frames are out-of-band swaps only: nothing goes into the element itself.
    if ends.htmx == 4:
        return format_html(
            '<div id="{}" hx-sse:connect="{}" hx-swap="none" hidden>{}</div>',
            ends.element,
            url,
            inner,
        )
    return format_html(
        '<div id="{}" hx-ext="sse" sse-connect="{}" sse-swap="message" hx-swap="none" hidden>'
        "{}</div>",
        ends.element,
        url,
        inner,
    )


def _poll(ends: Endpoints, inner: str, since: str | int, now: bool) -> SafeString:
    if ends.poll is None:
        raise LookupError("no route to polling: include liveops_htmx.urls")
    every = f"every {_interval(conf.POLL_INTERVAL)}"
    return format_html(
        '<div id="{}" hx-get="{}" hx-trigger="{}" hx-swap="none" hx-sync="this:drop" hidden>'
        "{}</div>",
        ends.element,
        ends.url(ends.poll, since=since),
        f"load, {every}" if now else every,
        inner,
    )


def chosen(transport: str | None) -> str:
    """``transport`` (a tag's own choice) or ``LIVEOPS["TRANSPORT"]``, checked."""
    value = conf.TRANSPORT if transport is None else str(transport)
    if value not in TRANSPORTS:
        raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}, not {value!r}")
    return value


def first(ends: Endpoints, transport: str, *, since: str | int) -> SafeString:
    """The element a page starts with for ``transport`` (``auto`` starts on the WebSocket)."""
    if transport == AUTO:
        return element(ends, WEBSOCKET, auto=ends.http)
    return element(ends, transport, since=since)


def extensions(transport: str) -> tuple[str, ...]:
    """The htmx extensions a page needs for ``transport`` (django-htmx's names)."""
    return {
        AUTO: ("hx-ws", "hx-sse"),
        WEBSOCKET: ("hx-ws",),
        SSE: ("hx-sse",),
        POLL: (),
    }[transport]
