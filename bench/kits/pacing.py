"""A paced series of updates: call ``publish(i, text)`` every ``interval`` seconds.

Each text carries the wall-clock time taken just before the call (``t=``) and the
update's number (``i=``); clients on the same machine read both back. Time spent
inside ``publish`` is the publish-call cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

RESULT = "BENCHDONE"


def stamp_text(t: float, i: int, size: int = 0) -> str:
    text = f"t={t:.6f} i={i}"
    return text if len(text) >= size else f"{text} {'x' * (size - len(text) - 1)}"


def run(
    publish: Callable[[int, float], None],
    finish: Callable[[], None],
    spec: dict[str, Any],
) -> dict[str, Any]:
    n, interval = int(spec["n"]), float(spec["interval"])
    start = max(float(spec.get("start_at", 0.0)), time.time() + 0.05)
    stamps: list[float] = []
    costs: list[float] = []
    for i in range(1, n + 1):
        due = start + (i - 1) * interval
        pause = due - time.time()
        if pause > 0:
            time.sleep(pause)
        t = time.time()
        began = time.perf_counter()
        publish(i, t)
        costs.append(time.perf_counter() - began)
        stamps.append(t)
    time.sleep(interval)
    result_at = time.time()
    began = time.perf_counter()
    finish()
    return {
        "stamps": stamps,
        "costs": costs,
        "result_at": result_at,
        "result_cost": time.perf_counter() - began,
    }
