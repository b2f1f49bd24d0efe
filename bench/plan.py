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


FULL = Sizes(1000, 0.005, (200, 1000), 5.0, 20.0, 1000, 2.0, 1_000_000, 1000, 4, 240.0, 10)
QUICK = Sizes(100, 0.005, (50,), 1.5, 20.0, 50, 0.25, 100_000, 50, 2, 20.0)


@dataclass(frozen=True)
class Session:
    """One server process (and one worker process) for a setup, and what runs on it, in order."""

    setup: Setup
    steps: tuple[str, ...]
    #: fan-out runs as (viewers, kind); None: every size of the plan, with p.status()
    fan: tuple[tuple[int, str], ...] | None = field(default=None)

    def fan_runs(self, sizes: Sizes) -> tuple[tuple[int, str], ...]:
        return self.fan if self.fan is not None else tuple((v, "status") for v in sizes.fan_viewers)


def sessions(quick: bool) -> list[Session]:
    htmx, relay = Setup("htmx", "redis"), Setup("relay", "redis")
    djl, celery = Setup("djl", "pubsub"), Setup("celery")
    if quick:
        return [
            Session(htmx, ("wire", "memory", "latency", "storm", "fanout", "track")),
            Session(Setup("htmx", "pubsub"), ("latency",)),
            Session(relay, ("latency", "fanout")),
            Session(djl, ("wire", "latency", "storm", "fanout", "track")),
            Session(celery, ("latency", "storm")),
            Session(Setup("htmx", "redis", "daphne"), ("memory",)),
        ]
    return [
        Session(
            htmx,
            ("wire", "memory", "latency", "storm", "fanout", "track"),
            fan=((200, "status"), (1000, "status"), (1000, "percent")),
        ),
        Session(Setup("htmx", "pubsub"), ("latency", "storm", "fanout")),
        Session(Setup("htmx", "redis", deflate=False), ("fanout",), fan=((1000, "status"),)),
        Session(relay, ("memory", "latency", "storm", "fanout")),
        Session(Setup("relay", "pubsub"), ("latency", "fanout"), fan=((1000, "status"),)),
        Session(djl, ("wire", "memory", "latency", "storm", "fanout", "track")),
        Session(celery, ("latency", "storm", "fanout")),
        Session(Setup("htmx", "redis", "daphne"), ("memory", "latency")),
        Session(Setup("htmx", "pubsub", "daphne"), ("latency",)),
        Session(Setup("relay", "redis", "daphne"), ("memory", "latency")),
        Session(Setup("djl", "pubsub", "daphne"), ("memory", "latency")),
    ]
