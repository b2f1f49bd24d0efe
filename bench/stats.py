"""Percentiles and staleness, from worker stamps and viewers' frame times."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

INF = math.inf


def pct(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank); inf counts as a value (a never-seen update)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def summary_ms(values: Sequence[float]) -> dict[str, float | None]:
    def ms(v: float) -> float | None:
        return None if math.isinf(v) or math.isnan(v) else round(v * 1000, 3)

    return {
        "p50_ms": ms(pct(values, 50)),
        "p95_ms": ms(pct(values, 95)),
        "p99_ms": ms(pct(values, 99)),
        "max_ms": ms(max(values) if values else math.nan),
        "count": len(values),
    }


def staleness(stamps: Sequence[float], times: Sequence[float], seqs: Sequence[int]) -> list[float]:
    """Per update i (made at ``stamps[i-1]``): how long until the viewer held i or newer.

    A frame holds the newest update it carries (``seqs``; a result holds them all);
    an update the viewer never caught up with is ``inf``.
    """
    out: list[float] = []
    k, held = 0, -1
    for i, made in enumerate(stamps, start=1):
        while held < i and k < len(times):
            held = max(held, seqs[k])
            k += 1
        if held >= i:
            out.append(max(0.0, times[k - 1] - made))
        else:
            out.append(INF)
    return out


def clean(obj: Any) -> Any:
    """JSON-safe: inf and nan become None."""
    if isinstance(obj, float) and (math.isinf(obj) or math.isnan(obj)):
        return None
    if isinstance(obj, dict):
        return {k: clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean(v) for v in obj]
    return obj
