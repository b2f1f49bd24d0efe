"""Latency per transport: ``p.status()`` in a worker process -> the frame at a viewer.

    .venv/bin/python bench/transports.py [--calls 400] [--turns 4] [--interval 0.05]
                                         [--poll 2,0.5]

One live setup as ``bench/run.py`` starts it (liveops-htmx, RedisChannelLayer, one
uvicorn process, the ``bench.worker`` process driving ``WebProgress``), and one
viewer at a time over each transport: the WebSocket (``bench.wsclient``), the event
stream and polling (``bench.httpclient``), polling at each interval given
(``POLL_INTERVAL``'s default is 2 s). The transports take turns, ``--calls`` paced
calls each in ``--turns`` turns, so that a noisy minute of the machine falls on all
of them; the latency of a call is the time until the viewer holds a frame with that
update or a newer one (``bench.stats.staleness``). Runs in the project's own
virtualenv: it needs none of the compared packages of ``bench/run.py``.

:func:`fanout` is measurement 10 of ``bench/run.py`` (its ``transports`` step): many
viewers of one operation over each transport, as ``bench.many`` measures them.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import latency, many, redisdb  # noqa: E402
from bench.systems import Live, Setup  # noqa: E402


class Over:
    """One live setup, as seen by one transport's viewer (what :func:`latency.chunk` uses)."""

    def __init__(self, live: Live, transport: str, interval: float = 0.0) -> None:
        self.live, self.transport, self.interval = live, transport, interval
        self.worker, self.server = live.worker, live.server

    @property
    def label(self) -> str:
        if self.transport == "poll":
            return f"polling every {self.interval:g} s"
        return {"websocket": "WebSocket", "sse": "Server-Sent Events"}[self.transport]

    def target(self) -> dict[str, Any]:
        return self.live.target()

    def client_spec(self, target: dict[str, Any], **extra: Any) -> dict[str, Any]:
        if self.transport == "websocket":
            return self.live.client_spec(target, **extra)
        assert self.server is not None
        kind = "events" if self.transport == "sse" else "poll"
        return {
            "marker": "BENCHDONE",
            "spread": 0.0,
            "keep": "frames",
            "host": "127.0.0.1",
            "port": self.server.port,
            "path": f"/live/htmxapp.benchop/{target['pk']}/{kind}/?{target['query']}",
            "mode": self.transport,
            "interval": self.interval,
            **extra,
        }

    @property
    def client_module(self) -> str:
        return "bench.wsclient" if self.transport == "websocket" else "bench.httpclient"


#: transport -> the client module of its viewers
CLIENTS = {"websocket": "bench.wsclient", "sse": "bench.httpclient", "poll": "bench.httpclient"}


def fanout(
    live: Live,
    viewers: int,
    rate: float,
    seconds: float,
    *,
    procs: int,
    size: int = 0,
    around: Callable[[], AbstractContextManager[Any]] = nullcontext,
) -> list[dict[str, Any]]:
    """``viewers`` viewers of one operation over each transport (polling every 2 s)."""
    rows: list[dict[str, Any]] = []
    for transport, client in CLIENTS.items():
        res = many.measure(
            live,
            1,
            viewers,
            rate,
            seconds,
            workers=1,
            procs=procs,
            size=size,
            client=client,
            transport=transport,
            around=around,
        )
        rows.append({"transport": transport, **res})
    return rows


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=400, help="paced calls per transport")
    parser.add_argument("--turns", type=int, default=4, help="turns the calls are made in")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between calls")
    parser.add_argument("--poll", default="2", help="poll intervals in seconds, comma-separated")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    url, own_redis = redisdb.find()
    prefix = redisdb.prefix()
    print(f"transports: Redis {url.rsplit('@', 1)[-1]}", flush=True)
    began = time.monotonic()
    rows: list[tuple[str, dict[str, Any]]] = []
    try:
        with Live(Setup("htmx", "redis", "uvicorn"), url, prefix) as live:
            views = [Over(live, "websocket"), Over(live, "sse")]
            views += [Over(live, "poll", float(s)) for s in args.poll.split(",") if s]
            chunks: dict[str, list[dict[str, Any]]] = {view.label: [] for view in views}
            n = max(1, args.calls // args.turns)
            for turn in range(args.turns):
                for view in views[turn % len(views) :] + views[: turn % len(views)]:
                    chunks[view.label].append(latency.chunk(view, n, args.interval))
                print(f"transports: turn {turn + 1} of {args.turns} done", flush=True)
            rows = [(v.label, latency.summarize(chunks[v.label], args.interval)) for v in views]
    finally:
        redisdb.cleanup(url, prefix)
        if own_redis is not None:
            own_redis.stop()
    print(
        f"\n{args.calls} p.status() calls per transport, one every {args.interval * 1000:g} ms, "
        f"in {args.turns} turns ({time.monotonic() - began:.0f} s)"
    )
    heads = " ".join(f"{head:>9}" for head in ("p50 ms", "p95 ms", "p99 ms", "max ms"))
    print(f"{'transport':<26} {heads} {'frames':>7}")
    for label, res in rows:
        if "error" in res:
            print(f"{label:<26} failed: {res['error']}")
            continue
        lat = res["latency"]
        cells = [lat[key] for key in ("p50_ms", "p95_ms", "p99_ms", "max_ms")]
        text = " ".join(f"{'-' if c is None else f'{c:.2f}':>9}" for c in cells)
        print(f"{label:<26} {text} {res['frames']:>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
