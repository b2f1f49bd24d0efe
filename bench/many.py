"""Many operations at once on one server process, driven by several worker processes.

``ops`` operations, ``per_op`` viewers each (in client processes), every operation
updated ``rate`` times a second for ``seconds`` by :func:`drive`: the operations are
shared out over ``workers`` worker processes, each pacing its share in one loop
(:func:`bench.kits.pacing.run_many`), then every operation gets its result.

Also measured here: server memory per operation and per viewer (RSS before any
viewer, after one viewer of every operation, after the rest), and, with
``per_op=0``, what operations nobody watches cost the server (CPU and RSS while they
update, against as long a time of nothing happening).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, nullcontext
from typing import Any

from bench.fanout import dropped
from bench.procs import Clients, Worker
from bench.stats import INF, pct, staleness, summary_ms
from bench.systems import Live


def drive(
    workers: list[Worker], targets: list[dict[str, Any]], spec: dict[str, Any]
) -> dict[str, Any]:
    """Pace ``targets`` (tagged 0..n-1) over ``workers`` at once; their stamps by tag."""
    shares = [targets[w :: len(workers)] for w in range(len(workers))]
    for worker, share in zip(workers, shares, strict=True):
        if share:
            worker.send("drive", targets=share, spec=spec)
    stamps: dict[int, list[float]] = {}
    result_at: dict[int, float] = {}
    late: list[float] = []
    costs: list[float] = []
    rates, cpus, failed, elsewhere = [], [], 0, []
    for worker, share in zip(workers, shares, strict=True):
        if not share:
            continue
        got = worker.answer()
        for k, target in enumerate(share):
            stamps[target["tag"]] = got["stamps"][k]
            result_at[target["tag"]] = got["result_at"][k]
        late += got["late"]
        costs += got["costs"]
        rates.append(got["rate_per_s"])
        cpus.append(got["cpu_s"])
        failed += got.get("failed", 0) + got.get("dropped", 0)
        elsewhere += got.get("ended_elsewhere", [])
    wanted = len(targets) * spec_rate(spec)
    rate = sum(rates)
    late_p99 = pct(late, 99)
    return {
        "stamps": stamps,
        "result_at": result_at,
        "pace": {
            "workers": len(rates),
            "wanted_per_s": round(wanted, 1),
            "achieved_per_s": round(rate, 1),
            "late": summary_ms(late),
            "call": summary_ms(costs),
            # Every update within one period of its due time, and the rate held.
            "kept": rate >= 0.95 * wanted and late_p99 <= 1 / spec_rate(spec),
            "worker_cpu_s": [round(c, 2) for c in cpus],
            "failed_pushes": failed,
            # operations found finished when their result was due (marked lost, say)
            "ended_elsewhere": elsewhere,
        },
    }


def spec_rate(spec: dict[str, Any]) -> float:
    return 1 / float(spec["interval"])


def settle_rss(live: Live, timeout: float) -> int:
    assert live.server is not None
    live.server.wait_idle(timeout)
    time.sleep(0.3)
    return live.server.rss_kib()


def measure(
    live: Live,
    ops: int,
    per_op: int,
    rate: float,
    seconds: float,
    *,
    workers: int,
    procs: int,
    size: int = 0,
    client: str | None = None,
    transport: str = "websocket",
    around: Callable[[], AbstractContextManager[Any]] = nullcontext,
    timeout: float = 180,
) -> dict[str, Any]:
    """``client``, ``transport``: viewers of another kind (see bench/transports.py);
    ``around``: a context for the updates alone (a profiler: see bench/profile.py)."""
    assert live.worker is not None and live.server is not None
    server = live.server
    client = client or live.client_module
    *targets, warm = live.targets(ops + 1)
    for k, target in enumerate(targets):
        target["tag"] = k
    n = max(1, round(seconds * rate))
    with ExitStack() as stack:
        pool = live.drivers(workers)
        # One viewer of another operation first: code paths and pools warm, not counted.
        spec = live.client_spec(warm, start_at=time.time(), deadline=time.time() + 900)
        warming = Clients(live.client_module, {**spec, "keep": "summary"}, 1, 1)  # a socket
        stack.callback(warming.collect, 10)
        stack.callback(warming.stop)
        warming.wait_ready(30)
        rss0 = settle_rss(live, timeout)
        out: dict[str, Any] = {"ops": ops, "per_op": per_op, "rate_per_s": rate, "updates": n}
        waves: list[Clients] = []
        rss: list[int] = [rss0]
        far = time.time() + timeout + seconds + 240
        for wave in (range(1), range(1, per_op)) if per_op else ():
            each = [
                live.viewer_of(t, tag=t["tag"], transport=transport) for _ in wave for t in targets
            ]
            if not each:
                continue
            spec = live.client_spec(
                targets[0], each=each, start_at=time.time(), spread=len(each) / 400, deadline=far
            )
            clients = Clients(client, spec, len(each), procs)
            stack.callback(clients.stop)
            waves.append(clients)
            if not clients.wait_ready(timeout):
                return {**out, "error": "viewers did not all connect"}
            rss.append(settle_rss(live, timeout))
        if per_op:
            # Wave one: a hub and a viewer per operation; wave two: viewers only.
            viewers_kib = (rss[-1] - rss[1]) / (ops * (per_op - 1)) if per_op > 1 else None
            out["kib_per_viewer"] = round(viewers_kib, 1) if viewers_kib is not None else None
            op_kib = (rss[1] - rss0) / ops - (viewers_kib or 0)
            out["kib_per_op"] = round(op_kib, 1)
        else:  # nobody watches: first as long a time of nothing, for comparison
            cpu = server.cpu_s()
            time.sleep(seconds)
            out["idle_cpu_s"] = round(server.cpu_s() - cpu, 3)
        with around():
            cpu, began = server.cpu_s(), time.time()
            spec = {"n": n, "interval": 1 / rate, "start_at": began + 0.3, "size": size}
            series = drive(pool, targets, spec)
            got = [v for clients in waves for v in clients.collect(timeout=90)]
        out["server_cpu_s"] = round(server.cpu_s() - cpu, 3)
        out["rss_mib"] = [round(r / 1024, 1) for r in rss]
        out["rss_after_mib"] = round(server.rss_kib() / 1024, 1)
        out["pace"] = series["pace"]
        out["clients_cpu_s"] = round(sum(c.cpu_s for c in waves), 2)
    if not per_op:
        out["kib_added"] = round(out["rss_after_mib"] * 1024 - rss0, 1)
        return out
    out.update(delivery(got, series, began))
    out["cpu_us_per_frame"] = round(out["server_cpu_s"] / max(1, out["frames"]) * 1e6, 1)
    return out


def delivery(got: list[dict[str, Any]], series: dict[str, Any], began: float) -> dict[str, Any]:
    """Staleness, results and frames of viewers that each follow the operation of their tag."""
    late: list[float] = []
    arrivals: list[float] = []
    frames = 0
    for v in got:
        stamps = series["stamps"][v["tag"]]
        late += staleness(stamps, v["times"], v["seqs"])
        done = series["result_at"][v["tag"]]
        arrivals.append(INF if v["result"] is None else v["result"] - done)
        frames += sum(1 for t in v["times"] if t >= began)
    with_result = sum(v["result"] is not None for v in got)
    return {
        "viewers": len(got),
        "staleness": summary_ms(late),
        "result_after": summary_ms(arrivals),
        "with_result": with_result,
        "dropped": sum(dropped(v) for v in got),
        "close_codes": dict(Counter(str(v["code"]) for v in got)),
        "frames": frames,
        "frames_per_viewer": round(frames / max(1, len(got)), 1),
    }
