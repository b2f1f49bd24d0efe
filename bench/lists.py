"""One list page watching many operations: one viewer, one socket, every row live.

``ops`` operations of one user, each updated ``rate`` times a second (in worker
processes, as :mod:`bench.many` drives them), then finished. The viewer is the list's
socket: liveops-htmx's ``{% liveops_list %}`` socket (a token from
``make_list_token(user)``; rows pushed to the owner's group, merged per row while the
socket is busy), the relay's one socket joined to every operation's group, and
django-liveops's one socket with a channels_broadcast token naming every operation's
channel (its list page itself only refetches on lifecycle signals).

Every status text carries its operation's tag (``o=``): the frames are kept whole and
read afterwards, row by row, for the newest update each shows, and for each
operation's end (a finished row, or its result).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, nullcontext
from typing import Any

from bench import many
from bench.frames import RESULT_SEQ
from bench.procs import Clients
from bench.stats import staleness, summary_ms
from bench.systems import Live

_UPDATE = re.compile(r"\bi=(\d+) o=(\d+)")
_RESULT = re.compile(r"BENCHDONE o=(\d+)")
# liveops-htmx: a finished row shows its state, no more its status.
_ROW = re.compile(
    r'id="liveop-row-[a-z0-9_]+-[a-z0-9_]+-(\d+)" class="liveops-row" data-state="(\w+)"'
)
FINISHED = {"succeeded", "failed", "cancelled", "lost"}


def rows_in(text: str, tag_of_pk: dict[str, int]) -> dict[int, int]:
    """The newest update each operation's row shows in one frame (RESULT_SEQ: finished)."""
    seen: dict[int, int] = {}
    for i, o in _UPDATE.findall(text):
        seen[int(o)] = max(seen.get(int(o), -1), int(i))
    for o in _RESULT.findall(text):
        seen[int(o)] = RESULT_SEQ
    for pk, state in _ROW.findall(text):
        if state in FINISHED and pk in tag_of_pk:
            seen[tag_of_pk[pk]] = RESULT_SEQ
    return seen


def measure(
    live: Live,
    ops: int,
    rate: float,
    seconds: float,
    *,
    workers: int,
    size: int = 0,
    around: Callable[[], AbstractContextManager[Any]] = nullcontext,
    timeout: float = 120,
) -> dict[str, Any]:
    """``around``: a context for the updates alone (a profiler: see bench/profile.py)."""
    assert live.worker is not None and live.server is not None
    targets = live.targets(ops, owned=True)
    for k, target in enumerate(targets):
        target["tag"] = k
    page = live.worker.call("list_target", targets=targets)
    n = max(1, round(seconds * rate))
    with ExitStack() as stack:
        pool = live.drivers(workers)
        now = time.time()
        far = now + timeout + seconds
        spec = live.client_spec(
            page, start_at=now, deadline=far, keep="texts", close_on_result=False
        )
        viewer = Clients(live.client_module, spec, 1, 1)
        stack.callback(viewer.stop)
        if not viewer.wait_ready(timeout):
            viewer.stop()
            viewer.collect(10)
            return {"ops": ops, "error": "the list viewer did not connect"}
        live.server.wait_idle(30)
        with around():
            cpu, began = live.server.cpu_s(), time.time()
            spec = {"n": n, "interval": 1 / rate, "start_at": began + 0.3, "size": size}
            series = many.drive(pool, targets, spec)
            live.server.wait_idle(30)
            time.sleep(0.5)
            cpu = live.server.cpu_s() - cpu
        viewer.stop()
        (v,) = viewer.collect(30)
    tag_of_pk = {str(t["pk"]): t["tag"] for t in targets if "pk" in t}
    per_op: dict[int, tuple[list[float], list[int]]] = {k: ([], []) for k in range(ops)}
    frames = size = 0
    last = began
    for at, text in zip(v["times"], v["texts"], strict=True):
        if at < began:
            continue
        frames += 1
        size += len(text.encode())
        last = at
        for k, seq in rows_in(text, tag_of_pk).items():
            per_op[k][0].append(at)
            per_op[k][1].append(seq)
    late: list[float] = []
    for k, (times, seqs) in per_op.items():
        late += staleness(series["stamps"][k], times, seqs)
    span = max(1e-9, last - began - 0.3)
    return {
        "ops": ops,
        "rate_per_s": rate,
        "updates": n,
        "frames_per_s": round(frames / span, 1),
        "bytes_per_s": round(size / span),
        "bytes_per_frame": round(size / max(1, frames)),
        "updates_per_frame": round(ops * n / max(1, frames), 2),
        "staleness": summary_ms(late),
        "finished_rows": sum(RESULT_SEQ in seqs for _, seqs in per_op.values()),
        "error": v["error"],
        "server_cpu_s": round(cpu, 3),
        "pace": series["pace"],
    }
