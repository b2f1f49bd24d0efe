"""A compared system, live: its worker process, its server process, fresh operations."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.procs import OUT, Server, Worker, child_env

NAMES = {
    "htmx": "liveops-htmx",
    "relay": "bare relay",
    "djl": "django-liveops 0.4.1",
    "celery": "celery-progress 0.5",
}
LAYERS = {"redis": "RedisChannelLayer", "pubsub": "RedisPubSubChannelLayer"}


@dataclass(frozen=True)
class Setup:
    system: str  # htmx | relay | djl | celery
    layer: str = "redis"  # redis | pubsub (not used by celery)
    server: str = "uvicorn"  # uvicorn | daphne
    deflate: bool = True

    @property
    def label(self) -> str:
        parts = [NAMES[self.system]]
        if self.system != "celery":
            parts.append(LAYERS[self.layer])
        else:
            parts.append("HTTP polling 500 ms")
        parts.append(self.server + ("" if self.deflate else " no-deflate"))
        return " / ".join(parts)

    @property
    def slug(self) -> str:
        """A name for this setup's database file and Redis keys (setups may run side by side)."""
        return "-".join(
            [self.system, self.layer, self.server] + ([] if self.deflate else ["nodeflate"])
        )

    @property
    def polls(self) -> bool:
        return self.system == "celery"


class Live:
    """``servers`` server processes (on ports of their own); ``shards``: Redis URLs to shard
    the channel layer over (default: ``redis_url`` alone)."""

    def __init__(
        self,
        setup: Setup,
        redis_url: str,
        prefix: str,
        *,
        servers: int = 1,
        shards: list[str] | None = None,
    ) -> None:
        self.setup = setup
        self.count = servers
        db = OUT / f"{setup.slug}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        OUT.mkdir(parents=True, exist_ok=True)
        self.env = child_env(
            system=setup.system,
            layer=setup.layer,
            redis_url=redis_url,
            prefix=f"{prefix}{setup.slug}.",
            db=str(db),
        )
        if shards:
            self.env["BENCH_REDIS_URLS"] = ",".join(shards)
        self.worker: Worker | None = None
        self.server: Server | None = None
        self.servers: list[Server] = []
        self.pool: list[Worker] = []  # worker processes that drive many operations

    def __enter__(self) -> Live:
        try:
            self.worker = Worker(self.env)  # migrates while the server starts
            for _ in range(self.count):
                kind, deflate = self.setup.server, self.setup.deflate
                self.servers.append(Server(kind, self.env, deflate=deflate).start())
            self.server = self.servers[0]
            self.worker.wait_ready()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self.servers:
            server.stop()
        for worker in [*self.pool, *([self.worker] if self.worker else [])]:
            worker.stop()

    def drivers(self, count: int) -> list[Worker]:
        """``count`` worker processes besides the first, kept for the session's steps."""
        while len(self.pool) < count:
            self.pool.append(Worker(self.env))
        for worker in self.pool:
            worker.wait_ready()
        return self.pool[:count]

    def target(self) -> dict[str, Any]:
        return self.targets(1)[0]

    def targets(self, count: int, **how: Any) -> list[dict[str, Any]]:
        """Fresh operations (``owned=True``: of one user, who views them)."""
        assert self.worker is not None
        targets: list[dict[str, Any]] = self.worker.call("prepare", count=count, **how)["targets"]
        return targets

    def client_spec(self, target: dict[str, Any], **extra: Any) -> dict[str, Any]:
        """The spec of a viewer of ``target`` (a WebSocket one, or a poller for celery)."""
        spec: dict[str, Any] = {"marker": "BENCHDONE", "spread": 0.0, "keep": "frames"}
        spec.update(self.viewer_of(target))
        if not self.setup.polls:
            spec["expect_snapshot"] = self.setup.system != "relay"
        spec.update(extra)
        return spec

    def viewer_of(
        self,
        target: dict[str, Any],
        port: int | None = None,
        tag: int | None = None,
        transport: str = "websocket",
    ) -> dict[str, Any]:
        """What differs from viewer to viewer: where it connects, its cookie, its target.

        ``transport``: liveops-htmx's ``sse`` or ``poll`` views instead of the socket.
        """
        assert self.server is not None
        host, port = "127.0.0.1", port or self.server.port
        if self.setup.polls:
            return {"host": host, "port": port, "path": target["path"], "interval": 0.5}
        if transport != "websocket":  # bench.httpclient's viewers (the bench's are anonymous)
            view = "events" if transport == "sse" else "poll"
            path = f"/live/{target['model']}/{target['pk']}/{view}/?{target['query']}"
            # polling every 2 s, POLL_INTERVAL's default
            return {
                "host": host,
                "port": port,
                "path": path,
                "mode": transport,
                "interval": 2.0,
                "tag": tag,
            }
        return {
            "url": f"ws://{host}:{port}/asgi/notifications/?{target['query']}",
            "origin": f"http://{host}:{port}",
            "cookie": target.get("cookie") or "",
            "tag": tag,
        }

    @property
    def client_module(self) -> str:
        return "bench.poller" if self.setup.polls else "bench.wsclient"
