"""Fixtures of the end-to-end suite: the demo served by real processes, and Chromium.

Run from the repository root (pytest-django stays out: the demo is served by its
own processes, the browser talks to them over HTTP and WebSockets)::

    .venv/bin/python -m pytest -q -p no:django e2e

Every scenario runs against htmx 2 and htmx 4 as django-htmx bundles them, and against
the released htmx 4 from npm (``htmx4r``: ``make htmx-release`` fetches it; without it
those skip, or fail with ``CI=true``): one uvicorn process per variant (``DEMO_HTMX``),
on one fresh SQLite database under ``e2e/.run/``. The restart scenario
has its own stack (Redis layer, ``db_worker``). Logs of every process stay in the
run directory when a test fails.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo import htmx_release
from e2e.servers import (
    IN_CI,
    RUN_ROOT,
    Demo,
    Htmx,
    Process,
    Server,
    answers,
    browser_launch_args,
    db_worker,
    free_port,
    wait_until,
)
from e2e.site import Site

HTMX = (Htmx("htmx2", 2, "2"), Htmx("htmx4", 4, "4"), Htmx("htmx4r", 4, "4-release"))
#: Seconds between polls on the demo that refuses WebSockets.
POLL_INTERVAL = 0.5
#: Redis db the restart scenario uses when one answers on 127.0.0.1:6379.
REDIS_DB = 11


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # The root pyproject configures pytest-django for tests/. Without that plugin its
    # ini key is unknown, and filterwarnings = "error" turns the warning into a failure.
    if not pluginmanager.has_plugin("django"):
        parser.addini("DJANGO_SETTINGS_MODULE", "pytest-django's; unused by e2e")


def pytest_report_header() -> str:
    where = htmx_release.missing() or f"htmx.org {htmx_release.fetched_version()}"
    return f"htmx4r: {where}"


def unavailable(reason: str) -> None:
    """Skip outside CI; in CI (``CI=true``) a missing prerequisite fails the run."""
    if IN_CI:
        pytest.fail(f"CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_launch_args() -> dict[str, object]:
    args = browser_launch_args()
    if args is None:
        wanted = os.environ.get("E2E_CHROMIUM")
        unavailable(
            f"no Chromium: E2E_CHROMIUM={wanted} does not exist"
            if wanted
            else "no Chromium: Playwright's own browser is not installed and there is no "
            "/usr/bin/chromium (apt-get install chromium, or set E2E_CHROMIUM)"
        )
    assert args is not None
    return args


@pytest.fixture(scope="session")
def browser_type_launch_args(
    browser_type_launch_args: dict[str, object], chromium_launch_args: dict[str, object]
) -> dict[str, object]:
    return {**browser_type_launch_args, **chromium_launch_args}


@pytest.fixture(scope="session")
def base_url() -> None:
    """Scenarios build URLs from their server's; this also replaces pytest-playwright's
    fallback fixture, a method fixture that pytest deprecates (warnings are errors here)."""
    return


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def run_dir(
    request: pytest.FixtureRequest, chromium_launch_args: dict[str, object]
) -> Iterator[Path]:
    """``e2e/.run/run-<pid>``: databases and process logs, kept if a test failed."""
    for old in RUN_ROOT.glob("run-*"):  # what earlier runs kept, once they are gone
        pid = old.name.removeprefix("run-")
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    path = RUN_ROOT / f"run-{os.getpid()}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    failed_before = request.session.testsfailed
    yield path
    if request.session.testsfailed == failed_before:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def demo(run_dir: Path) -> Demo:
    """The demo's database, migrated, with the non-staff user "eve"."""
    return Demo(run_dir, "demo").prepare(users=True)


@pytest.fixture(scope="session", params=HTMX, ids=[h.id for h in HTMX])
def htmx(request: pytest.FixtureRequest) -> Htmx:
    variant: Htmx = request.param
    if variant.release:
        problem = htmx_release.missing()
        if problem is not None:
            unavailable(problem)
    return variant


@pytest.fixture(scope="session")
def site(demo: Demo, htmx: Htmx, run_dir: Path) -> Iterator[Site]:
    """The embedded demo (thread runner, in-memory layer) served for one htmx variant."""
    server = Server(f"uvicorn-{htmx.id}", demo.with_env(DEMO_HTMX=htmx.demo), run_dir)
    server.start()
    try:
        yield Site(server.url, htmx.major)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def no_websocket_site(demo: Demo, htmx: Htmx, run_dir: Path) -> Iterator[Site]:
    """The embedded demo behind what refuses every WebSocket upgrade (as some proxies do)."""
    env = demo.with_env(
        DEMO_HTMX=htmx.demo, DEMO_WEBSOCKETS="refuse", DEMO_POLL_INTERVAL=str(POLL_INTERVAL)
    )
    server = Server(f"uvicorn-nows-{htmx.id}", env, run_dir)
    server.start()
    try:
        yield Site(server.url, htmx.major)
    finally:
        server.stop()


# -- the scaled shape (restart scenario) -----------------------------------------------


@pytest.fixture(scope="session")
def redis_url(run_dir: Path) -> Iterator[str]:
    """Redis for the channel layer: one on 127.0.0.1:6379 (db 11), else our own server."""
    if os.environ.get("E2E_REDIS_URL"):
        yield os.environ["E2E_REDIS_URL"]
        return
    if answers(6379):
        yield f"redis://127.0.0.1:6379/{REDIS_DB}"
        return
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("no Redis: none answers on 127.0.0.1:6379 and redis-server is missing")
    assert binary is not None
    port = free_port()
    data = run_dir / "redis"
    data.mkdir()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(data)]
    redis = Process("redis", args, dict(os.environ), run_dir).start()
    try:
        wait_until(lambda: answers(port), 10, "redis-server to listen")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        redis.stop()


@pytest.fixture(scope="session")
def scaled_demo(run_dir: Path, redis_url: str) -> Demo:
    """A second database for the scaled shape: Redis pub/sub layer, django_tasks runner."""
    demo = Demo(run_dir, "scaled", DEMO_REDIS_URL=redis_url, DEMO_RUNNER="django_tasks")
    return demo.prepare(users=False)


@pytest.fixture(scope="session")
def scaled_worker(scaled_demo: Demo, run_dir: Path) -> Iterator[Process]:
    """``db_worker`` running the scaled demo's operations in a process of its own."""
    worker = db_worker(scaled_demo.env, run_dir).start()
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def scaled_server(
    scaled_demo: Demo, scaled_worker: Process, htmx: Htmx, run_dir: Path
) -> Iterator[Server]:
    """uvicorn for the scaled demo; the test may kill it and start it again on its port."""
    server = Server(f"uvicorn-scaled-{htmx.id}", scaled_demo.with_env(DEMO_HTMX=htmx.demo), run_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()
