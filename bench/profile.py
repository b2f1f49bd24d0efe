"""``--profile STEP``: record a py-spy profile of the server process while STEP runs.

``py-spy record --pid <server> --format raw`` (collapsed stacks, one line a stack with
its sample count; or ``--profile-format speedscope``) into
``bench/out/profile-<setup>-<step>.<ext>``; for raw profiles the run prints the frames
with the most samples, on their own (self) and with what they call (total).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.procs import OUT

__all__ = ["OUT", "recording", "top"]

_FILE = re.compile(r"\(<?([A-Za-z0-9_]+)")  # "frame (package/module.py:12)"


def binary() -> str:
    found = Path(sys.executable).parent / "py-spy"
    return str(found) if found.exists() else (shutil.which("py-spy") or "py-spy")


@contextmanager
def recording(pid: int, path: Path, fmt: str = "raw") -> Iterator[Path]:
    args = [binary(), "record", "--pid", str(pid), "--rate", "200", "--format", fmt]
    args += ["--output", str(path), "--nonblocking"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield path
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if proc.returncode not in (0, -signal.SIGINT) and not path.exists():
            print(f"bench: py-spy failed: {err.decode(errors='replace')[-500:]}", flush=True)


def top(path: Path, n: int = 12) -> dict[str, Any]:
    """The frames with most samples of their own in a raw profile, and the packages'."""
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        leaf = stack.split(";")[-1]
        samples += int(count)
        own[leaf] += int(count)
        found = _FILE.search(leaf)
        packages[found.group(1) if found else "?"] += int(count)

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(f, round(100 * c / max(1, samples), 1)) for f, c in counter.most_common(n)]

    return {"samples": samples, "self": share(own), "packages": share(packages)}
