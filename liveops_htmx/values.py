"""JSON storage for result contexts that keeps ``mark_safe`` markings.

A result is rendered from its stored context, live and in every later snapshot, so
the context is normalised through JSON *before* the first render: both renders then
see the same types, and a value marked safe stays safe after the round trip.

A result context is data from the worker, often from outside (a file, an API), so
the names the kit reads itself are not for ``p.result()`` (:func:`check_result`), and
only http(s) and relative URLs become links (:func:`link_url`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils.safestring import SafeData, mark_safe

SAFE_MARK = "__liveops_safe__"
#: Top-level keys of a result context the kit itself writes and reads: ``chained_to``
#: (set by ``p.chain_to()``: the widget every viewer's page fetches next).
RESERVED_KEYS = frozenset({"chained_to"})
#: Schemes a result's ``url`` may have to become a link (no scheme: a relative URL).
LINK_SCHEMES = frozenset({"http", "https"})

# Browsers drop ASCII tab and newlines anywhere in a URL and C0 controls and spaces
# around it before they read its scheme ("java\tscript:" is "javascript:").
_URL_DROPPED = re.compile(r"[\t\n\r]")
_URL_TRIMMED = "".join(chr(c) for c in range(0x21))
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


class ResultKeyError(ValueError):
    """A result context uses a name the kit keeps for itself."""


def check_result(context: Mapping[str, Any]) -> None:
    """Refuse a result context that sets a name the kit uses itself.

    ``chained_to`` is set by ``p.chain_to()`` only; ``__liveops_safe__`` (anywhere in
    the context) is how stored values keep their ``mark_safe``: a plain mapping with
    that key would come back from the database as markup.
    """
    for key in context:
        if key in RESERVED_KEYS:
            raise ResultKeyError(
                f"p.result(): {key!r} is a name the kit uses itself"
                + (" (only p.chain_to() sets it)" if key == "chained_to" else "")
                + "; call your key something else."
            )
    _check_nested(context)


def _check_nested(value: Any) -> None:
    if isinstance(value, SafeData):
        return
    if isinstance(value, Mapping):
        if SAFE_MARK in value:
            raise ResultKeyError(
                f"p.result(): {SAFE_MARK!r} is a name the kit uses itself (it marks a "
                "stored value as safe markup); use mark_safe() or format_html() instead."
            )
        for item in value.values():
            _check_nested(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_nested(item)


def link_url(value: Any) -> str:
    """``value`` if it may be a link's ``href`` (http, https or relative), else ``""``.

    What comes back is plain text, escaped in the attribute even if it was marked safe.
    """
    if not isinstance(value, str) or not value:
        return ""
    cleaned = _URL_DROPPED.sub("", value).strip(_URL_TRIMMED)
    scheme = _SCHEME.match(cleaned)
    if scheme is not None and scheme.group(1).lower() not in LINK_SCHEMES:
        return ""
    return str.__str__(value)


#: What no database column, nor a WebSocket text frame, can hold: NUL (PostgreSQL
#: refuses it) and lone surrogates (not UTF-8; ``os.fsdecode()`` makes them of
#: undecodable bytes).
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """``text`` with each character no database can store replaced by U+FFFD."""
    if text.isascii() and "\x00" not in text:
        return text
    return _UNSTORABLE.sub("\ufffd", text)


def _tag_safe(value: Any) -> Any:
    if isinstance(value, SafeData):
        return {SAFE_MARK: storable(str(value))}
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, Mapping):
        return {storable(str(k)): _tag_safe(v) for k, v in value.items()}
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
