"""What the partials see: view-models of an operation, computed only where a part uses them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext, ngettext

from liveops_htmx import values

if TYPE_CHECKING:
    from liveops_htmx.models import LiveOperation

#: Names of the elements an operation's widget is made of; ``dom_id`` gives their ids.
ELEMENTS: tuple[str, ...] = (
    "status",
    "progress",
    "stages",
    "log",
    "result",
    "error",
    "controls",
    "socket",
    "fallback",
    "root",
    "bar",
    "log-lines",
)


def element_id(name: str, pk: object) -> str:
    """The DOM id of element ``name`` of the operation with primary key ``pk``."""
    return f"op-{name}-{pk}"


def dom_id(op: LiveOperation, name: str) -> str:
    return element_id(name, op.pk)


def ids(op: LiveOperation) -> dict[str, str]:
    """Every DOM id of ``op``'s parts (kept on the instance: each push renders with them)."""
    pk, known = op.__dict__.get("_liveops_ids", (None, None))
    if known is None or pk != op.pk:
        known = {n.replace("-", "_"): dom_id(op, n) for n in ELEMENTS}
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


def result_view(op: LiveOperation) -> Any:
    """The result context as the partials see it: safe markings back, and a ``url``
    that is not http(s) or relative dropped (the result then shows no link)."""
    result = values.load(op.result_context) or {}
    if isinstance(result, dict) and "url" in result:
        result["url"] = values.link_url(result["url"])
    return result


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
    # get_state_display() rebuilds and hashes the whole choice list on every call,
    # and a status push renders the state label every time.
    field = model._meta.get_field("state")
    assert isinstance(field, models.Field)
    return dict(field.flatchoices)


def state_label(op: LiveOperation) -> Any:
    """The state's label (translated when rendered)."""
    return _state_labels(type(op)).get(op.state, op.state)


def context(op: LiveOperation, *, can_control: bool = False) -> dict[str, Any]:
    """What the partials see; the costlier pieces are computed only if a part uses them.

    ``can_control``: render for a viewer who may cancel and restart the operation
    (the ``controls`` part shows its buttons only then).
    """
    return {
        "urls": SimpleLazyObject(lambda: operation_urls(op)),
        "op": op,
        "ids": ids(op),
        "state_label": state_label(op),
        "progress": SimpleLazyObject(lambda: progress_view(op)),
        "stages": SimpleLazyObject(lambda: stage_view(op)),
        "log": SimpleLazyObject(lambda: [{"n": n, "text": t} for n, t in op.log_tail or ()]),
        "result": SimpleLazyObject(lambda: result_view(op)),
        "show_traceback": settings.DEBUG,
        "can_control": can_control,
    }
