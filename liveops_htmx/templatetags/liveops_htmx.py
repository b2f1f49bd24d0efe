"""``{% liveop op %}``: an operation's snapshot, live over a WebSocket, a stream or polling."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import template
from django.core.exceptions import ImproperlyConfigured
from django.utils import translation
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from liveops_htmx._compat import register_partial_tags
from liveops_htmx.conf import conf
from liveops_htmx.rendering import fragments, rows, transports
from liveops_htmx.security import make_list_token, make_subscription_token
from liveops_htmx.serverside import lists

if TYPE_CHECKING:
    from liveops_htmx.models import LiveOperation

register = template.Library()
register_partial_tags(register)


def _viewer(context: template.Context) -> Any:
    request = context.get("request")
    if request is not None and hasattr(request, "user"):
        return request.user
    if "user" in context:
        return context["user"]
    raise ImproperlyConfigured(
        "{% liveop %} needs request.user (or user) in the template context: enable the "
        "'django.template.context_processors.request' context processor."
    )


def socket_url(token: str) -> str:
    return transports.websocket_url(token)


def _version(tag: str, htmx: int | None) -> int:
    version = conf.HTMX_VERSION if htmx is None else int(htmx)
    if version not in (2, 4):
        raise template.TemplateSyntaxError(f"{tag}: htmx must be 2 or 4, not {htmx!r}")
    return version


def _transport(tag: str, transport: str | None) -> str:
    try:
        return transports.chosen(transport)
    except ValueError as exc:
        raise template.TemplateSyntaxError(f"{tag}: {exc}") from None


def _element(ends: transports.Endpoints, transport: str, since: str | int) -> str:
    try:
        return transports.first(ends, transport, since=since)
    except LookupError as exc:
        raise ImproperlyConfigured(f"LIVEOPS['TRANSPORT'] {transport!r}: {exc}") from None


@register.simple_tag(takes_context=True)
def liveop(
    context: template.Context,
    op: LiveOperation,
    htmx: int | None = None,
    transport: str | None = None,
) -> SafeString:
    """Render ``op``; while it runs, also the element that opens its transport.

    ``htmx=4`` (or 2) overrides ``LIVEOPS["HTMX_VERSION"]`` for this tag, and
    ``transport="poll"`` (or any value of ``LIVEOPS["TRANSPORT"]``) the transport.
    """
    version = _version("liveop", htmx)
    chosen = _transport("liveop", transport)
    socket = ""
    if not op.is_finished:
        token = make_subscription_token(_viewer(context), op)
        ends = transports.for_operation(op._meta.label_lower, op.pk, token, version)
        socket = _element(ends, chosen, op.seq)
    with translation.override(op.language or None):
        return fragments.widget(op, socket)


@register.simple_tag(takes_context=True)
def liveops_list(
    context: template.Context, htmx: int | None = None, transport: str | None = None
) -> SafeString:
    """The signed-in user's operations, newest first, live over one transport for the page."""
    from django.contrib.auth.models import AnonymousUser

    user = _viewer(context)
    if not user.is_authenticated:
        user = AnonymousUser()
    ops = lists.operations_of(user.pk) if user.is_authenticated else []
    socket = ""
    if user.is_authenticated:
        ends = transports.for_list(make_list_token(user), _version("liveops_list", htmx))
        since = lists.version(lists.row_seqs(ops))
        socket = _element(ends, _transport("liveops_list", transport), since)
    return format_html(
        '<div class="liveops-list">{}<ul id="{}" class="liveops-list__rows">{}</ul>{}</div>',
        socket,
        rows.LIST_ROWS,
        rows.rows(ops),
        ""
        if ops
        else format_html('<p class="liveops-list__empty">{}</p>', _("No operations yet.")),
    )


@register.simple_tag(takes_context=True)
def liveops_scripts(
    context: template.Context, version: int | None = None, transport: str | None = None
) -> SafeString:
    """htmx and the extensions ``LIVEOPS["TRANSPORT"]`` (or ``transport``) needs.

    For ``LIVEOPS["HTMX_VERSION"]`` (or ``version``): the ws extension for a
    WebSocket, the sse extension for an event stream, both for ``"auto"``.
    """
    from django_htmx.jinja import htmx_script

    chosen = conf.HTMX_VERSION if version is None else int(version)
    extensions = transports.extensions(_transport("liveops_scripts", transport))
    nonce = context.get("csp_nonce")
    if chosen != 4:
        return htmx_script(version=chosen, extensions=extensions, nonce=nonce)
    # htmx 4 run as a deferred script starts on a timer, which may fire before the
    # deferred ws extension has run: the page then never opens its socket (seen in
    # about one page load in ten in the e2e suite). Plain scripts run in order while
    # the page is still parsed, and htmx then starts on DOMContentLoaded.
    from django.templatetags.static import static

    attrs = format_html(' nonce="{}"', nonce) if nonce else ""
    return SafeString(
        "".join(
            format_html('<script src="{}"{}></script>', static(path), attrs)
            for path in [
                "django_htmx/htmx-4.min.js",
                *(f"django_htmx/ext/{name}-4.min.js" for name in extensions),
            ]
        )
    )


@register.simple_tag(takes_context=True)
def liveops_csrf_headers(context: template.Context) -> SafeString:
    """Attributes for ``<body>`` that send the CSRF token with every htmx request.

    htmx 2 inherits ``hx-headers`` from the body; htmx 4 only inherits attributes
    marked ``:inherited``. Both are written, so the same page works with either.
    """
    import json

    token = context.get("csrf_token")
    headers = json.dumps({"X-CSRFToken": str(token) if token else ""})
    return format_html("hx-headers='{}' hx-headers:inherited='{}'", headers, headers)
