"""What one ``p.status()`` costs a worker process, part by part, against a bare ``group_send``;
and what receiving one push costs a server process.

    python bench/costs.py [--calls 3000] [--ops 125] [--receives 5000 --rate 1000]

Scenario 7 asks the workers for 2,500 updates a second; this says how much of a core
each part of an update takes, on each Redis layer, in one process and nothing else
running: the UPDATE of the row, the render of the status part, the channel-layer
message, the whole ``WebProgress.status()`` (its push sent by the publisher thread,
whose CPU counts too), and a bare ``group_send`` from a held loop, which is all the
relay's and django-liveops's drivers do per update there. CPU is the process's
(``time.process_time()``), per call. The SQLite file is a fresh one in bench/out/.

The server's side: a process of its own receives pushes on a channel as the kit's
inbox does (a plain channel name on ``RedisChannelLayer``, the layer's own on
pub/sub) while this one sends them to its group at ``--rate`` a second; its CPU per
push received, everything that process does to receive included, is what a server
pays per push before any rendering or sending.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


RX_GROUP = "bench.costs.rx"


async def inbox_channel(layer: Any) -> str:
    """A channel named as the kit's inbox names its own on this layer."""
    from liveops_htmx.layer import host_count
    from liveops_htmx.serverside.inbox import PLAIN_PREFIX

    name: str = await layer.new_channel()
    if "!" in name and host_count(layer) == 1:
        name = f"{PLAIN_PREFIX}costs{os.getpid()}"
    return name


def receive(count: int) -> dict[str, float]:
    """The receiving process: join, say ready, receive ``count`` pushes (or stop after 2 s
    without one); CPU from the first push to the last."""
    import django

    django.setup()
    from channels.layers import get_channel_layer

    layer = get_channel_layer()

    async def run() -> dict[str, float]:
        channel = await inbox_channel(layer)
        await layer.group_add(RX_GROUP, channel)
        print("ready", flush=True)
        await layer.receive(channel)  # the first push starts the clock
        cpu, wall, got = time.process_time(), time.monotonic(), 1
        try:
            while got < count:
                await asyncio.wait_for(layer.receive(channel), 2)
                got += 1
        except asyncio.TimeoutError:
            pass
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        return {"cpu_us": cpu / max(got - 1, 1) * 1e6, "received": got, "seconds": wall}

    return asyncio.run(run())


def send_to_receiver(layer_name: str, count: int, rate: float) -> dict[str, float]:
    """Start the receiving process, send it ``count`` pushes at ``rate`` a second."""
    import json
    import subprocess

    from channels.layers import get_channel_layer

    from bench.project.htmxapp.models import BenchOp
    from liveops_htmx.progress import WebProgress
    from liveops_htmx.rendering import protocol

    p = WebProgress(BenchOp.objects.create())
    p.start()
    p.status("a status of the usual length")
    op = p.op
    msg = protocol.update_message(
        op, op.seq - 1, ["status", "progress"], lines=[], regions={}, lifecycle=False,
        terminal=False, milestone=False, full=False,
    )  # fmt: skip
    child = [sys.executable, __file__, "--layer", layer_name, "--receive", str(count)]
    receiver = subprocess.Popen(child, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert receiver.stdout is not None
    assert receiver.stdout.readline().strip() == "ready"
    layer = get_channel_layer()

    async def sends() -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for j in range(count):
            await layer.group_send(RX_GROUP, msg)
            ahead = start + (j + 1) / rate - loop.time()
            if ahead > 0:
                await asyncio.sleep(ahead)

    asyncio.run(sends())
    out, _ = receiver.communicate(timeout=60)
    return dict(json.loads(out.strip().splitlines()[-1]))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--ops", type=int, default=125)
    parser.add_argument("--receives", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--layer", choices=["redis", "pubsub"])  # one layer: a child run
    parser.add_argument("--receive", type=int)  # the receiving child of a child run
    args = parser.parse_args(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from bench import redisdb, venv

    if not venv.inside():
        venv.reexec(Path(__file__), argv)
    import json

    if args.layer and args.receive:
        print(json.dumps(receive(args.receive)))
        return 0
    if args.layer:
        out: dict[str, object] = dict(measure(args.calls, args.ops))
        out["receiver"] = send_to_receiver(args.layer, args.receives, args.rate)
        print(json.dumps(out))
        return 0
    import subprocess

    from bench.procs import OUT

    OUT.mkdir(parents=True, exist_ok=True)
    url, server = redisdb.find()
    key_prefix = redisdb.prefix()
    rows: dict[str, dict[str, float]] = {}
    received: dict[str, dict[str, float]] = {}
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
            child += ["--ops", str(args.ops), "--receives", str(args.receives)]
            child += ["--rate", str(args.rate)]
            done = subprocess.run(child, env=env, cwd=ROOT, capture_output=True, text=True)
            if done.returncode:
                print(done.stderr, file=sys.stderr)
                return done.returncode
            rows[layer] = json.loads(done.stdout.strip().splitlines()[-1])
            received[layer] = rows[layer].pop("receiver")
    finally:
        redisdb.cleanup(url, key_prefix)
        if server is not None:
            server.stop()
    print(f"Worker CPU per call, µs ({args.calls} calls over {args.ops} operations)\n")
    print("| part | RedisChannelLayer | RedisPubSubChannelLayer |")
    print("| --- | --- | --- |")
    for name in rows["redis"]:
        print(f"| {name} | {rows['redis'][name]:.0f} | {rows['pubsub'][name]:.0f} |")
    print(f"\nServer CPU per push received ({args.receives} pushes at {args.rate:.0f} a second)\n")
    print("| layer | CPU per push | pushes received | received a second | cores at 2,500/s |")
    print("| --- | --- | --- | --- | --- |")
    for layer, got in received.items():
        share = got["cpu_us"] * 2500 / 1e6
        pace = got["received"] / got["seconds"]
        cpu, count = f"{got['cpu_us']:.0f} µs", f"{got['received']:.0f}"
        print(f"| {layer} | {cpu} | {count} | {pace:.0f} | {share:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
