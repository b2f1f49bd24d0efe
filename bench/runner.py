"""Run the planned sessions and gather every measurement.

Each session's steps run on its own live system, one system at a time, except the
latency step: the latency setups are all started together at the end and take turns,
a chunk of calls each (see :mod:`bench.latency`).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from contextlib import ExitStack, nullcontext
from dataclasses import replace
from typing import Any

from bench import fanout, latency, lists, many, memory, profile, shards, storm, transports
from bench.plan import Session, Sizes
from bench.systems import Live, Setup
from tests.services import RedisServer, redis_binary


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
    def __init__(
        self,
        sizes: Sizes,
        redis_url: str,
        prefix: str,
        *,
        profile_steps: frozenset[str] = frozenset(),
        profile_format: str = "raw",
    ) -> None:
        self.sizes = sizes
        self.redis_url, self.prefix = redis_url, prefix
        self.profile_steps, self.profile_format = profile_steps, profile_format
        self.results: dict[str, Any] = {
            "latency": [],
            "fanout": [],
            "storm": [],
            "memory": [],
            "track": [],
            "wire": {},
            "many": [],
            "unwatched": [],
            "list": [],
            "shards": [],
            "grow": [],
            "transports": [],
            "profiles": [],
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
                if session.steps == ("shards",):
                    self.shards(session.setup)
                    continue
                with Live(session.setup, self.redis_url, self.prefix) as live:
                    self.say(f"  started ({time.monotonic() - began:.1f} s)")
                    for step in session.steps:
                        at = time.monotonic()
                        with self.profiled(live, step):
                            self.step(live, session, step)
                        self.say(f"  {step} took {time.monotonic() - at:.1f} s")
            except Exception:
                self._failed(session.setup.label, ", ".join(session.steps))
            finally:
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

    #: steps whose measurements profile their updates alone (``around``), not the connects
    AROUND = frozenset({"many", "unwatched", "list", "grow", "transports", "shards"})

    def profiled(self, live: Live, step: str) -> Any:
        """py-spy on the server while ``step`` runs, if ``--profile`` named it."""
        if step not in self.profile_steps or step in self.AROUND:
            return nullcontext()
        return self._profile(live, step)

    def around(self, live: Live, step: str) -> Callable[[], Any]:
        """For the scale steps: a context that profiles one measurement's updates."""
        if step not in self.profile_steps:
            return nullcontext
        return lambda: self._profile(live, step)

    def _profile(self, live: Live, step: str) -> Any:
        assert live.server is not None
        ext = "txt" if self.profile_format == "raw" else "json"
        done = self.results["profiles"]
        n = sum(p["step"] == step and p["label"] == live.setup.label for p in done)
        path = profile.OUT / f"profile-{live.setup.slug}-{step}{f'-{n + 1}' if n else ''}.{ext}"
        entry: dict[str, Any] = {"label": live.setup.label, "step": step, "path": path.name}
        self.results["profiles"].append(entry)

        def summary() -> None:
            if self.profile_format == "raw" and path.exists():
                entry["top"] = profile.top(path)
                self.say(f"  profile {path.name}, top frames (self %):")
                for frame, share in entry["top"]["self"][:8]:
                    self.say(f"    {share:5.1f}  {frame}")

        stack = ExitStack()
        stack.callback(summary)  # once py-spy has written the profile (callbacks run last first)
        stack.enter_context(profile.recording(live.server.pid, path, self.profile_format))
        return stack

    def shards(self, setup: Setup) -> None:
        """Two servers, two workers, the layer sharded over two redis-servers of our own."""
        z = self.sizes.scale
        if redis_binary() is None:
            self.results["shards"].append(
                {"label": setup.label, "system": setup.system, "error": "no redis-server"}
            )
            return
        with ExitStack() as stack:
            servers = [RedisServer(str(redis_binary())).start() for _ in range(2)]
            for server in servers:
                stack.callback(server.stop)
            urls = [server.url for server in servers]
            live = stack.enter_context(Live(setup, urls[0], self.prefix, servers=2, shards=urls))
            res = shards.measure(
                live,
                servers,
                z.shard_viewers,
                z.shard_ops,
                z.rate,
                z.shard_seconds,
                procs=self.sizes.client_procs,
                size=self.status_size,
                wait=z.shard_wait,
                around=self.around(live, "shards"),
            )
        self.results["shards"].append(_entry(live, res))
        self.say(
            f"  shards: {res.get('with_result')}/{res.get('viewers')} have the result, "
            f"reconverged p99 {(res.get('reconverged') or {}).get('p99_ms')} ms, "
            f"load {[s['commands'] for s in res.get('shard_load', [])]} {res.get('error') or ''}"
        )

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
        elif step in ("many", "unwatched"):
            ops = z.scale.many_ops if step == "many" else z.scale.unwatched_ops
            per_op = z.scale.many_per_op if step == "many" else 0
            seconds = z.scale.many_seconds if step == "many" else z.scale.unwatched_seconds
            res = self.many(live, ops, per_op, seconds, step)
            self.results[step].append(_entry(live, res))
        elif step == "grow":
            for viewers in z.scale.grow_viewers:
                res = self.many(live, 1, viewers, z.scale.grow_seconds, step)
                self.results["grow"].append(_entry(live, {"axis": "viewers", **res}))
            for ops in z.scale.grow_ops:
                res = self.many(live, ops, 2, z.scale.grow_seconds, step)
                self.results["grow"].append(_entry(live, {"axis": "ops", **res}))
        elif step == "list":
            res = lists.measure(
                live,
                z.scale.list_ops,
                z.scale.rate,
                z.scale.list_seconds,
                workers=min(2, z.scale.workers),
                size=self.status_size,
                around=self.around(live, step),
            )
            self.results["list"].append(_entry(live, res))
            self.say(
                f"  list: {res.get('frames_per_s')} frames/s, {res.get('bytes_per_s')} B/s, "
                f"row p99 {(res.get('staleness') or {}).get('p99_ms')} ms, "
                f"{res.get('finished_rows')}/{res['ops']} rows finished {res.get('error') or ''}"
            )
        elif step == "transports":
            for res in transports.fanout(
                live,
                z.scale.transport_viewers,
                z.scale.rate * 4,
                z.scale.transport_seconds,
                procs=z.client_procs,
                size=self.status_size,
                around=self.around(live, step),
            ):
                self.results["transports"].append(_entry(live, res))
                self.say(
                    f"  transport {res['transport']}: p50 "
                    f"{(res.get('staleness') or {}).get('p50_ms')} ms, p99 "
                    f"{(res.get('staleness') or {}).get('p99_ms')} ms, "
                    f"{res.get('with_result')} with result {res.get('error') or ''}"
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

    def many(self, live: Live, ops: int, per_op: int, seconds: float, step: str) -> dict[str, Any]:
        z = self.sizes
        res = many.measure(
            live,
            ops,
            per_op,
            z.scale.rate,
            seconds,
            workers=min(z.scale.workers, ops),
            procs=z.client_procs,
            size=self.status_size,
            around=self.around(live, step),
        )
        pace = res.get("pace") or {}
        self.say(
            f"  {ops} ops x {per_op} viewers: p99 {(res.get('staleness') or {}).get('p99_ms')} ms, "
            f"{res.get('cpu_us_per_frame')} µs CPU/frame, {res.get('with_result')} with result, "
            f"server CPU {res.get('server_cpu_s')} s (idle {res.get('idle_cpu_s')}), "
            f"pace {pace.get('achieved_per_s')}/{pace.get('wanted_per_s')} per s "
            f"kept={pace.get('kept')} {res.get('error') or ''}"
        )
        return res
