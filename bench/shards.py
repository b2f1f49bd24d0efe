"""Beyond one machine: two server processes, two worker processes, two Redis shards.

The channel layer is sharded over two redis-server processes of the bench's own (two
``hosts`` entries; own servers so that their command counts are the run's alone, and
so that one may be restarted). ``viewers`` viewers, split evenly over the two servers,
follow ``ops`` operations that two worker processes update ``rate`` times a second for
``seconds``, then finish. A third of the way in, one shard is restarted (stopped and
started again on its port: its data, groups included, is gone).

*Reconverged* is the time from the restart to the last viewer holding an update made
after it (or its result): when every page is live again. *Shard load* is the commands
each Redis processed during the run (``INFO commandstats``, before and after; the
restarted one counted before and after its restart).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, nullcontext
from typing import Any

from bench import many
from bench.procs import Clients
from bench.stats import INF, summary_ms
from bench.systems import Live
from tests.services import RedisServer


def commands(server: RedisServer) -> dict[str, int]:
    import redis

    client = redis.Redis(port=server.port)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


def load(before: dict[str, int], after: dict[str, int]) -> dict[str, Any]:
    calls = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    calls = {k: v for k, v in calls.items() if v > 0 and k not in ("info",)}
    top = sorted(calls.items(), key=lambda kv: -kv[1])[:5]
    return {"commands": sum(calls.values()), "top": dict(top)}


def reconverged(v: dict[str, Any], stamps: list[float], restart: float) -> float:
    """From the restart until this viewer held an update made after it (inf: never)."""
    after = next((i for i, t in enumerate(stamps, start=1) if t >= restart), None)
    for at, seq in zip(v["times"], v["seqs"], strict=True):
        if at >= restart and after is not None and seq >= after:
            return at - restart
    return INF


def measure(
    live: Live,
    shards: list[RedisServer],
    viewers: int,
    ops: int,
    rate: float,
    seconds: float,
    *,
    procs: int,
    size: int = 0,
    wait: float = 60,
    around: Callable[[], AbstractContextManager[Any]] = nullcontext,
    timeout: float = 180,
) -> dict[str, Any]:
    """``around``: a context for the updates alone (a profiler: see bench/profile.py)."""
    assert live.worker is not None
    targets = live.targets(ops)
    for k, target in enumerate(targets):
        target["tag"] = k
    ports = [server.port for server in live.servers]
    each = [
        live.viewer_of(targets[j % ops], port=ports[j % len(ports)], tag=j % ops)
        for j in range(viewers)
    ]
    n = max(1, round(seconds * rate))
    out: dict[str, Any] = {"viewers": viewers, "ops": ops, "servers": len(ports)}
    with ExitStack() as stack:
        pool = live.drivers(2)
        now = time.time()
        spec = live.client_spec(
            targets[0], each=each, start_at=now, spread=viewers / 400, deadline=now + 900
        )
        clients = Clients(live.client_module, spec, viewers, procs)
        stack.callback(clients.stop)
        if not clients.wait_ready(timeout):
            return {**out, "error": "viewers did not all connect"}
        for server in live.servers:
            server.wait_idle(timeout)
        before = [commands(s) for s in shards]
        cpu = [s.cpu_s() for s in live.servers]
        began = time.time()
        restart: dict[str, Any] = {}

        def bounce() -> None:
            restart["count_before"] = commands(shards[1])
            restart["at"] = time.time()
            shards[1].restart()
            restart["up_after_s"] = round(time.time() - restart["at"], 3)

        timer = threading.Timer(0.3 + seconds / 3, bounce)
        with around():
            timer.start()
            spec = {"n": n, "interval": 1 / rate, "start_at": began + 0.3, "size": size}
            series = many.drive(pool, targets, spec)
            timer.join()
            got = clients.collect(timeout=wait)
        used = [s.cpu_s() - c for s, c in zip(live.servers, cpu, strict=True)]
        out["server_cpu_s"] = [round(c, 2) for c in used]
    after = [commands(s) for s in shards]
    # The restart zeroed the second shard's counts: before it, plus after it.
    restarted = dict(Counter(restart["count_before"]) + Counter(after[1]))
    out["shard_load"] = [load(before[0], after[0]), load(before[1], restarted)]
    back = [reconverged(v, series["stamps"][v["tag"]], restart["at"]) for v in got]
    out.update(many.delivery(got, series, began))
    out["restart_up_after_s"] = restart["up_after_s"]
    out["reconverged"] = summary_ms(back)
    out["pace"] = series["pace"]
    return out
