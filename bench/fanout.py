"""Measurement 2: many viewers of one operation on one server process, paced updates."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from bench.frames import RESULT_SEQ
from bench.procs import Clients
from bench.stats import INF, staleness, summary_ms
from bench.systems import Live


def dropped(viewer: dict[str, Any]) -> bool:
    """A viewer that lost its socket (or never had one) before it got the result."""
    if viewer["open"] is None or viewer["error"] is not None:
        return True
    return viewer["result"] is None and not viewer["closed_by_client"]


def measure(
    live: Live,
    viewers: int,
    n: int,
    interval: float,
    *,
    procs: int,
    kind: str = "status",
    size: int = 0,
    connect_timeout: float = 180,
) -> dict[str, Any]:
    assert live.worker is not None and live.server is not None
    target = live.target()
    now = time.time()
    spec = live.client_spec(
        target,
        start_at=now,
        spread=viewers / 400,
        deadline=now + connect_timeout + n * interval + 120,
        parse="percent" if kind == "percent" else "status",
        percent_n=n,
    )
    clients = Clients(live.client_module, spec, viewers, procs)
    ready = clients.wait_ready(connect_timeout)
    # Pollers never let the server idle: give them a moment instead.
    settle = 0.5 if live.setup.polls else live.server.wait_idle(connect_timeout)
    if live.setup.polls:
        time.sleep(settle)
    if not ready:
        clients.stop()
        got = clients.collect(10)
        return {
            "error": "viewers did not all connect",
            "opened": sum(v["open"] is not None for v in got),
        }
    cpu = live.server.cpu_s()
    series = live.worker.call(
        "series",
        target=target,
        spec={
            "n": n,
            "interval": interval,
            "kind": kind,
            "size": size,
            "start_at": time.time() + 0.3,
        },
    )
    got = clients.collect(timeout=90)
    cpu = live.server.cpu_s() - cpu
    late: list[float] = []
    arrivals: list[float] = []
    for v in got:
        late += staleness(series["stamps"], v["times"], v["seqs"])
        arrivals.append(INF if v["result"] is None else v["result"] - series["result_at"])
    codes = Counter(str(v["code"]) for v in got)
    with_result = sum(v["result"] is not None for v in got)
    frames = [sum(1 for s in v["seqs"] if s != RESULT_SEQ) for v in got]
    return {
        "viewers": viewers,
        "updates": n,
        "rate_per_s": round(1 / interval, 1),
        "kind": kind,
        "staleness": summary_ms(late),
        "all_have_result_ms": None if INF in arrivals else round(max(arrivals) * 1000, 1),
        "with_result": with_result,
        "dropped": sum(dropped(v) for v in got),
        "close_codes": dict(codes),
        "frames_per_viewer": round(sum(frames) / max(1, len(frames)), 1),
        "server_cpu_s": round(cpu, 2),
        "clients_cpu_s": round(clients.cpu_s, 2),
        "settle_before_s": round(settle, 1),
        "publish_cost": summary_ms(series["costs"]),
    }
