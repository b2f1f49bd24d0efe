"""htmx 4 as released on npm, for the demo and the e2e suite (``DEMO_HTMX=4-release``).

``python -m demo.htmx_release`` (``make htmx-release``) runs ``npm pack`` for
``htmx.org@$HTMX_RELEASE`` (default below) and keeps what the demo loads, laid out
as in the package::

    build/htmx-release/htmx.org/package.json
    build/htmx-release/htmx.org/dist/htmx.min.js         htmx
    build/htmx-release/htmx.org/dist/ext/hx-ws.min.js    its ws extension
    build/htmx-release/htmx.org/dist/ext/hx-sse.min.js   its sse extension

The demo serves ``build/htmx-release/htmx.org`` as static files under ``htmx.org/``
and names the three scripts in ``LIVEOPS["HTMX_SCRIPTS"]``. A fetch that fails writes why into
``build/htmx-release/FAILED`` (the e2e variant skips with that reason); it is an
error only in CI (``CI=true``). An exact version already there is not fetched again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The npm version (or range) of htmx.org; HTMX_RELEASE=4 takes the newest 4.x.
VERSION = os.environ.get("HTMX_RELEASE") or "4.0.1"
RELEASE_DIR = ROOT / "build" / "htmx-release"
PACKAGE_DIR = RELEASE_DIR / "htmx.org"
FAILED = RELEASE_DIR / "FAILED"
#: Files kept from the package (paths inside it).
FILES = (
    "package.json",
    "LICENSE",
    "dist/htmx.min.js",
    "dist/ext/hx-ws.min.js",
    "dist/ext/hx-sse.min.js",
)
#: LIVEOPS["HTMX_SCRIPTS"] for it: static paths (PACKAGE_DIR as "htmx.org/"), in load order.
SCRIPTS = (
    "htmx.org/dist/htmx.min.js",
    "htmx.org/dist/ext/hx-ws.min.js",
    "htmx.org/dist/ext/hx-sse.min.js",
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
NPM_TIMEOUT = 120


class FetchFailed(Exception):
    pass


def fetched_version() -> str | None:
    """The version in build/htmx-release, if every file the demo needs is there."""
    if not all((PACKAGE_DIR / name).is_file() for name in FILES):
        return None
    try:
        return str(json.loads((PACKAGE_DIR / "package.json").read_text())["version"])
    except (ValueError, KeyError):
        return None


def _exact(version: str) -> bool:
    return re.fullmatch(r"\d+\.\d+\.\d+(-[\w.]+)?", version) is not None


def missing() -> str | None:
    """Why the released htmx cannot be served, or None if it can."""
    got = fetched_version()
    if got is not None and (got == VERSION or not _exact(VERSION)):
        return None
    if FAILED.exists():
        why = FAILED.read_text().strip()
    elif got is not None:
        why = f"it holds {got}, not {VERSION}"
    else:
        why = "it was not fetched"
    return f"no htmx.org@{VERSION} in build/htmx-release: {why} (make htmx-release)"


def _npm_pack(spec: str, into: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise FetchFailed("npm is not installed")
    args = [npm, "pack", spec, "--json", "--ignore-scripts", "--pack-destination", str(into)]
    args += ["--fetch-retries=1", "--fetch-timeout=30000"]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=NPM_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise FetchFailed(f"npm pack {spec} took longer than {NPM_TIMEOUT}s") from None
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        said = next((line for line in lines if "error" in line), lines[-1] if lines else "")
        raise FetchFailed(f"npm pack {spec} failed: {said or f'exit {done.returncode}'}")
    try:
        tarball = into / json.loads(done.stdout)[0]["filename"]
    except (ValueError, LookupError) as exc:
        raise FetchFailed(f"npm pack {spec} answered {done.stdout[:200]!r}") from exc
    if not tarball.is_file():
        raise FetchFailed(f"npm pack {spec} wrote no {tarball.name}")
    return tarball


def _unpack(tarball: Path, into: Path) -> str:
    """Copy FILES out of the package's tarball into ``into``; return its version."""
    with tarfile.open(tarball) as archive:
        for name in FILES:
            try:
                member = archive.getmember(f"package/{name}")
            except KeyError:
                raise FetchFailed(f"{tarball.name} has no {name}") from None
            source = archive.extractfile(member)
            if source is None:
                raise FetchFailed(f"{name} in {tarball.name} is not a file")
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read())
    return str(json.loads((into / "package.json").read_text())["version"])


def fetch(version: str = VERSION) -> str:
    """Put htmx.org@``version`` into build/htmx-release; return the version it holds."""
    if _exact(version) and fetched_version() == version:
        return version
    RELEASE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=RELEASE_DIR) as tmp:
        work = Path(tmp)
        tarball = _npm_pack(f"htmx.org@{version}", work)
        unpacked = work / "htmx.org"
        got = _unpack(tarball, unpacked)
        if not got.startswith("4."):
            raise FetchFailed(f"htmx.org@{version} is {got}, not a release of htmx 4")
        shutil.rmtree(PACKAGE_DIR, ignore_errors=True)
        unpacked.rename(PACKAGE_DIR)
    return got


def main() -> int:
    try:
        got = fetch()
    except (FetchFailed, OSError, tarfile.TarError) as exc:
        RELEASE_DIR.mkdir(parents=True, exist_ok=True)
        FAILED.write_text(f"{exc}\n")
        if IN_CI:
            print(f"htmx-release: {exc} (CI=true: this fails the run)", file=sys.stderr)
            return 1
        print(f"htmx-release: {exc}; the e2e variant htmx4r will skip", file=sys.stderr)
        return 0
    FAILED.unlink(missing_ok=True)
    print(f"htmx-release: htmx.org {got} in {PACKAGE_DIR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
