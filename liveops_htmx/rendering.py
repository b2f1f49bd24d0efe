"""The one place fragments are made: the page snapshot, the socket snapshot and every push.

Each part is a partial of ``liveops_htmx/liveop.html`` (or of the model's own
``<app_label>/<model_name>_liveop.html``, part by part). Its root element carries a
stable id; frames sent over the socket add ``hx-swap-oob`` to that root.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.utils.functional import SimpleLazyObject
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, ngettext

from liveops_htmx import values

if TYPE_CHECKING:
    from liveops_htmx.models import LiveOperation

#: Parts of a snapshot, in page order.
PARTS: tuple[str, ...] = ("status", "progress", "stages", "log", "result", "error", "controls")
DEFAULT_TEMPLATE = "liveops_htmx/liveop.html"
#: Parts are swapped inside their root so live regions and focus survive an update.
PART_SWAP = "innerHTML"
SOCKET = "socket"

#: (model label, part) -> its template; filled only outside DEBUG, where templates change.
_resolved: dict[tuple[str, str], Any] = {}


def dom_id(op: LiveOperation, name: str) -> str:
    return f"op-{name}-{op.pk}"


def template_names(op: LiveOperation, name: str) -> list[str]:
    opts = op._meta
    own = getattr(op, "liveop_template", None) or f"{opts.app_label}/{opts.model_name}_liveop.html"
    return [f"{own}#{name}", f"{DEFAULT_TEMPLATE}#{name}"]


def _template(op: LiveOperation, name: str) -> Any:
    key = (op._meta.label, name)
    cached = _resolved.get(key)
    if cached is not None:
        return cached
    for candidate in template_names(op, name):
        try:
            template = get_template(candidate)
        except TemplateDoesNotExist:
            continue
        if not settings.DEBUG:
            _resolved[key] = template
        return template
    raise TemplateDoesNotExist(", ".join(template_names(op, name)))


def clear_cache(**kwargs: Any) -> None:
    """Forget resolved template names (connected to ``setting_changed``)."""
    _resolved.clear()


_ID_NAMES = (*PARTS, SOCKET, "root", "bar", "log-lines")


def ids(op: LiveOperation) -> dict[str, str]:
    """Every DOM id of ``op``'s parts (kept on the instance: each push renders with them)."""
    pk, known = op.__dict__.get("_liveops_ids", (None, None))
    if known is None or pk != op.pk:
        known = {n.replace("-", "_"): dom_id(op, n) for n in _ID_NAMES}
        op.__dict__["_liveops_ids"] = (op.pk, known)
    return dict[str, str](known)  # a copy: callers may change theirs


def eta_text(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return ""
    if seconds < 60:
        n = max(1, round(seconds))
        return ngettext("about %(n)d second left", "about %(n)d seconds left", n) % {"n": n}
    if seconds < 3600:
        n = round(seconds / 60)
        return ngettext("about %(n)d minute left", "about %(n)d minutes left", n) % {"n": n}
    n = round(seconds / 3600)
    return ngettext("about %(n)d hour left", "about %(n)d hours left", n) % {"n": n}


def progress_view(op: LiveOperation) -> dict[str, Any]:
    detail: Mapping[str, Any] = op.progress or {}
    percent = op.percent
    if op.state == "succeeded":
        percent = 100.0
    return {
        "percent": percent,
        "value": "" if percent is None else f"{percent:.1f}",
        "percent_text": "" if percent is None else f"{math.floor(percent):d}%",
        "label": detail.get("label") or gettext("Progress"),
        "done": detail.get("done"),
        "total": detail.get("total"),
        "unit": detail.get("unit", ""),
        "eta_text": "" if op.is_finished else eta_text(detail.get("eta")),
    }


def stage_view(op: LiveOperation) -> list[dict[str, str]]:
    states: Mapping[str, str] = op.stage_states or {}
    names = list(type(op).stages)
    names += [n for n in states if n not in names]
    return [{"name": n, "state": states.get(n, "pending")} for n in names]


def operation_urls(op: LiveOperation) -> dict[str, str]:
    """The operation's page and control URLs, if ``liveops_htmx.urls`` is included."""
    from django.urls import NoReverseMatch, reverse

    cached = op.__dict__.get("_liveops_urls")
    if cached is not None and cached[0] == op.pk:  # a worker renders one op many times
        return dict(cached[1])
    args = {"model": op._meta.label_lower, "pk": op.pk}
    try:
        urls = {
            name: reverse(f"liveops_htmx:{name}", kwargs=args)
            for name in ("operation", "cancel", "restart", "widget")
        }
    except NoReverseMatch:
        urls = {}
    op.__dict__["_liveops_urls"] = (op.pk, urls)
    return dict(urls)


@cache
def _state_labels(model: type[LiveOperation]) -> dict[str, Any]:
    """State -> label (translated when rendered), once per model.

    ``get_state_display()`` rebuilds and hashes the whole choice list on every call:
    a fifth of a status push's rendering.
    """
    field = model._meta.get_field("state")
    assert isinstance(field, models.Field)
    return dict(field.flatchoices)


def context(op: LiveOperation) -> dict[str, Any]:
    """What the partials see; the costlier pieces are computed only if a part uses them."""
    return {
        "urls": SimpleLazyObject(lambda: operation_urls(op)),
        "op": op,
        "ids": ids(op),
        "state_label": _state_labels(type(op)).get(op.state, op.state),
        "progress": SimpleLazyObject(lambda: progress_view(op)),
        "stages": SimpleLazyObject(lambda: stage_view(op)),
        "log": SimpleLazyObject(lambda: [{"n": n, "text": t} for n, t in op.log_tail or ()]),
        "result": SimpleLazyObject(lambda: values.load(op.result_context) or {}),
        "show_traceback": settings.DEBUG,
    }


def with_oob(html: str, swap: str) -> str:
    """Put ``hx-swap-oob`` on the root element of ``html``."""
    start = html.find("<")
    end = start + 1
    while end < len(html) and html[end] not in " \t\n\r/>":
        end += 1
    return f'{html[:end]} hx-swap-oob="{swap}"{html[end:]}'


def render_part(
    op: LiveOperation, name: str, *, oob: bool = False, ctx: dict[str, Any] | None = None
) -> SafeString:
    html: str = _template(op, name).render(ctx if ctx is not None else context(op))
    html = html.strip()
    expected = f'id="{dom_id(op, name)}"'
    if expected not in html[: html.find(">") + 1]:
        raise ImproperlyConfigured(
            f"The {name!r} partial for {op._meta.label} must have {expected} on its root element."
        )
    return mark_safe(with_oob(html, PART_SWAP) if oob else html)


def render_parts(op: LiveOperation, names: Iterable[str], *, oob: bool) -> dict[str, str]:
    ctx = context(op)
    return {name: render_part(op, name, oob=oob, ctx=ctx) for name in names}


def log_chunk(op: LiveOperation, lines: Sequence[tuple[int, str]]) -> str:
    """Render new log lines as one out-of-band append to the log list."""
    items = [{"n": n, "text": text} for n, text in lines]
    inner = _template(op, "log_lines").render({"op": op, "log": items}).strip()
    return format_html(
        '<ol hx-swap-oob="beforeend:#{}">{}</ol>', dom_id(op, "log-lines"), mark_safe(inner)
    )


def region(selector: str, html: str) -> str:
    """Wrap markup for a page region outside the operation's own parts."""
    return format_html('<div hx-swap-oob="innerHTML:{}">{}</div>', selector, html)


def socket_closer(op: LiveOperation) -> str:
    """Replace the socket element with an inert one: htmx closes the socket, never retries."""
    return format_html('<div id="{}" hx-swap-oob="outerHTML" hidden></div>', dom_id(op, SOCKET))


def refusal(pk: str, message: str, code: int) -> str:
    """Replace a refused socket element with a visible notice, so htmx 4 stops retrying."""
    return format_html(
        '<div id="op-{}-{}" hx-swap-oob="outerHTML" class="liveop-notice" role="alert"'
        ' data-close-code="{}">{}</div>',
        SOCKET,
        pk,
        code,
        message,
    )


def _socket(element_id: str, url: str, htmx_version: int) -> SafeString:
    if htmx_version == 4:
        return format_html('<div id="{}" hx-ws:connect="{}" hidden></div>', element_id, url)
    return format_html('<div id="{}" hx-ext="ws" ws-connect="{}" hidden></div>', element_id, url)


def socket_element(op: LiveOperation, url: str, htmx_version: int) -> SafeString:
    return _socket(dom_id(op, SOCKET), url, htmx_version)


def list_socket(url: str, htmx_version: int) -> SafeString:
    return _socket(LIST_SOCKET, url, htmx_version)


def compose(parts: Mapping[str, str], log: Iterable[Sequence[Any]] = ()) -> str:
    """Join rendered parts and log appends into one frame; the socket closer goes last."""
    body = [html for name, html in parts.items() if name != SOCKET]
    body += [chunk[2] for chunk in log]
    if SOCKET in parts:
        body.append(parts[SOCKET])
    return "".join(body)


def update_message(
    op: LiveOperation,
    base: int,
    names: Iterable[str],
    *,
    lines: Sequence[tuple[int, str]] = (),
    regions: Mapping[str, str] | None = None,
    lifecycle: bool,
    terminal: bool,
    milestone: bool | None = None,
) -> dict[str, Any]:
    """The channel-layer message for one write of ``op`` (now at ``op.seq``).

    ``lifecycle``: flushed at once and never dropped by a full publisher queue.
    ``milestone`` (default: ``lifecycle``): changes the state or stage, so a slow
    viewer's waiting frame is never merged past it; a status text is superseded
    by the next one like a percent is.
    """
    parts = render_parts(op, names, oob=True)
    for selector, markup in (regions or {}).items():
        parts[f"region:{selector}"] = region(selector, markup)
    log = [(lines[0][0], lines[-1][0], log_chunk(op, lines))] if lines else []
    if terminal:
        parts[SOCKET] = terminal_part(op)
    return {
        "type": "liveop.update",
        "seq": op.seq,
        "base": base,
        "liveop_html": compose(parts, log),
        "parts": parts,
        "log": log,
        "lifecycle": lifecycle,
        "milestone": lifecycle if milestone is None else milestone or terminal,
        "terminal": terminal,
    }


def chained_to(op: LiveOperation) -> dict[str, str] | None:
    """Where ``op`` handed over with ``p.chain_to()``: {"model", "pk", "url"}, or None."""
    result = op.result_context if isinstance(op.result_context, dict) else {}
    chain = result.get("chained_to")
    return chain if isinstance(chain, dict) else None


def chain_loader(op: LiveOperation, chain: dict[str, str], *, oob: bool = True) -> str:
    """Replace the widget of ``op`` with one that loads the next operation's widget.

    Each browser fetches the next widget with its own session, so its socket token is
    its own; removing the old widget removes its socket element, which closes it.
    """
    return format_html(
        '<div id="{}" class="liveop liveop--chained"{} hx-get="{}" hx-trigger="load"'
        ' hx-swap="outerHTML" aria-busy="true"></div>',
        dom_id(op, "root"),
        mark_safe(' hx-swap-oob="outerHTML"') if oob else "",
        chain.get("widget", ""),
    )


def terminal_part(op: LiveOperation) -> str:
    """What ends a finished operation's frame: the chain loader, or the socket closer."""
    chain = chained_to(op)
    return chain_loader(op, chain) if chain and chain.get("widget") else socket_closer(op)


def snapshot_parts(op: LiveOperation) -> dict[str, str]:
    parts = render_parts(op, PARTS, oob=True)
    for selector, html in (op.regions or {}).items():
        parts[f"region:{selector}"] = region(selector, mark_safe(html))
    if op.is_finished:
        parts[SOCKET] = terminal_part(op)
    return parts


def snapshot(op: LiveOperation) -> str:
    """Every part of ``op`` out-of-band: what a viewer gets when it (re)connects."""
    return compose(snapshot_parts(op))


def widget(op: LiveOperation, socket_html: str) -> SafeString:
    """The page rendering of ``op``: parts in place, plus the socket element if live."""
    chain = chained_to(op)
    if chain and chain.get("widget"):
        return mark_safe(chain_loader(op, chain, oob=False))
    ctx = context(op)
    ctx["parts"] = mark_safe("".join(render_part(op, n, ctx=ctx) for n in PARTS))
    ctx["socket"] = mark_safe(socket_html)
    html: str = _template(op, "widget").render(ctx)
    return mark_safe(html.strip())


# -- lists --------------------------------------------------------------------------------


def row_key(op: LiveOperation) -> str:
    return f"{op._meta.app_label}-{op._meta.model_name}-{op.pk}"


def render_row(op: LiveOperation) -> str:
    """One operation's row in its owner's list (the ``row`` partial)."""
    ctx = context(op)
    ctx["row_id"] = f"liveop-row-{row_key(op)}"
    html: str = _template(op, "row").render(ctx)
    return html.strip()


def row_insert(row_html: str) -> str:
    """Put a row new to the list at its top."""
    return format_html('<div hx-swap-oob="afterbegin:#{}">{}</div>', LIST_ROWS, mark_safe(row_html))


LIST_ROWS = "liveops-rows"
LIST_SOCKET = "liveops-socket"
