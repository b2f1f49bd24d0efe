"""Find or start the services a test tier needs: PostgreSQL and Redis.

Order for each: an address from the environment; else a server answering on its
usual local port; else a binary on this machine started on a free port for the
run; else skip, which in CI (``CI=true``) is a failure, never a false pass.

``python -m tests.services with-postgres -- CMD...`` runs CMD with
``LIVEOPS_TEST_DATABASE_URL`` pointing at a PostgreSQL it found or started (and
stops what it started).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

#: Every Redis key a test run writes starts with this; only these are deleted after it.
REDIS_PREFIX = f"liveops-test-{os.getpid()}"

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


class Unavailable(Exception):
    """The service cannot be had on this machine."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise Unavailable(f"{what} did not come up within {timeout}s")


# -- Redis ----------------------------------------------------------------------------


class RedisServer:
    """A redis-server process of our own on a free port (so tests may restart it)."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="liveops-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", self.dir, "--protected-mode", "no"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: answers("127.0.0.1", self.port), 10, "redis-server")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()


def redis_binary() -> str | None:
    return shutil.which("redis-server")


def redis_url() -> tuple[str, RedisServer | None]:
    """A Redis URL for tests, and the server if we started it."""
    env = os.environ.get("LIVEOPS_TEST_REDIS_URL")
    if env:
        return env, None
    if answers("127.0.0.1", 6379):
        return "redis://127.0.0.1:6379/13", None  # our own db number; we delete only our keys
    binary = redis_binary()
    if binary:
        server = RedisServer(binary).start()
        return server.url, server
    with contextlib.suppress(Exception):
        from testcontainers.redis import RedisContainer

        container = RedisContainer().start()
        host, port = container.get_container_host_ip(), container.get_exposed_port(6379)
        return f"redis://{host}:{port}/0", None
    raise Unavailable("no Redis: none answers on 127.0.0.1:6379, no redis-server, no docker")


# -- PostgreSQL -----------------------------------------------------------------------


def _pg_connects(url: str) -> bool:
    try:
        import psycopg
    except ImportError:
        return False
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except Exception:
        return False


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


@contextlib.contextmanager
def postgres_url() -> Iterator[str]:
    env = os.environ.get("LIVEOPS_TEST_DATABASE_URL")
    if env:
        yield env
        return
    user = os.environ.get("USER") or "postgres"
    for candidate in (
        "postgres://postgres@127.0.0.1:5432/test",
        f"postgres://{user}@127.0.0.1:5432/test",
        "postgres://postgres@127.0.0.1:5432/postgres",
    ):
        if answers("127.0.0.1", 5432) and _pg_connects(candidate):
            yield candidate
            return
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        raise Unavailable("no PostgreSQL: none answers on 127.0.0.1:5432 and no initdb/pg_ctl")
    if os.geteuid() == 0:
        raise Unavailable("no PostgreSQL answers, and initdb refuses to run as root")
    data = Path(tempfile.mkdtemp(prefix="liveops-pg-"))
    port = free_port()
    subprocess.run(
        [initdb, "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        [
            pg_ctl,
            "-D",
            str(data),
            "-o",
            f"-p {port} -k {data} -h 127.0.0.1",
            "-l",
            str(data / "log"),
            "-w",
            "start",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        yield f"postgres://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [pg_ctl, "-D", str(data), "-m", "fast", "stop"], check=False, stdout=subprocess.DEVNULL
        )
        shutil.rmtree(data, ignore_errors=True)


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "with-postgres" and argv[1] == "--":
        try:
            with postgres_url() as url:
                env = {**os.environ, "LIVEOPS_TEST_DATABASE_URL": url}
                print(f"services: PostgreSQL at {url.split('@')[-1]}", flush=True)
                return subprocess.call(argv[2:], env=env)
        except Unavailable as exc:
            if IN_CI:
                print(f"services: FAIL (CI needs PostgreSQL): {exc}", file=sys.stderr)
                return 1
            print(f"services: skipping the PostgreSQL run: {exc}", file=sys.stderr)
            return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
