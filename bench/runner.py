"""Run the planned sessions, one live system at a time, and gather every measurement."""

from __future__ import annotations

import time
import traceback
from typing import Any

from bench import fanout, latency, memory, storm
from bench.plan import Session, Sizes
from bench.systems import Live


def _entry(live: Live, result: dict[str, Any]) -> dict[str, Any]:
    s = live.setup
    return {
        "label": s.label,
        "system": s.system,
        "layer": s.layer,
        "server": s.server,
        "deflate": s.deflate,
        **result,
    }


class Runner:
    def __init__(self, sizes: Sizes, redis_url: str, prefix: str) -> None:
        self.sizes = sizes
        self.redis_url, self.prefix = redis_url, prefix
        self.results: dict[str, Any] = {
            "latency": [],
            "fanout": [],
            "storm": [],
            "memory": [],
            "track": [],
            "wire": {},
            "failures": [],
        }
        self.status_size = 300  # bytes of a liveops-htmx status frame, once measured

    def say(self, text: str) -> None:
        print(f"bench: {text}", flush=True)

    def run(self, sessions: list[Session]) -> dict[str, Any]:
        for session in sessions:
            began = time.monotonic()
            self.say(f"{session.setup.label}: {', '.join(session.steps)}")
            try:
                with Live(session.setup, self.redis_url, self.prefix) as live:
                    self.say(f"  started ({time.monotonic() - began:.1f} s)")
                    for step in session.steps:
                        at = time.monotonic()
                        self.step(live, session, step)
                        self.say(f"  {step} took {time.monotonic() - at:.1f} s")
            except Exception:
                self.results["failures"].append(
                    {"session": session.setup.label, "error": traceback.format_exc()}
                )
                self.say(f"FAILED {session.setup.label}:\n{traceback.format_exc()}")
            self.say(f"  ({time.monotonic() - began:.1f} s)")
        return self.results

    def step(self, live: Live, session: Session, step: str) -> None:
        z = self.sizes
        assert live.worker is not None
        if step == "wire":
            wire = live.worker.call("wire")
            self.results["wire"][live.setup.system] = wire
            if live.setup.system == "htmx":
                self.status_size = int(wire["status"]["frame"])
        elif step == "memory":
            res = memory.measure(live, z.memory_viewers, procs=z.client_procs)
            self.results["memory"].append(_entry(live, res))
            self.say(
                f"  memory: {res['kib_per_viewer']} KiB/viewer "
                f"({res['opened']} open) {res['errors'] or ''}"
            )
        elif step == "latency":
            res = latency.measure(live, z.latency_n, z.latency_interval, size=self.status_size)
            self.results["latency"].append(_entry(live, res))
            if "latency" in res:
                self.say(
                    f"  latency: p50 {res['latency']['p50_ms']} ms, "
                    f"call {res['publish_cost']['p50_ms']} ms"
                )
        elif step == "storm":
            res = storm.measure(
                live, z.storm_viewers, z.storm_spread, procs=z.client_procs, timeout=z.timeout
            )
            self.results["storm"].append(_entry(live, res))
            self.say(
                f"  storm: {res.get('connects_per_s')} connects/s, "
                f"{res.get('connected')} connected, "
                f"extra {res.get('extra_frames_per_watcher')} {res.get('error_kinds') or ''}"
            )
        elif step == "fanout":
            for viewers, kind in session.fan_runs(z):
                res = fanout.measure(
                    live,
                    viewers,
                    round(z.fan_seconds * z.fan_rate),
                    1 / z.fan_rate,
                    procs=z.client_procs,
                    kind=kind,
                    size=self.status_size,
                    connect_timeout=z.timeout,
                )
                self.results["fanout"].append(_entry(live, res))
                self.say(
                    f"  fanout {viewers} {kind}: p99 {res.get('staleness', {}).get('p99_ms')} ms, "
                    f"result {res.get('all_have_result_ms')} ms, dropped {res.get('dropped')}"
                )
        elif step == "track":
            res = live.worker.call("track", n=z.track_items)
            self.results["track"].append(_entry(live, res))
            self.say(
                f"  track: {res['per_item_us']:.3f} µs/item, "
                f"{res['db_writes']} writes, {res['pushes']} pushes"
            )
        else:
            raise ValueError(step)
