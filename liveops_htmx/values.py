"""JSON storage for result contexts that keeps ``mark_safe`` markings.

A result is rendered from its stored context, live and in every later snapshot, so
the context is normalised through JSON *before* the first render: both renders then
see the same types, and a value marked safe stays safe after the round trip.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils.safestring import SafeData, mark_safe

SAFE_MARK = "__liveops_safe__"


def _tag_safe(value: Any) -> Any:
    if isinstance(value, SafeData):
        return {SAFE_MARK: str(value)}
    if isinstance(value, Mapping):
        return {str(k): _tag_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_tag_safe(v) for v in value]
    return value


def dump(value: Any) -> Any:
    """Return the JSON-ready form of ``value`` (what the database will hold)."""
    return json.loads(json.dumps(_tag_safe(value), cls=DjangoJSONEncoder))


def load(stored: Any) -> Any:
    """Return the render-ready form of a stored value (safe markings restored)."""
    if isinstance(stored, dict):
        if len(stored) == 1 and SAFE_MARK in stored:
            return mark_safe(stored[SAFE_MARK])
        return {k: load(v) for k, v in stored.items()}
    if isinstance(stored, list):
        return [load(v) for v in stored]
    return stored
