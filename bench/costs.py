"""What one ``p.status()`` costs a worker process, part by part, against a bare ``group_send``.

    python bench/costs.py [--calls 3000] [--ops 125]

Scenario 7 asks the workers for 2,500 updates a second; this says how much of a core
each part of an update takes, on each Redis layer, in one process and nothing else
running: the UPDATE of the row, the render of the status part, the channel-layer
message, the whole ``WebProgress.status()`` (its push sent by the publisher thread,
whose CPU counts too), and a bare ``group_send`` from a held loop, which is all the
relay's and django-liveops's drivers do per update there. CPU is the process's
(``time.process_time()``), per call. The SQLite file is a fresh one in bench/out/.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def per_call(calls: int, fn: Callable[[int], object]) -> float:
    """CPU µs per call of ``fn(j)``, j = 0..calls-1."""
    began = time.process_time()
    for j in range(calls):
        fn(j)
    return (time.process_time() - began) / calls * 1e6


def measure(calls: int, ops: int) -> dict[str, float]:
    """In a process whose Django settings are the bench project's (BENCH_LAYER says which)."""
    import django

    django.setup()
    from channels.layers import get_channel_layer
    from django.core.management import call_command

    from bench.project.htmxapp.models import BenchOp
    from liveops_htmx.progress import WebProgress
    from liveops_htmx.rendering import fragments, protocol
    from liveops_htmx.workerside import persist
    from liveops_htmx.workerside.publisher import get_publisher

    call_command("migrate", verbosity=0, interactive=False)
    progress = [WebProgress(BenchOp.objects.create()) for _ in range(ops)]
    for p in progress:
        p.start()
    publisher = get_publisher()
    publisher.flush()

    def write(j: int) -> None:
        op = progress[j % ops].op
        op.status = f"write {j}"
        persist.write(op, {"status"})

    def render(j: int) -> None:
        fragments.render_parts(progress[j % ops].op, ["status"], oob=True)

    def message(j: int) -> None:
        op = progress[j % ops].op
        protocol.update_message(
            op, op.seq - 1, ["status"], lines=[], regions={}, lifecycle=False,
            terminal=False, milestone=False, full=False,
        )  # fmt: skip

    def status(j: int) -> None:
        progress[j % ops].status(f"status {j}")
        if j == calls - 1:
            publisher.flush()

    layer = get_channel_layer()
    payload = {"type": "relay.message", "text": "x" * 283}
    loop = asyncio.new_event_loop()

    async def sends() -> None:
        for j in range(calls):
            await layer.group_send(f"bench.costs.{j % ops}", payload)

    out = {name: per_call(calls, fn) for name, fn in [("UPDATE of the row", write),
           ("render of the status part", render), ("layer message", message),
           ("WebProgress.status(), push included", status)]}  # fmt: skip
    began = time.process_time()
    loop.run_until_complete(sends())
    out["bare group_send (the peers' drivers)"] = (time.process_time() - began) / calls * 1e6
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--ops", type=int, default=125)
    parser.add_argument("--layer", choices=["redis", "pubsub"])  # one layer: a child run
    args = parser.parse_args(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from bench import redisdb, venv

    if not venv.inside():
        venv.reexec(Path(__file__), argv)
    import json

    if args.layer:
        print(json.dumps(measure(args.calls, args.ops)))
        return 0
    import subprocess

    from bench.procs import OUT

    OUT.mkdir(parents=True, exist_ok=True)
    url, server = redisdb.find()
    key_prefix = redisdb.prefix()
    rows: dict[str, dict[str, float]] = {}
    try:
        for layer in ("redis", "pubsub"):
            db = OUT / f"costs-{layer}.sqlite3"
            for old in OUT.glob(f"costs-{layer}.sqlite3*"):
                old.unlink()
            env = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "bench.project.settings",
                "BENCH_SYSTEM": "htmx",
                "BENCH_LAYER": layer,
                "BENCH_REDIS_URL": url,
                "BENCH_PREFIX": key_prefix,
                "BENCH_DB": str(db),
            }
            child = [sys.executable, __file__, "--layer", layer, "--calls", str(args.calls)]
            child += ["--ops", str(args.ops)]
            done = subprocess.run(child, env=env, cwd=ROOT, capture_output=True, text=True)
            if done.returncode:
                print(done.stderr, file=sys.stderr)
                return done.returncode
            rows[layer] = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        redisdb.cleanup(url, key_prefix)
        if server is not None:
            server.stop()
    print(f"Worker CPU per call, µs ({args.calls} calls over {args.ops} operations)\n")
    print("| part | RedisChannelLayer | RedisPubSubChannelLayer |")
    print("| --- | --- | --- |")
    for name in rows["redis"]:
        print(f"| {name} | {rows['redis'][name]:.0f} | {rows['pubsub'][name]:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
