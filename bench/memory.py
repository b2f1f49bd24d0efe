"""Measurement 5: server RSS per idle viewer (of one operation)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from bench.procs import Clients
from bench.systems import Live


def measure(live: Live, viewers: int, *, procs: int) -> dict[str, Any]:
    assert live.worker is not None and live.server is not None
    target = live.target()
    live.worker.call("steady", target=target)
    now = time.time()
    base = {"start_at": now, "deadline": now + 600, "keep": "summary", "close_on_result": False}
    warm = Clients(live.client_module, live.client_spec(target, **base), 1, 1)
    warm.wait_ready(30)
    live.server.wait_idle(30)
    time.sleep(0.3)
    before = live.server.rss_kib()
    spec = live.client_spec(target, **{**base, "start_at": time.time(), "spread": viewers / 300})
    idle = Clients(live.client_module, spec, viewers, procs)
    complete = idle.wait_ready(180)
    live.server.wait_idle(120)
    time.sleep(0.5)
    after = live.server.rss_kib()
    idle.stop()
    warm.stop()
    got = idle.collect(30)
    warm.collect(30)
    opened = sum(v["open"] is not None for v in got)
    errors = Counter((v["error"] or "")[:80] for v in got if v["error"])
    return {
        "viewers": viewers,
        "opened": opened,
        "complete": complete,
        "rss_before_mib": round(before / 1024, 1),
        "rss_after_mib": round(after / 1024, 1),
        "kib_per_viewer": round((after - before) / opened, 1) if opened else None,
        "errors": dict(errors.most_common(3)),
    }
