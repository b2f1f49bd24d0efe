"""Measurement 3: a connect storm; its rate, and what it costs viewers already connected."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from bench.procs import Clients
from bench.stats import summary_ms
from bench.systems import Live


def measure(
    live: Live, viewers: int, spread: float, *, procs: int, watchers: int = 20, timeout: float = 180
) -> dict[str, Any]:
    assert live.worker is not None and live.server is not None
    target = live.target()
    live.worker.call("steady", target=target)
    now = time.time()
    far = now + timeout + 120
    watching = None
    if watchers and not live.setup.polls:
        spec = live.client_spec(target, start_at=now, deadline=far, close_on_result=False)
        watching = Clients(live.client_module, spec, watchers, 1)
        if not watching.wait_ready(60):
            watching.stop()
            return {"error": "the watchers did not connect"}
    live.server.wait_idle(60)
    mark = time.time()
    spec = live.client_spec(
        target,
        start_at=mark + 0.2,
        spread=spread,
        deadline=far,
        keep="summary",
        close_on_result=False,
        once=True,
    )
    storm = Clients(live.client_module, spec, viewers, procs)
    complete = storm.wait_ready(timeout)
    settle = live.server.wait_idle(timeout)
    storm.stop()
    if watching is not None:
        watching.stop()
    got = storm.collect(30)
    watched = watching.collect(30) if watching is not None else []
    firsts = [v["first"] if v["first"] is not None else v["open"] for v in got]
    done = [f for f in firsts if f is not None]
    span = (max(done) - min(v["start"] for v in got)) if done else 0.0
    extra = [sum(1 for t in w["times"] if t > mark) for w in watched]
    return {
        "viewers": viewers,
        "spread_s": spread,
        "complete": complete,
        "connected": len(done),
        "span_s": round(span, 2),
        "connects_per_s": round(len(done) / span, 1) if span > 0 else None,
        "connect_to_snapshot": summary_ms(
            [f - v["start"] for v, f in zip(got, firsts, strict=True) if f]
        ),
        "errors": sum(v["error"] is not None for v in got),
        "error_kinds": dict(
            Counter((v["error"] or "")[:80] for v in got if v["error"]).most_common(3)
        ),
        "watchers": len(watched),
        "extra_frames_per_watcher": round(sum(extra) / len(extra), 1) if extra else None,
        "frames_per_new_viewer": round(sum(v["frames"] for v in got) / max(1, len(got)), 1),
        "settle_after_s": round(settle, 1),
    }
