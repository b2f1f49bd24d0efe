"""``{% liveop op %}``: an operation's snapshot, live through the htmx ws extension."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from django import template
from django.core.exceptions import ImproperlyConfigured
from django.utils import translation
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from liveops_htmx._compat import register_partial_tags
from liveops_htmx.conf import SCRIPT_URL_PREFIXES, conf
from liveops_htmx.rendering import fragments, rows
from liveops_htmx.security import make_list_token, make_subscription_token
from liveops_htmx.serverside.lists import operations_of

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
    return f"{conf.WS_URL}?subscription_token={quote(token, safe='')}"


@register.simple_tag(takes_context=True)
def liveop(context: template.Context, op: LiveOperation, htmx: int | None = None) -> SafeString:
    """Render ``op``; while it runs, also the element that opens its socket.

    The controls show their buttons only to a viewer who may use them
    (``op.user_can_control``). ``htmx=4`` (or 2) overrides ``LIVEOPS["HTMX_VERSION"]``
    for this tag.
    """
    version = conf.HTMX_VERSION if htmx is None else int(htmx)
    if version not in (2, 4):
        raise template.TemplateSyntaxError(f"liveop: htmx must be 2 or 4, not {htmx!r}")
    viewer = _viewer(context, required=not op.is_finished)
    socket = ""
    if not op.is_finished:
        token = make_subscription_token(viewer, op)
        socket = fragments.socket_element(op, socket_url(token), version)
    can_control = viewer is not None and bool(op.user_can_control(viewer))
    with translation.override(op.language or None):
        return fragments.widget(op, socket, can_control=can_control)


@register.simple_tag(takes_context=True)
def liveops_list(context: template.Context, htmx: int | None = None) -> SafeString:
    """The signed-in user's operations, newest first, live over one socket for the page."""
    from django.contrib.auth.models import AnonymousUser

    user = _viewer(context)
    if not user.is_authenticated:
        user = AnonymousUser()
    ops = operations_of(user.pk) if user.is_authenticated else []
    socket = ""
    if user.is_authenticated:
        version = conf.HTMX_VERSION if htmx is None else int(htmx)
        socket = fragments.socket(rows.LIST_SOCKET, socket_url(make_list_token(user)), version)
    return format_html(
        '<div class="liveops-list">{}<ul id="{}" class="liveops-list__rows">{}</ul>{}</div>',
        socket,
        rows.LIST_ROWS,
        rows.rows(ops),
        ""
        if ops
        else format_html('<p class="liveops-list__empty">{}</p>', _("No operations yet.")),
    )


#: django-htmx's bundled htmx 4 and its ws extension, the default for htmx 4.
DJANGO_HTMX_4 = ("django_htmx/htmx-4.min.js", "django_htmx/ext/hx-ws-4.min.js")


def script_url(path: str) -> str:
    """A URL (or a path from the site's root) as it is; anything else is a static path."""
    from django.templatetags.static import static

    return path if path.startswith(SCRIPT_URL_PREFIXES) else static(path)


@register.simple_tag(takes_context=True)
def liveops_scripts(context: template.Context, version: int | None = None) -> SafeString:
    """htmx and its ws extension, for ``LIVEOPS["HTMX_VERSION"]`` (or ``version``).

    ``LIVEOPS["HTMX_SCRIPTS"]`` names the project's own scripts for ``HTMX_VERSION``;
    without it (or for another ``version``) django-htmx's bundled copies are loaded.
    """
    chosen = conf.HTMX_VERSION if version is None else int(version)
    nonce = context.get("csp_nonce")
    scripts = conf.HTMX_SCRIPTS if chosen == conf.HTMX_VERSION else None
    if scripts is None and chosen != 4:
        from django_htmx.jinja import htmx_script

        return htmx_script(version=chosen, extensions="hx-ws", nonce=nonce)
    # htmx 4 run as a deferred script starts on a timer, which may fire before the
    # deferred ws extension has run: the page then never opens its socket (seen in
    # about one page load in ten in the e2e suite). Plain scripts run in order while
    # the page is still parsed, and htmx then starts on DOMContentLoaded. A project's
    # own scripts are loaded the same way, whatever their version.
    attrs = format_html(' nonce="{}"', nonce) if nonce else ""
    return SafeString(
        "".join(
            format_html('<script src="{}"{}></script>', script_url(path), attrs)
            for path in (DJANGO_HTMX_4 if scripts is None else scripts)
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
