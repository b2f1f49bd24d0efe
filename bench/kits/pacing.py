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


def stamp_text(t: float, i: int, size: int = 0, tag: int | None = None) -> str:
    text = f"t={t:.6f} i={i}" if tag is None else f"t={t:.6f} i={i} o={tag}"
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


def run_many(
    publish: Callable[[int, int, float], None],
    finish: Callable[[int], None],
    count: int,
    spec: dict[str, Any],
) -> dict[str, Any]:
    """``count`` operations in one process, each updated every ``interval``, then finished.

    One loop, round-robin: operation k's update i is due at
    ``start + (i - 1) * interval + k * interval / count``, so the process makes one call
    every ``interval / count`` seconds. *late* is how long after its due time each call
    began: a process that cannot keep the pace falls behind, and says so.
    """
    n, interval = int(spec["n"]), float(spec["interval"])
    start = max(float(spec.get("start_at", 0.0)), time.time() + 0.05)
    step = interval / count
    stamps: list[list[float]] = [[] for _ in range(count)]
    late: list[float] = []
    costs: list[float] = []
    began_cpu = time.process_time()
    for j in range(n * count):
        k, i = j % count, j // count + 1
        due = start + j * step
        pause = due - time.time()
        if pause > 0:
            time.sleep(pause)
        t = time.time()
        late.append(t - due)
        began = time.perf_counter()
        publish(k, i, t)
        costs.append(time.perf_counter() - began)
        stamps[k].append(t)
    ended = time.time()
    time.sleep(interval)
    result_at: list[float] = []
    for k in range(count):
        result_at.append(time.time())
        finish(k)
    calls = n * count
    return {
        "stamps": stamps,
        "result_at": result_at,
        "late": late,
        "costs": costs,
        "calls": calls,
        "rate_per_s": calls / max(1e-9, ended - start),
        "wanted_per_s": count / interval,
        "cpu_s": time.process_time() - began_cpu,
    }
