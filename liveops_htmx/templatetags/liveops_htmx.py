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
from liveops_htmx.conf import SCRIPT_URL_PREFIXES, conf
from liveops_htmx.rendering import fragments, rows, transports
from liveops_htmx.security import make_list_token, make_subscription_token
from liveops_htmx.serverside import lists

if TYPE_CHECKING:
    from liveops_htmx.models import LiveOperation

register = template.Library()
register_partial_tags(register)


def _viewer(context: template.Context, *, required: bool = True) -> Any:
    request = context.get("request")
    if request is not None and hasattr(request, "user"):
        return request.user
    if "user" in context:
        return context["user"]
    if not required:
        return None
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

    The controls show their buttons only to a viewer who may use them
    (``op.user_can_control``). ``htmx=4`` (or 2) overrides ``LIVEOPS["HTMX_VERSION"]``
    for this tag, and ``transport="poll"`` (or any value of ``LIVEOPS["TRANSPORT"]``)
    the transport.
    """
    version = _version("liveop", htmx)
    chosen = _transport("liveop", transport)
    viewer = _viewer(context, required=not op.is_finished)
    socket = ""
    if not op.is_finished:
        token = make_subscription_token(viewer, op)
        ends = transports.for_operation(op._meta.label_lower, op.pk, token, version)
        socket = _element(ends, chosen, op.seq)
    can_control = viewer is not None and bool(op.user_can_control(viewer))
    with translation.override(op.language or None):
        return fragments.widget(op, socket, can_control=can_control)


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


def script_url(path: str) -> str:
    """A URL (or a path from the site's root) as it is; anything else is a static path."""
    from django.templatetags.static import static

    return path if path.startswith(SCRIPT_URL_PREFIXES) else static(path)


@register.simple_tag(takes_context=True)
def liveops_scripts(
    context: template.Context, version: int | None = None, transport: str | None = None
) -> SafeString:
    """htmx and the extensions ``LIVEOPS["TRANSPORT"]`` (or ``transport``) needs.

    For ``LIVEOPS["HTMX_VERSION"]`` (or ``version``): the ws extension for a
    WebSocket, the sse extension for an event stream, both for ``"auto"``.
    ``LIVEOPS["HTMX_SCRIPTS"]`` names the project's own scripts for ``HTMX_VERSION``
    (htmx first, then the extensions); without it (or for another ``version``)
    django-htmx's bundled copies are loaded.
    """
    chosen = conf.HTMX_VERSION if version is None else int(version)
    extensions = transports.extensions(_transport("liveops_scripts", transport))
    nonce = context.get("csp_nonce")
    scripts = conf.HTMX_SCRIPTS if chosen == conf.HTMX_VERSION else None
    if scripts is None and chosen != 4:
        from django_htmx.jinja import htmx_script

        return htmx_script(version=chosen, extensions=extensions, nonce=nonce)
    if scripts is None:
        scripts = (
            "django_htmx/htmx-4.min.js",
            *(f"django_htmx/ext/{name}-4.min.js" for name in extensions),
        )
    # htmx 4 run as a deferred script starts on a timer, which may fire before the
    # deferred ws extension has run: the page then never opens its socket (seen in
    # the e2e suite). Plain scripts run in order while the page is still parsed, and
    # htmx then starts on DOMContentLoaded. A project's own scripts are loaded the
    # same way, whatever their version.
    attrs = format_html(' nonce="{}"', nonce) if nonce else ""
    return SafeString(
        "".join(
            format_html('<script src="{}"{}></script>', script_url(path), attrs) for path in scripts
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
