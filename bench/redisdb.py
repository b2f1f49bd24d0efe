"""Redis for the run, found as the test suite finds it; the bench keeps to DB 12 and its prefix."""

from __future__ import annotations

import os

from tests import services

OWN_DB = 12


def find() -> tuple[str, services.RedisServer | None]:
    """A Redis URL, and the server if we had to start one (stop it at the end)."""
    url, server = services.redis_url()
    if server is None and url.startswith("redis://127.0.0.1:6379/"):
        url = f"redis://127.0.0.1:6379/{OWN_DB}"
    return url, server


def prefix() -> str:
    return f"liveops-bench-{os.getpid()}"


def cleanup(url: str, key_prefix: str) -> int:
    """Delete this run's keys (and only those); return how many."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{key_prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
        return len(keys)
    finally:
        client.close()
