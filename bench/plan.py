"""What a run measures, and how big: the full benchmark or the quick CI smoke run."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.systems import Setup


@dataclass(frozen=True)
class Sizes:
    latency_n: int
    latency_interval: float
    fan_viewers: tuple[int, ...]
    fan_seconds: float
    fan_rate: float
    storm_viewers: int
    storm_spread: float
    track_items: int
    memory_viewers: int
    client_procs: int
    timeout: float
    #: the latency calls are made in this many turns per system, the systems taking turns
    latency_chunks: int = 1
    scale: Scale = field(default_factory=lambda: Scale())


@dataclass(frozen=True)
class Scale:
    """Sizes of the scale scenarios (bench/many.py, lists.py, shards.py, transports.py)."""

    rate: float = 5.0  # updates a second of every operation
    workers: int = 4  # worker processes driving the operations
    many_ops: int = 500
    many_per_op: int = 2
    many_seconds: float = 30.0
    unwatched_ops: int = 500
    unwatched_seconds: float = 10.0
    list_ops: int = 50
    list_seconds: float = 10.0
    shard_viewers: int = 2000
    shard_ops: int = 20
    shard_seconds: float = 30.0
    #: how long viewers may take to get their result after a shard restart
    shard_wait: float = 60.0
    grow_viewers: tuple[int, ...] = (1, 10, 100, 500, 1000, 2000)
    grow_ops: tuple[int, ...] = (1, 10, 100, 500, 1000)
    grow_seconds: float = 5.0
    transport_viewers: int = 200
    transport_seconds: float = 5.0


QUICK_SCALE = Scale(
    workers=2,
    many_ops=40,
    many_seconds=4.0,
    unwatched_ops=40,
    unwatched_seconds=2.0,
    list_ops=10,
    list_seconds=3.0,
    shard_viewers=100,
    shard_ops=4,
    shard_seconds=6.0,
    shard_wait=45.0,
    grow_viewers=(1, 20),
    grow_ops=(1, 10),
    grow_seconds=2.0,
    transport_viewers=20,
    transport_seconds=2.0,
)
FULL = Sizes(1000, 0.005, (200, 1000), 5.0, 20.0, 1000, 2.0, 1_000_000, 1000, 4, 240.0, 10)
QUICK = Sizes(100, 0.005, (50,), 1.5, 20.0, 50, 0.25, 100_000, 50, 2, 20.0, scale=QUICK_SCALE)


@dataclass(frozen=True)
class Session:
    """One server process (and one worker process) for a setup, and what runs on it, in order."""

    setup: Setup
    steps: tuple[str, ...]
    #: fan-out runs as (viewers, kind); None: every size of the plan, with p.status()
    fan: tuple[tuple[int, str], ...] | None = field(default=None)

    def fan_runs(self, sizes: Sizes) -> tuple[tuple[int, str], ...]:
        return self.fan if self.fan is not None else tuple((v, "status") for v in sizes.fan_viewers)


BASE = ("wire", "memory", "latency", "storm", "fanout", "track")


def sessions(quick: bool) -> list[Session]:
    htmx, relay = Setup("htmx", "redis"), Setup("relay", "redis")
    djl, celery = Setup("djl", "pubsub"), Setup("celery")
    if quick:
        return [
            Session(
                htmx,
                (*BASE, "many", "unwatched", "list", "grow", "transports"),
            ),
            Session(Setup("htmx", "pubsub"), ("latency",)),
            Session(relay, ("latency", "fanout", "many", "list", "grow")),
            Session(djl, ("wire", "latency", "storm", "fanout", "track", "many", "list")),
            Session(celery, ("latency", "storm")),
            Session(Setup("htmx", "redis", "daphne"), ("memory",)),
            # A cluster of its own: two servers, two workers, two Redis shards.
            Session(htmx, ("shards",)),
        ]
    scale = ("many", "list")
    return [
        Session(
            htmx,
            (*BASE, *scale, "unwatched", "grow", "transports"),
            fan=((200, "status"), (1000, "status"), (1000, "percent")),
        ),
        Session(
            Setup("htmx", "pubsub"), ("latency", "storm", "fanout", *scale, "grow", "transports")
        ),
        Session(Setup("htmx", "redis", deflate=False), ("fanout",), fan=((1000, "status"),)),
        Session(relay, ("memory", "latency", "storm", "fanout", *scale, "unwatched", "grow")),
        Session(Setup("relay", "pubsub"), ("latency", "fanout", *scale), fan=((1000, "status"),)),
        Session(djl, ("wire", "memory", "latency", "storm", "fanout", "track", *scale, "grow")),
        Session(celery, ("latency", "storm", "fanout")),
        Session(Setup("htmx", "redis", "daphne"), ("memory", "latency", "many", "transports")),
        Session(Setup("htmx", "pubsub", "daphne"), ("latency", "many")),
        Session(Setup("relay", "redis", "daphne"), ("memory", "latency", "many")),
        Session(Setup("djl", "pubsub", "daphne"), ("memory", "latency", "many")),
        Session(htmx, ("shards",)),
        Session(Setup("htmx", "pubsub"), ("shards",)),
        Session(relay, ("shards",)),
        Session(djl, ("shards",)),
    ]
