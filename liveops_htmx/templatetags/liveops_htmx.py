"""``{% liveop op %}``: an operation's snapshot, live through the htmx ws extension."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from django import template
from django.core.exceptions import ImproperlyConfigured
from django.utils import translation
from django.utils.safestring import SafeString

from liveops_htmx import rendering
from liveops_htmx._compat import register_partial_tags
from liveops_htmx.conf import conf
from liveops_htmx.security import make_subscription_token

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
    return f"{conf.WS_URL}?subscription_token={quote(token, safe='')}"


@register.simple_tag(takes_context=True)
def liveop(context: template.Context, op: LiveOperation, htmx: int | None = None) -> SafeString:
    """Render ``op``; while it runs, also the element that opens its socket.

    ``htmx=4`` (or 2) overrides ``LIVEOPS["HTMX_VERSION"]`` for this tag.
    """
    version = conf.HTMX_VERSION if htmx is None else int(htmx)
    if version not in (2, 4):
        raise template.TemplateSyntaxError(f"liveop: htmx must be 2 or 4, not {htmx!r}")
    socket = ""
    if not op.is_finished:
        token = make_subscription_token(_viewer(context), op)
        socket = rendering.socket_element(op, socket_url(token), version)
    with translation.override(op.language or None):
        return rendering.widget(op, socket)
