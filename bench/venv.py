"""The bench's own virtualenv (bench/.venv), with the compared packages; re-exec inside it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "bench" / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".bench-installed"
REQUIREMENTS = [
    "-e",
    ".",
    "django-liveops==0.4.1",
    "celery-progress==0.5",
    "channels-redis",
    "celery",
    "redis",
    "uvicorn",
    "daphne",
    "websockets",
    "matplotlib",
    "py-spy",
]


def _wanted() -> str:
    pyproject = (ROOT / "pyproject.toml").read_bytes()
    return hashlib.sha256(" ".join(REQUIREMENTS).encode() + pyproject).hexdigest()


def inside() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def ensure() -> None:
    """Create and fill bench/.venv unless it already holds what the bench needs."""
    if STAMP.exists() and STAMP.read_text() == _wanted() and PYTHON.exists():
        return
    if not PYTHON.exists():
        print("bench: creating bench/.venv", flush=True)
        subprocess.run(["python3", "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(PYTHON), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    print("bench: installing the compared packages into bench/.venv", flush=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "-q", *REQUIREMENTS], check=True, cwd=ROOT)
    STAMP.write_text(_wanted())


def reexec(script: Path, argv: list[str]) -> None:
    """Run ``script`` again under bench/.venv's Python (does not return)."""
    ensure()
    os.execv(str(PYTHON), [str(PYTHON), str(script), *argv])
