"""The wire protocol between the worker side and the server side: groups and messages.

Every message names the group it was sent to (``GROUP``): a serving process receives
the pushes of all the groups it follows on one channel and routes them by it.

``liveop.update``: one write of an operation, ``{"seq", "base", "parts", "log",
"liveop_html", "lifecycle", "milestone", "terminal"}``, plus ``"controller_parts"``
and ``"controller_html"`` when it renders the controls: ``parts`` and
``liveop_html`` are what a viewer who may only look gets; a viewer who may control
the operation gets ``controller_parts`` in place of the same parts
(``controller_html`` is that whole frame). ``"full": {"parts", "controller_parts",
"last_line"}`` where the row lags behind the push (see ``update_message``); and for a
reset (every part, after a rollback) ``"reset": True, "last_line"``. ``liveop.row``: a row of a
user's list, ``{"key", "seq", "html"}``. ``liveop.probe``: a subscription's round
trip to itself, ``{"nonce"}``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from liveops_htmx.rendering import fragments, rows

if TYPE_CHECKING:
    from liveops_htmx.models import LiveOperation

UPDATE = "liveop.update"
ROW = "liveop.row"
PROBE = "liveop.probe"
#: The key of every message that names its group.
GROUP = "group"
#: Keys of an update's renderings for viewers who may control the operation.
CONTROLLER_PARTS = "controller_parts"
CONTROLLER_HTML = "controller_html"

_VALID = re.compile(r"^[A-Za-z0-9_.-]{1,99}$")


def operation_group(model_label: str, pk: object) -> str:
    """Name the group of one operation; the model label keeps equal pks of two models apart."""
    name = f"liveop.{model_label.lower()}.{pk}"
    if _VALID.match(name):
        return name
    # Channels allows only a small alphabet and under 100 characters: hash anything else.
    digest = hashlib.sha256(name.encode()).hexdigest()[:40]
    return f"liveop.{digest}"


def group_of(op: LiveOperation) -> str:
    return operation_group(op._meta.label, op.pk)


def user_group(user_pk: object) -> str:
    """Name the group of one user's operations list."""
    return f"liveops.user.{user_pk}"


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
    full: bool = False,
) -> dict[str, Any]:
    """The message for one write of ``op`` (now at ``op.seq``, built on ``base``).

    ``lifecycle``: flushed at once and never dropped by a full publisher queue.
    ``milestone`` (default: ``lifecycle``): changes the state or stage, so a slow
    viewer's waiting frame is never merged past it; a status text is superseded
    by the next one like a percent is. ``full``: the message also carries every part,
    for viewers whose snapshot is older than ``base`` (the row lags behind: the write
    waits for a commit).
    """
    names = tuple(names)
    parts = fragments.render_parts(op, names, oob=True)
    for selector, markup in (regions or {}).items():
        parts[f"region:{selector}"] = fragments.region(selector, markup)
    log = [(lines[0][0], lines[-1][0], fragments.log_chunk(op, lines))] if lines else []
    if terminal:
        parts[fragments.SOCKET] = fragments.terminal_part(op)
    message: dict[str, Any] = {
        "type": UPDATE,
        GROUP: group_of(op),
        "seq": op.seq,
        "base": base,
        "liveop_html": fragments.compose(parts, log),
        "parts": parts,
        "log": log,
        "lifecycle": lifecycle,
        "milestone": lifecycle if milestone is None else milestone or terminal,
        "terminal": terminal,
    }
    controller = fragments.controller_parts(op, names, oob=True)
    if controller:
        message[CONTROLLER_PARTS] = controller
        message[CONTROLLER_HTML] = fragments.compose({**parts, **controller}, log)
    if full:
        message["full"] = {
            "parts": fragments.snapshot_parts(op),
            CONTROLLER_PARTS: fragments.controller_parts(op, fragments.PARTS, oob=True),
            "last_line": op.log_count,
        }
    return message


def reset_message(op: LiveOperation, base: int) -> dict[str, Any]:
    """The message that replaces everything a viewer shows of ``op`` (after a rollback).

    Its parts are a snapshot's, the whole log included; a viewer takes it whenever its
    seq is newer, whatever it holds (``reset``), and continues the log after ``last_line``.
    """
    parts = fragments.snapshot_parts(op)
    return {
        "type": UPDATE,
        GROUP: group_of(op),
        "seq": op.seq,
        "base": base,
        "liveop_html": fragments.compose(parts),
        "parts": parts,
        CONTROLLER_PARTS: fragments.controller_parts(op, fragments.PARTS, oob=True),
        "log": [],
        "lifecycle": True,
        "milestone": True,
        "terminal": op.is_finished,
        "reset": True,
        "last_line": op.log_count,
    }


def row_message(op: LiveOperation) -> dict[str, Any]:
    """The message that shows ``op``'s row in its owner's list."""
    return {
        "type": ROW,
        GROUP: user_group(op.owner_id),
        "key": rows.row_key(op),
        "seq": op.seq,
        "html": rows.row(op),
    }


def merge(earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any] | None:
    """One message that says what ``earlier`` then ``later`` say, where that loses nothing.

    Two writes in a row of an operation merge (each part its newest rendering, the log
    appends of both) unless the first is a milestone, which viewers get in turn, or a
    reset, or only one of them carries ``full``. Two renderings of one list row merge
    into the one of the higher seq. Anything else: None.
    """
    kind = earlier.get("type")
    if kind != later.get("type") or earlier.get(GROUP) != later.get(GROUP):
        return None
    if kind == ROW:
        if later.get("key") != earlier.get("key"):
            return None
        # A row pushed at a commit can be queued after a newer rendering of it.
        return later if later.get("seq", 0) >= earlier.get("seq", 0) else earlier
    if kind != UPDATE or later.get("base") != earlier.get("seq"):
        return None
    if earlier.get("milestone") or earlier.get("reset") or later.get("reset"):
        return None
    if ("full" in earlier) != ("full" in later):
        return None
    parts = {**earlier["parts"], **later["parts"]}
    log = [*earlier["log"], *later["log"]]
    merged = {
        **later,
        "base": earlier["base"],
        "parts": parts,
        "log": log,
        "liveop_html": fragments.compose(parts, log),
        "lifecycle": bool(earlier.get("lifecycle") or later.get("lifecycle")),
    }
    controller = {**earlier.get(CONTROLLER_PARTS, {}), **later.get(CONTROLLER_PARTS, {})}
    if controller:
        merged[CONTROLLER_PARTS] = controller
        merged[CONTROLLER_HTML] = fragments.compose({**parts, **controller}, log)
    return merged


def probe_message(group: str, nonce: str) -> dict[str, Any]:
    return {"type": PROBE, GROUP: group, "nonce": nonce}
