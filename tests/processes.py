"""Real servers and workers for the live tiers: uvicorn in this process or in its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from tests.services import answers, free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent


class InProcessServer:
    """uvicorn serving tests.asgi on a thread of this process (so it shares our layer)."""

    def __init__(self) -> None:
        import uvicorn

        from tests.asgi import application

        self.port = free_port()
        config = uvicorn.Config(
            application,
            host="127.0.0.1",
            port=self.port,
            lifespan="off",
            log_level="warning",
            ws="websockets-sansio",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> InProcessServer:
        self.thread.start()
        wait_until(lambda: self.server.started, 10, "uvicorn")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"


def child_env(db_name: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    env["LIVEOPS_TEST_DB_NAME"] = db_name
    env.update(extra)
    return env


class Process:
    """A child process (server or worker) with its output kept for failure messages."""

    def __init__(self, args: list[str], env: dict[str, str], port: int | None = None) -> None:
        self.args, self.env, self.port = args, env, port
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = Path(os.environ.get("LIVEOPS_TEST_RUN_DIR", ROOT / "tests" / ".run"))
        self.log.mkdir(parents=True, exist_ok=True)
        self.log = self.log / f"proc-{os.getpid()}-{id(self)}.log"

    def start(self) -> Process:
        with self.log.open("ab") as out:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(self.args, env=self.env, cwd=ROOT, stdout=out, stderr=out)
        if self.port is not None:
            wait_until(lambda: answers("127.0.0.1", self.port) or self._died(), 20, self.args[2])
            if self._died():
                raise RuntimeError(f"{self.args} exited:\n{self.output()}")
        return self

    def _died(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, kill: bool = False) -> None:
        if self.proc is None:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)


def uvicorn_server(env: dict[str, str]) -> Process:
    port = free_port()
    args = [sys.executable, "-m", "uvicorn", "tests.asgi:application", "--port", str(port)]
    args += ["--host", "127.0.0.1", "--lifespan", "off", "--log-level", "warning"]
    args += ["--ws", "websockets-sansio"]
    return Process(args, env, port)


def worker(env: dict[str, str], label: str, pk: object) -> Process:
    code = (
        "import django; django.setup(); "
        "from liveops_htmx.worker import run_by_label; "
        f"run_by_label({label!r}, {str(pk)!r})"
    )
    return Process([sys.executable, "-c", code], env)


def celery_worker(env: dict[str, str]) -> Process:
    args = [sys.executable, "-m", "celery", "-A", "tests.celery_app", "worker", "--pool=solo"]
    args += ["--concurrency=1", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    args += ["--loglevel=WARNING"]
    return Process(args, env)


def db_worker(env: dict[str, str]) -> Process:
    args = [sys.executable, "-m", "django", "db_worker", "--interval", "0.1"]
    return Process(args, env)


def until(check, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def run_demo(code, run_dir, **env):
    """Run ``code`` with the demo's settings in a process of its own; its last line is JSON."""
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DEMO_") and k != "DJANGO_SETTINGS_MODULE"
    }
    environ.update(
        DJANGO_SETTINGS_MODULE="demo.settings",
        DEMO_RUN_DIR=str(run_dir),
        DEMO_DB=str(run_dir / "demo.sqlite3"),
        PYTHONPATH=str(ROOT),
        **env,
    )
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def daphne_server(env: dict[str, str]) -> Process:
    port = free_port()
    args = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "-v", "0"]
    return Process([*args, "tests.asgi:application"], env, port)
