"""Measurement 1: one viewer, paced p.status() calls; call-to-frame latency and call cost."""

from __future__ import annotations

import time
from typing import Any

from bench.procs import Clients
from bench.stats import staleness, summary_ms
from bench.systems import Live


def measure(live: Live, n: int, interval: float, size: int = 0) -> dict[str, Any]:
    assert live.worker is not None and live.server is not None
    target = live.target()
    spec = live.client_spec(target, start_at=time.time(), deadline=time.time() + n * interval + 60)
    clients = Clients(live.client_module, spec, 1, 1)
    if not clients.wait_ready(30):
        clients.stop()
        return {"error": "the viewer did not connect", "viewers": clients.collect(10)}
    live.server.wait_idle(10)
    series = live.worker.call(
        "series",
        target=target,
        spec={"n": n, "interval": interval, "size": size, "start_at": time.time() + 0.2},
    )
    (viewer,) = clients.collect(timeout=30 + n * interval)
    late = staleness(series["stamps"], viewer["times"], viewer["seqs"])
    frames = max(1, viewer["frames"])
    return {
        "n": n,
        "interval_ms": interval * 1000,
        "latency": summary_ms(late),
        "publish_cost": summary_ms(series["costs"]),
        "rate_per_s": round((n - 1) / max(1e-9, series["stamps"][-1] - series["stamps"][0]), 1),
        "result_cost_ms": round(series["result_cost"] * 1000, 3),
        "result_latency_ms": None
        if viewer["result"] is None
        else round((viewer["result"] - series["result_at"]) * 1000, 3),
        "frames": viewer["frames"],
        "bytes_per_frame": round(viewer["bytes"] / frames, 1),
        "close_code": viewer["code"],
        "samples": [round(v * 1000, 3) for v in late],
    }
