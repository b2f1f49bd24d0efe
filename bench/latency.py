"""Measurement 1: one viewer, paced p.status() calls; call-to-frame latency and call cost.

A system's calls are made in chunks, and :mod:`bench.runner` takes turns between the
compared systems chunk by chunk, so that every system meets the same drift of a
noisy machine; the chunks of a system are then summarized together.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from bench.procs import Clients
from bench.stats import staleness, summary_ms
from bench.systems import Live


def chunk(live: Live, n: int, interval: float, size: int = 0) -> dict[str, Any]:
    """One viewer, ``n`` paced calls, then the result: the raw times."""
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
    stamps = series["stamps"]
    return {
        "late": staleness(stamps, viewer["times"], viewer["seqs"]),
        "costs": series["costs"],
        "rate_per_s": (n - 1) / max(1e-9, stamps[-1] - stamps[0]),
        "result_cost": series["result_cost"],
        "result_latency": None
        if viewer["result"] is None
        else viewer["result"] - series["result_at"],
        "frames": viewer["frames"],
        "bytes": viewer["bytes"],
        "close_code": viewer["code"],
    }


def summarize(chunks: list[dict[str, Any]], interval: float) -> dict[str, Any]:
    """One row from a system's chunks (the first error, if a chunk failed)."""
    failed = [c for c in chunks if "error" in c]
    if failed:
        return failed[0]
    late = [v for c in chunks for v in c["late"]]
    results = [c["result_latency"] for c in chunks if c["result_latency"] is not None]
    frames = sum(c["frames"] for c in chunks)
    return {
        "n": len(late),
        "chunks": len(chunks),
        "interval_ms": interval * 1000,
        "latency": summary_ms(late),
        # How far a noisy machine moved one system's median from turn to turn.
        "chunk_p50_ms": [summary_ms(c["late"])["p50_ms"] for c in chunks],
        "publish_cost": summary_ms([v for c in chunks for v in c["costs"]]),
        "rate_per_s": round(statistics.median(c["rate_per_s"] for c in chunks), 1),
        "result_cost_ms": round(statistics.median(c["result_cost"] for c in chunks) * 1000, 3),
        "result_latency_ms": round(statistics.median(results) * 1000, 3) if results else None,
        "frames": frames,
        "bytes_per_frame": round(sum(c["bytes"] for c in chunks) / max(1, frames), 1),
        "close_code": chunks[-1]["close_code"],
        "samples": [round(v * 1000, 3) for v in late],
    }
