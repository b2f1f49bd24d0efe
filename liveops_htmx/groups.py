"""Channel-layer group names, shared by the worker side and the consumer side."""

from __future__ import annotations

import hashlib
import re

_VALID = re.compile(r"^[A-Za-z0-9_.-]{1,99}$")


def group_name(model_label: str, pk: object) -> str:
    """Name the group of one operation; the model label keeps equal pks of two models apart."""
    name = f"liveop.{model_label.lower()}.{pk}"
    if _VALID.match(name):
        return name
    # Channels allows only a small alphabet and under 100 characters: hash anything else.
    digest = hashlib.sha256(name.encode()).hexdigest()[:40]
    return f"liveop.{digest}"
