from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, User

from liveops_htmx.testing import CapturingChannelLayer, ManualClock
from liveops_htmx.workerside import side
from liveops_htmx.workerside.publisher import get_publisher
from tests import services
from tests.testapp.models import Report

pytest_plugins = ["liveops_htmx.pytest_plugin"]


@pytest.fixture
def user(db):
    return User.objects.create_user("ada", password="pw")


@pytest.fixture
def other_user(db):
    return User.objects.create_user("bob", password="pw")


@pytest.fixture
def anonymous():
    return AnonymousUser()


@pytest.fixture
def report(user):
    return Report.objects.create(owner=user, title="Q3")


@pytest.fixture
def layer():
    captured = CapturingChannelLayer()
    yield captured
    captured.clear()


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture(autouse=True)
def _close_at_once(monkeypatch):
    """Also under override_settings(LIVEOPS=...): see CLOSE_GRACE in tests/settings.py."""
    from liveops_htmx.conf import DEFAULTS

    monkeypatch.setitem(DEFAULTS, "CLOSE_GRACE", 0.0)


@pytest.fixture(autouse=True)
def _drain_publisher():
    yield
    get_publisher().flush(5)
    side.close_all()  # tests that drive WebProgress by hand leave no side connection open


def redis_unavailable(exc):
    if services.IN_CI:
        pytest.fail(f"CI needs Redis for tier 3: {exc}")
    pytest.skip(f"tier 3 needs Redis: {exc}")


@pytest.fixture
def own_redis():
    """A redis-server of this test's own, to restart or to count commands on."""
    binary = services.redis_binary()
    if not binary:
        redis_unavailable("no redis-server binary to start (and restart) a server of our own")
    server = services.RedisServer(binary).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url():
    """A reachable Redis (found or started by ``tests.services``); skips without one outside CI."""
    try:
        url, server = services.redis_url()
    except services.Unavailable as exc:
        redis_unavailable(exc)
    yield url
    import redis

    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=f"{services.REDIS_PREFIX}*"):  # only what this run wrote
        client.delete(key)
    client.close()
    if server is not None:
        server.stop()


#: Fixtures through which a test reaches the database (directly or through others).
DB_FIXTURES = frozenset({"db", "transactional_db", "django_db_reset_sequences", "live_server"})


def pytest_collection_modifyitems(config, items):
    """The PostgreSQL tier runs every test that touches the database; the others (rendering
    from plain objects, imports, checks of settings) and those marked ``sqlite_only``
    (faults between processes and Redis, fuzzing the consumer) ran in the SQLite tier."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    kept, dropped = [], []
    for item in items:
        touches = item.get_closest_marker("django_db") is not None or bool(
            DB_FIXTURES & set(getattr(item, "fixturenames", ()))
        )
        once = item.get_closest_marker("sqlite_only") is not None
        (kept if touches and not once else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
