"""``make demo-redis``: the demo in its scale-out shape.

channels_redis (pub/sub) between processes, and a separate worker process
(django-tasks-db's ``db_worker``) running the operations. Redis: ``DEMO_REDIS_URL``,
else one answering on 127.0.0.1:6379 (db 14), else a ``redis-server`` started here.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def redis_url(children: list[subprocess.Popen[bytes]]) -> str:
    if os.environ.get("DEMO_REDIS_URL"):
        return os.environ["DEMO_REDIS_URL"]
    if answers(6379):
        return "redis://127.0.0.1:6379/14"
    binary = shutil.which("redis-server")
    if not binary:
        sys.exit("demo-redis needs Redis: set DEMO_REDIS_URL or install redis-server.")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [binary, "--port", str(port), "--save", "", "--dir", tempfile.mkdtemp()]
    children.append(subprocess.Popen(args, stdout=subprocess.DEVNULL))
    while not answers(port):
        time.sleep(0.05)
    return f"redis://127.0.0.1:{port}/0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    children: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "demo.settings"}
    env["DEMO_REDIS_URL"] = redis_url(children)
    env["DEMO_RUNNER"] = "django_tasks"
    python = sys.executable
    subprocess.run(
        [python, "demo/manage.py", "migrate", "--noinput"], env=env, cwd=ROOT, check=True
    )
    children.append(subprocess.Popen([python, "demo/manage.py", "db_worker"], env=env, cwd=ROOT))
    server = [python, "-m", "uvicorn", "demo.asgi:application", "--port", str(args.port)]
    server += ["--host", "127.0.0.1", "--ws", "websockets-sansio", "--lifespan", "off"]
    children.append(subprocess.Popen(server, env=env, cwd=ROOT))
    print(f"demo-redis: http://127.0.0.1:{args.port}/ (Redis pub/sub layer, db_worker)")
    try:
        children[-1].wait()
    except KeyboardInterrupt:
        pass
    finally:
        for child in reversed(children):
            child.send_signal(signal.SIGTERM)
            child.wait(10)


if __name__ == "__main__":
    main()
