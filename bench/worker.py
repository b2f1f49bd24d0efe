"""The worker process: Django set up for one system, driven by JSON commands on stdin.

Each command is one line; each answer is one stdout line starting with ``@@`` (other
output, such as warnings, is not ours). Commands: ``prepare`` (operations and their
socket URLs), ``steady`` (a running operation with a status), ``series`` (paced
updates, then the result), ``drive`` (many operations paced at once, then their
results), ``list_target`` (the socket of a list page of them), ``track`` (worker
overhead) and ``wire`` (fragment sizes).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any

MARK = "@@"


def reply(payload: dict[str, Any]) -> None:
    sys.stdout.write(MARK + json.dumps(payload) + "\n")
    sys.stdout.flush()


def handle(kit: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    op = cmd["op"]
    if op == "prepare":
        return {"targets": kit.prepare(int(cmd["count"]), owned=bool(cmd.get("owned")))}
    if op == "drive":
        return dict(kit.drive(cmd["targets"], cmd["spec"]))
    if op == "list_target":
        return dict(kit.list_target(cmd["targets"]))
    if op == "steady":
        kit.steady(cmd["target"])
        return {}
    if op == "series":
        return dict(kit.series(cmd["target"], cmd["spec"]))
    if op == "track":
        return dict(kit.track(int(cmd["n"])))
    if op == "wire":
        return dict(kit.wire())
    raise ValueError(f"unknown command {op!r}")


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.project.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from bench.kits import load

    call_command("migrate", verbosity=0, interactive=False)
    kit = load(settings.BENCH_SYSTEM)
    reply({"ready": True, "system": settings.BENCH_SYSTEM})
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply(handle(kit, json.loads(line)))
        except Exception:
            reply({"error": traceback.format_exc()})


if __name__ == "__main__":
    main()
