"""The processes an end-to-end run needs: the demo's database, uvicorn, db_worker, a browser.

Everything runs from the repository root with the venv's Python, logs into
``e2e/.run/`` and is stopped by whoever started it (the fixtures, also on failure).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_ROOT = Path(__file__).resolve().parent / ".run"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

#: Debian's Chromium; E2E_CHROMIUM names another binary.
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

EVE = ("eve", "eve-" + secrets.token_hex(8))
#: May see every long import (the model's view permission), control none but her own.
VERA = ("vera", "vera-" + secrets.token_hex(8))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(check: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not happen within {timeout}s")


# -- the browser ----------------------------------------------------------------------


def playwright_chromium() -> str | None:
    """Playwright's own Chromium, if one is installed (it cannot be downloaded here)."""
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as pw:
            path = pw.chromium.executable_path
    except Exception:
        return None
    return path if path and Path(path).exists() else None


def system_chromium() -> str | None:
    wanted = os.environ.get("E2E_CHROMIUM")
    if wanted:
        return wanted if Path(wanted).exists() else None
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


def browser_launch_args() -> dict[str, object] | None:
    """Launch arguments for the Chromium this machine has, or None if it has none."""
    if not os.environ.get("E2E_CHROMIUM") and playwright_chromium():
        return {"args": CHROMIUM_ARGS}
    binary = system_chromium()
    if binary is None:
        return None
    return {"executable_path": binary, "args": CHROMIUM_ARGS}


# -- the demo -----------------------------------------------------------------------


@dataclass(frozen=True)
class Htmx:
    """One htmx the demo serves: the test id, its major version, ``DEMO_HTMX``."""

    id: str
    major: int
    demo: str

    @property
    def release(self) -> bool:
        return self.demo == "4-release"


class Demo:
    """One demo database (migrated, with the users the scenarios need) and its env."""

    def __init__(self, run_dir: Path, name: str, **extra: str) -> None:
        self.run_dir = run_dir
        self.db = run_dir / f"{name}.sqlite3"
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "demo.settings",
            "DEMO_RUN_DIR": str(run_dir),
            "DEMO_DB": str(self.db),
            # As on a network: no DEBUG, each browser context signed in as its own guest.
            "DEMO_DEBUG": "0",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "demo/manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def prepare(self, *, users: bool) -> Demo:
        """Migrate a new database; with ``users``, add "eve" (not staff, with a password)
        and "vera" (the same, with the view permission on long imports)."""
        self.db.unlink(missing_ok=True)
        self.manage("migrate", "--noinput")
        if users:
            self.add_user(*EVE)
            self.add_user(*VERA, permissions=("view_longimport",))
        return self

    def add_user(self, username: str, password: str, permissions: tuple[str, ...] = ()) -> None:
        self.manage(
            "shell",
            "-c",
            "from django.contrib.auth.models import Permission, User; "
            f"u = User.objects.create_user({username!r}, password={password!r}); "
            f"u.user_permissions.add(*Permission.objects.filter(codename__in={list(permissions)!r}))",
        )

    def with_env(self, **extra: str) -> dict[str, str]:
        return {**self.env, **extra}


class Process:
    """A child process whose output goes to a log file in the run directory."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], run_dir: Path) -> None:
        self.name, self.args, self.env = name, args, env
        self.log = run_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.args, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            if kill:
                proc.kill()
            else:
                proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class Server(Process):
    """uvicorn serving the demo's ASGI application on a fixed port (kept across restarts)."""

    def __init__(self, name: str, env: dict[str, str], run_dir: Path) -> None:
        self.port = free_port()
        args = [sys.executable, "-m", "uvicorn", "demo.asgi:application"]
        args += ["--host", "127.0.0.1", "--port", str(self.port)]
        args += ["--ws", "websockets-sansio", "--lifespan", "off", "--log-level", "warning"]
        super().__init__(name, args, env, run_dir)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        super().start()
        try:
            wait_until(lambda: answers(self.port) or not self.alive, 30, f"{self.name} to listen")
        except TimeoutError:
            self.stop()
            raise
        if not self.alive:
            raise RuntimeError(f"{self.name} exited:\n{self.output()}")
        return self

    def kill(self) -> None:
        """Kill -9: the sockets it served end without a closing handshake (1006)."""
        self.stop(kill=True)
        wait_until(lambda: not answers(self.port), 10, f"{self.name} to stop listening")


def db_worker(env: dict[str, str], run_dir: Path, name: str = "db_worker") -> Process:
    args = [sys.executable, "demo/manage.py", "db_worker", "--interval", "0.1"]
    args += ["--no-reload", "--no-startup-delay"]
    return Process(name, args, env, run_dir)
