"""Run the planned sessions and gather every measurement.

Each session's steps run on its own live system, one system at a time, except the
latency step: the latency setups are all started together at the end and take turns,
a chunk of calls each (see :mod:`bench.latency`).
"""

from __future__ import annotations

import time
import traceback
from contextlib import ExitStack
from dataclasses import replace
from typing import Any

from bench import fanout, latency, memory, storm
from bench.plan import Session, Sizes
from bench.systems import Live, Setup


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
        paced = [s.setup for s in sessions if "latency" in s.steps]
        sessions = [replace(s, steps=tuple(x for x in s.steps if x != "latency")) for s in sessions]
        for session in sessions:
            if not session.steps:
                continue
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
                self._failed(session.setup.label, ", ".join(session.steps))
            self.say(f"  ({time.monotonic() - began:.1f} s)")
        if paced:
            self.latency_turns(paced)
        return self.results

    def latency_turns(self, setups: list[Setup]) -> None:
        z = self.sizes
        began = time.monotonic()
        self.say(f"latency, {len(setups)} systems taking {z.latency_chunks} turns each")
        with ExitStack() as stack:
            lives: list[Live] = []
            for setup in setups:
                try:
                    lives.append(stack.enter_context(Live(setup, self.redis_url, self.prefix)))
                except Exception:
                    self._failed(setup.label, "latency")
            self.say(f"  started ({time.monotonic() - began:.1f} s)")
            chunks: dict[str, list[dict[str, Any]]] = {live.setup.label: [] for live in lives}
            n = z.latency_n // z.latency_chunks
            for turn in range(z.latency_chunks):
                for live in lives[turn % len(lives) :] + lives[: turn % len(lives)]:
                    try:
                        chunks[live.setup.label].append(
                            latency.chunk(live, n, z.latency_interval, size=self.status_size)
                        )
                    except Exception:
                        chunks[live.setup.label].append({"error": traceback.format_exc()})
            for live in lives:
                res = latency.summarize(chunks[live.setup.label], z.latency_interval)
                self.results["latency"].append(_entry(live, res))
                if "latency" in res:
                    self.say(
                        f"  {live.setup.label}: p50 {res['latency']['p50_ms']} ms, "
                        f"call {res['publish_cost']['p50_ms']} ms"
                    )
                else:
                    self.say(f"  {live.setup.label}: {res['error']}")
        self.say(f"  ({time.monotonic() - began:.1f} s)")

    def _failed(self, label: str, what: str) -> None:
        self.results["failures"].append({"session": label, "error": traceback.format_exc()})
        self.say(f"FAILED {label} ({what}):\n{traceback.format_exc()}")

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
