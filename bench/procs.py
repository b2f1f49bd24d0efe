"""Child processes of a run: the ASGI server, the worker and the client processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from tests.services import answers, free_port

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
RUN = OUT / "run"
TICKS = os.sysconf("SC_CLK_TCK")


def child_env(**bench: str) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "bench.project.settings",
    }
    env.update({f"BENCH_{key.upper()}": value for key, value in bench.items()})
    return env


def _log(name: str) -> IO[bytes]:
    RUN.mkdir(parents=True, exist_ok=True)
    return (RUN / f"{name}.log").open("ab")


class Server:
    """uvicorn or daphne serving ``bench.project.asgi`` in a process of its own."""

    def __init__(self, kind: str, env: dict[str, str], *, deflate: bool = True) -> None:
        self.kind, self.env, self.deflate = kind, env, deflate
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def args(self) -> list[str]:
        app = "bench.project.asgi:application"
        if self.kind == "daphne":
            return [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-v",
                "0",
                app,
            ]
        args = [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        args += ["--lifespan", "off", "--log-level", "warning", "--no-access-log"]
        if not self.deflate:
            args += ["--ws-per-message-deflate", "false"]
        return args

    def start(self) -> Server:
        with _log(f"server-{self.kind}") as out:
            self.proc = subprocess.Popen(
                self.args(), env=self.env, cwd=ROOT, stdout=out, stderr=out
            )
        deadline = time.monotonic() + 30
        while not answers("127.0.0.1", self.port, 0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.kind} did not start (see bench/out/run/server-{self.kind}.log)"
                )
            time.sleep(0.05)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def wait_idle(self, timeout: float, window: float = 0.4, busy: float = 0.08) -> float:
        """Wait until the server used under ``busy`` of a core over ``window``; return the wait."""
        began = time.monotonic()
        last = self.cpu_s()
        while time.monotonic() - began < timeout:
            time.sleep(window)
            now = self.cpu_s()
            if now - last < busy * window:
                break
            last = now
        return time.monotonic() - began

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(2)  # nothing to keep: a server slow to shut down is killed
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None


class Worker:
    """``bench.worker`` in a process of its own, answering one JSON command at a time."""

    def __init__(self, env: dict[str, str]) -> None:
        with _log("worker") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bench.worker"],
                env=env,
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
        self.hello: dict[str, Any] | None = None

    def wait_ready(self) -> dict[str, Any]:
        if self.hello is None:
            self.hello = self._read()
        return self.hello

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("@@"):
                answer: dict[str, Any] = json.loads(line[2:])
                if "error" in answer:
                    raise RuntimeError(f"worker failed:\n{answer['error']}")
                return answer
        raise RuntimeError("the worker exited (see bench/out/run/worker.log)")

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        self.send(op, **args)
        return self._read()

    def send(self, op: str, **args: Any) -> None:
        """Start a command; :meth:`answer` reads its answer (workers may run side by side)."""
        self.wait_ready()
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()

    def answer(self) -> dict[str, Any]:
        return self._read()

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


class Clients:
    """Client processes (``bench.wsclient`` or ``bench.poller``), one spec each."""

    serial = 0

    def __init__(self, module: str, spec: dict[str, Any], count: int, procs: int) -> None:
        Clients.serial += 1
        RUN.mkdir(parents=True, exist_ok=True)
        self.specs: list[dict[str, Any]] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        self.cpu_s = 0.0  # CPU the client processes used, once collected
        procs = max(1, min(procs, count))
        env = child_env()
        offset = 0
        for k in range(procs):
            share = count // procs + (1 if k < count % procs else 0)
            base = RUN / f"clients-{os.getpid()}-{Clients.serial}-{k}"
            for suffix in (".ready", ".stop", ".out"):
                Path(f"{base}{suffix}").unlink(missing_ok=True)
            one = {
                **spec,
                **({"each": spec["each"][offset : offset + share]} if "each" in spec else {}),
                "count": share,
                "spread": spec.get("spread", 0.0) * share / max(count, 1),
                "ready": f"{base}.ready",
                "stop": f"{base}.stop",
                "out": f"{base}.out",
            }
            offset += share
            Path(f"{base}.spec.json").write_text(json.dumps(one))
            self.specs.append(one)
            with _log("clients") as err:
                self.procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", module, f"{base}.spec.json"],
                        env=env,
                        cwd=ROOT,
                        stdout=err,
                        stderr=err,
                    )
                )

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(Path(s["ready"]).exists() for s in self.specs):
                return True
            if any(
                p.poll() is not None and not Path(s["ready"]).exists()
                for p, s in zip(self.procs, self.specs, strict=True)
            ):
                return False
            time.sleep(0.05)
        return False

    def ready_at(self) -> float:
        return max(json.loads(Path(s["ready"]).read_text())["at"] for s in self.specs)

    def wait_done(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(p.poll() is not None for p in self.procs):
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        for s in self.specs:
            Path(s["stop"]).touch()

    def collect(self, timeout: float = 60) -> list[dict[str, Any]]:
        if not self.wait_done(timeout):
            self.stop()
        viewers: list[dict[str, Any]] = []
        for p, s in zip(self.procs, self.specs, strict=True):
            try:
                p.wait(max(timeout, 30))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
            out = Path(s["out"])
            if out.exists():
                got = json.loads(out.read_text())
                viewers += got["viewers"]
                self.cpu_s += got["cpu_s"]
            for suffix in (".ready", ".stop", ".out", ".spec.json"):
                Path(s["ready"][: -len(".ready")] + suffix).unlink(missing_ok=True)
        return viewers
