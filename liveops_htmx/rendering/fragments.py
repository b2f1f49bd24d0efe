"""The fragments of one operation: its parts, and the elements around them.

Each part is a partial (see :mod:`.templates`) whose root element carries a stable id.
The page renders the parts in place; frames sent to viewers add ``hx-swap-oob`` to
each root. The same function renders both, so a snapshot and a push agree.

One rendering serves every viewer, so nothing in it may depend on who looks, with one
exception: the ``controls`` part has two renderings, one per *audience*. Frames carry
the one for viewers who may only look (no buttons); :func:`controller_parts` holds
the one for viewers who may cancel and restart, and the serving side swaps it in for
those viewers alone (``docs/security.md``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from liveops_htmx.rendering.context import context, dom_id
from liveops_htmx.rendering.templates import partial

if TYPE_CHECKING:
    from liveops_htmx.models import LiveOperation

#: Parts of a snapshot, in page order.
PARTS: tuple[str, ...] = ("status", "progress", "stages", "log", "result", "error", "controls")
#: What an update re-renders: every part but the log, whose lines are only appended.
UPDATED_PARTS: tuple[str, ...] = tuple(p for p in PARTS if p != "log")
#: Parts are swapped inside their root so live regions and focus survive an update.
PART_SWAP = "innerHTML"
SOCKET = "socket"
#: The parts that differ by audience (see :func:`controller_parts`).
AUDIENCE_PARTS: tuple[str, ...] = ("controls",)
#: The element inside the socket element that moves a page to another transport
#: (:mod:`.transports`); every snapshot makes it inert.
FALLBACK = "fallback"


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
    html: str = partial(op, name).render(ctx if ctx is not None else context(op))
    html = html.strip()
    expected = f'id="{dom_id(op, name)}"'
    if expected not in html[: html.find(">") + 1]:
        raise ImproperlyConfigured(
            f"The {name!r} partial for {op._meta.label} must have {expected} on its root element."
        )
    return mark_safe(with_oob(html, PART_SWAP) if oob else html)


def render_parts(op: LiveOperation, names: Iterable[str], *, oob: bool) -> dict[str, str]:
    """Render ``names`` as every viewer may see them (the controls without buttons)."""
    ctx = context(op)
    return {name: render_part(op, name, oob=oob, ctx=ctx) for name in names}


def controller_parts(op: LiveOperation, names: Iterable[str], *, oob: bool) -> dict[str, str]:
    """Render the audience parts among ``names`` for viewers who may control ``op``.

    A viewer who may control the operation gets these in place of the same parts of
    :func:`render_parts`; everyone else never sees them.
    """
    wanted = [name for name in names if name in AUDIENCE_PARTS]
    if not wanted:
        return {}
    ctx = context(op, can_control=True)
    return {name: render_part(op, name, oob=oob, ctx=ctx) for name in wanted}


def for_audience(
    parts: Mapping[str, str], controller: Mapping[str, str], *, can_control: bool
) -> Mapping[str, str]:
    """The parts one viewer gets: the controllers' renderings replace the others' for them."""
    if not can_control or not controller:
        return parts
    return {**parts, **controller}


def log_chunk(op: LiveOperation, lines: Sequence[tuple[int, str]]) -> str:
    """Render new log lines as one out-of-band append to the log list."""
    items = [{"n": n, "text": text} for n, text in lines]
    inner = partial(op, "log_lines").render({"op": op, "log": items}).strip()
    return format_html(
        '<ol hx-swap-oob="beforeend:#{}">{}</ol>', dom_id(op, "log-lines"), mark_safe(inner)
    )


def region(selector: str, html: str) -> str:
    """Wrap markup for a page region outside the operation's own parts."""
    return format_html('<div hx-swap-oob="innerHTML:{}">{}</div>', selector, html)


def inert(element_id: str) -> str:
    """Replace an element with an empty hidden one of the same id: nothing left to trigger."""
    return format_html('<div id="{}" hx-swap-oob="outerHTML" hidden></div>', element_id)


def socket_closer(op: LiveOperation) -> str:
    """Replace the socket element with an inert one: htmx closes the socket, never retries."""
    return inert(dom_id(op, SOCKET))


def refusal(element_id: str, message: str, code: int) -> str:
    """Replace a refused socket element with a visible notice, so htmx stops retrying."""
    return format_html(
        '<div id="{}" hx-swap-oob="outerHTML" class="liveop-notice" role="alert"'
        ' data-close-code="{}">{}</div>',
        element_id,
        code,
        message,
    )


def socket(element_id: str, url: str, htmx_version: int, inner: str = "") -> SafeString:
    """The hidden element that makes htmx open a socket to ``url`` (``inner``: its content)."""
    if htmx_version == 4:
        return format_html(
            '<div id="{}" hx-ws:connect="{}" hidden>{}</div>', element_id, url, inner
        )
    return format_html(
        '<div id="{}" hx-ext="ws" ws-connect="{}" hidden>{}</div>', element_id, url, inner
    )


def socket_element(op: LiveOperation, url: str, htmx_version: int) -> SafeString:
    return socket(dom_id(op, SOCKET), url, htmx_version)


def compose(parts: Mapping[str, str], log: Iterable[Sequence[Any]] = ()) -> str:
    """Join rendered parts and log appends into one frame; the socket closer goes last."""
    body = [html for name, html in parts.items() if name != SOCKET]
    body += [chunk[2] for chunk in log]
    if SOCKET in parts:
        body.append(parts[SOCKET])
    return "".join(body)


def chained_to(op: LiveOperation) -> dict[str, str] | None:
    """Where ``op`` handed over with ``p.chain_to()``: {"model", "pk", "url"}, or None.

    Every viewer's page fetches the chain's ``widget`` URL as soon as it sees it, so
    only a path on this site counts (what ``p.chain_to()`` writes); anything else in
    a stored row is ignored.
    """
    result = op.result_context if isinstance(op.result_context, dict) else {}
    chain = result.get("chained_to")
    if not isinstance(chain, dict):
        return None
    widget = chain.get("widget")
    if widget is not None and not _site_path(widget):
        return None
    return chain


def _site_path(url: object) -> bool:
    """True for an absolute path on this site: ``/…``, but not ``//host`` or ``/\\host``."""
    return (
        isinstance(url, str)
        and url.startswith("/")
        and url[1:2] not in ("/", "\\")
        and not any(c in url for c in "\t\n\r")
    )


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
    """Every part of ``op`` out of band: what a viewer gets when it (re)connects."""
    parts = render_parts(op, PARTS, oob=True)
    for selector, html in (op.regions or {}).items():
        parts[f"region:{selector}"] = region(selector, mark_safe(html))
    # The first frame of a WebSocket or stream: it delivers, so it need not fall back.
    parts[FALLBACK] = inert(dom_id(op, FALLBACK))
    if op.is_finished:
        parts[SOCKET] = terminal_part(op)
    return parts


def widget(op: LiveOperation, socket_html: str, *, can_control: bool = False) -> SafeString:
    """The page rendering of ``op``: parts in place, plus the socket element if live.

    ``can_control``: the viewer may cancel and restart it (the controls show buttons).
    """
    chain = chained_to(op)
    if chain and chain.get("widget"):
        return mark_safe(chain_loader(op, chain, oob=False))
    ctx = context(op, can_control=can_control)
    ctx["parts"] = mark_safe("".join(render_part(op, n, ctx=ctx) for n in PARTS))
    ctx["socket"] = mark_safe(socket_html)
    html: str = partial(op, "widget").render(ctx)
    return mark_safe(html.strip())


def snapshot(op: LiveOperation, *, can_control: bool = False) -> str:
    """The frame a viewer gets when it (re)connects."""
    parts = snapshot_parts(op)
    controller = controller_parts(op, PARTS, oob=True) if can_control else {}
    return compose(for_audience(parts, controller, can_control=can_control))
