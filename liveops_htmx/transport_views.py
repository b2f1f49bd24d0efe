"""The HTTP transports: an event stream, polling, and the fallback between transports.

Each endpoint takes the page's subscription token (``?subscription_token=``) and
applies the socket's rules: the token must be valid, unexpired and minted for the
requesting user, it must name what the URL names, and the user must be allowed to
see the operation (``user_can_view``). A refusal is answered 200 with a notice that
replaces the page's transport element, so htmx stops: htmx 2 swaps no 4xx answer of
a poll (it would poll on), and an event stream that is not a 200 is retried.
All of them are GET requests: no CSRF token is involved.

``…/events/`` streams Server-Sent Events (ASGI only: the response is an async
iterator). ``…/poll/?since=<seq>`` answers 204 while nothing changed, else a
snapshot and the next poll element. ``…/fallback/?to=sse|poll&htmx=2|4`` answers the
element of the next transport, which replaces the page's transport element.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.http.response import HttpResponseBase
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET

from liveops_htmx.conf import conf
from liveops_htmx.layer import configured_layer
from liveops_htmx.rendering import transports
from liveops_htmx.rendering.context import element_id
from liveops_htmx.rendering.fragments import SOCKET, compose, for_audience, refusal
from liveops_htmx.rendering.rows import LIST_SOCKET
from liveops_htmx.security import (
    REASONS,
    CloseCode,
    Subscription,
    SubscriptionRefused,
    check_user,
    read_subscription_token,
)
from liveops_htmx.serverside import limits, lists, polls, streams

logger = logging.getLogger("liveops_htmx.transports")


def subscription(
    request: HttpRequest, user: Any, model: str | None, pk: str | None
) -> Subscription:
    """The request's subscription, if it follows what the URL names (else it is refused)."""
    sub = read_subscription_token(request.GET.get("subscription_token"))
    check_user(sub, user)
    if model is None:
        named = sub.kind == "list"
    else:
        named = sub.kind == "op" and sub.model.lower() == model.lower() and sub.pk == pk
    if not named:
        raise SubscriptionRefused(CloseCode.MALFORMED, sub)
    return sub


def _element(pk: str | None) -> str:
    """The id of the page's transport element for this URL (what a notice replaces)."""
    return LIST_SOCKET if pk is None else element_id(SOCKET, pk)


def _endpoints(sub: Subscription, request: HttpRequest, htmx: int) -> transports.Endpoints:
    token = request.GET.get("subscription_token", "")
    if sub.kind == "list":
        return transports.for_list(token, htmx)
    return transports.for_operation(sub.model.lower(), sub.pk, token, htmx)


def _html(html: str) -> HttpResponse:
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    add_never_cache_headers(response)
    return response


def _nothing() -> HttpResponse:
    response = HttpResponse(status=204)
    add_never_cache_headers(response)
    return response


def _notice(pk: str | None, code: int) -> HttpResponse:
    return _html(refusal(_element(pk), str(REASONS[code]), code))


@require_GET
async def events(
    request: HttpRequest, model: str | None = None, pk: str | None = None
) -> HttpResponseBase:
    """Server-Sent Events: the snapshot, then every push, then the end."""
    auser = getattr(request, "auser", None)
    user = await auser() if auser is not None else None
    try:
        sub = subscription(request, user, model, pk)
    except SubscriptionRefused as refused:
        return streams.response(streams.refused(_element(pk), refused.code))
    layer = configured_layer()
    if layer is None:
        logger.error("No channel layer %r: live updates are off.", conf.CHANNEL_LAYER)
        return streams.response(streams.refused(_element(pk), CloseCode.UNAVAILABLE))
    visitor = await limits.request_visitor_key(request, user)
    if not limits.slots.acquire(visitor, conf.SOCKETS_PER_USER):
        logger.info("Refused a stream: its visitor holds %s already.", conf.SOCKETS_PER_USER)
        return streams.response(streams.refused(_element(pk), CloseCode.TOO_MANY))
    return streams.response(_releasing(streams.follow(layer, sub, user, _element(pk)), visitor))


async def _releasing(chunks: AsyncIterator[str], visitor: str) -> AsyncIterator[str]:
    """``chunks``, then the visitor's slot given back, however the stream ends."""
    try:
        async for chunk in chunks:
            yield chunk
    finally:
        limits.slots.release(visitor)


@require_GET
def poll(request: HttpRequest, model: str | None = None, pk: str | None = None) -> HttpResponse:
    """204 while the page is current (``since``), else a snapshot and the next poll element."""
    user = getattr(request, "user", None)
    since = request.GET.get("since", "")
    try:
        sub = subscription(request, user, model, pk)
        if sub.kind == "list":
            rows = polls.list_since(sub, since)
            if rows is None:
                return _nothing()
            ends = _endpoints(sub, request, conf.HTMX_VERSION)
            element = transports.element(
                ends, transports.POLL, since=lists.version(rows.rows), oob=True
            )
            return _html(rows.html + element)
        admitted = polls.operation_since(sub, user, since)
    except SubscriptionRefused as refused:
        return _notice(pk, refused.code)
    if admitted is None:
        return _nothing()
    snap = admitted.snapshot
    parts = dict(for_audience(snap.parts, snap.controller_parts, can_control=admitted.can_control))
    if not snap.terminal:  # a finished one ends with its closer: no more polls
        ends = _endpoints(sub, request, conf.HTMX_VERSION)
        parts[SOCKET] = transports.element(ends, transports.POLL, since=snap.seq, oob=True)
    return _html(compose(parts))


@require_GET
def fallback(request: HttpRequest, model: str | None = None, pk: str | None = None) -> HttpResponse:
    """The element of the next transport (``to``), replacing the page's transport element."""
    to = request.GET.get("to", "")
    htmx = request.GET.get("htmx", "")
    if to not in transports.NEXT.values() or htmx not in ("2", "4"):
        return HttpResponseBadRequest()
    user = getattr(request, "user", None)
    try:
        sub = subscription(request, user, model, pk)
        if sub.kind == "op":
            polls.viewable(sub, user)
    except SubscriptionRefused as refused:
        return _notice(pk, refused.code)
    ends = _endpoints(sub, request, int(htmx))
    # Polling starts at once, from nothing: the page may have missed pushes meanwhile.
    return _html(transports.element(ends, to, auto=True, since="", now=True, oob=True))
