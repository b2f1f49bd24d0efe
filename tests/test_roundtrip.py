"""Tier 3: worker process -> Redis -> server process -> WebSocket client, on both layers.

Redis is found or started by ``tests.services``; without one the tier skips, which
in CI (``CI=true``) is a failure.
"""

from __future__ import annotations

import random
import re
import threading
import time
from dataclasses import dataclass, field

import pytest
from django.db import connection
from websockets.sync.client import connect

from liveops_htmx.security import make_subscription_token
from tests import processes, services
from tests.markup import element
from tests.testapp.models import Paced

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def env_for(redis_url, layer, **extra):
    return processes.child_env(
        str(connection.settings_dict["NAME"]),
        LIVEOPS_TEST_LAYER=layer,
        LIVEOPS_TEST_REDIS_URL=redis_url,
        LIVEOPS_TEST_REDIS_PREFIX=services.REDIS_PREFIX,
        **extra,
    )


@dataclass
class Live:
    env: dict
    server: processes.Process
    children: list = field(default_factory=list)

    @property
    def host(self):
        return f"127.0.0.1:{self.server.port}"

    def url(self, op, user=None):
        from django.contrib.auth.models import AnonymousUser

        token = make_subscription_token(user or AnonymousUser(), op)
        return f"ws://{self.host}/asgi/notifications/?subscription_token={token}"

    def connect(self, op):
        return connect(self.url(op), origin=f"http://{self.host}", open_timeout=10)

    def worker(self, op):
        child = processes.worker(self.env, op._meta.label, op.pk).start()
        self.children.append(child)
        return child

    def stop(self):
        for child in self.children:
            child.stop()
        self.server.stop()


@pytest.fixture(params=["redis", "pubsub"])
def live(request, redis_url):
    env = env_for(redis_url, request.param, LIVEOPS_TEST_WATCHDOG="1")
    live = Live(env, processes.uvicorn_server(env).start())
    yield live
    live.stop()


@dataclass
class Seen:
    frames: list[str] = field(default_factory=list)
    code: int | None = None

    def read(self, ws, timeout=30):
        try:
            while True:
                self.frames.append(ws.recv(timeout=timeout))
        except TimeoutError:
            raise
        except Exception as exc:
            self.code = exc.rcvd.code if getattr(exc, "rcvd", None) else None
        return self


def read_all(ws, timeout=30):
    return Seen().read(ws, timeout)


def log_of(frames, pk):
    """The log a browser would show: full regions replace it, appends extend it."""
    lines = []
    for frame in frames:
        if f'id="op-log-{pk}"' in frame:
            region = element(frame, f"op-log-{pk}")
            lines = re.findall(r'<li value="(\d+)">([^<]*)</li>', region)
            frame = frame.replace(region, "")
        for chunk in re.findall(rf'beforeend:#op-log-lines-{pk}">(.*?)</ol>', frame):
            lines += re.findall(r'<li value="(\d+)">([^<]*)</li>', chunk)
    return [(int(n), text) for n, text in lines]


def percents(frames, pk):
    found = []
    for frame in frames:
        if f'id="op-progress-{pk}"' in frame:
            value = re.search(r'value="([\d.]+)"', element(frame, f"op-progress-{pk}"))
            if value:
                found.append(float(value.group(1)))
    return found


def test_delivery_through_redis(live):
    op = Paced.objects.create(steps=10, delay=0.03)
    with live.connect(op) as ws:
        assert "Pending" in ws.recv(timeout=10)
        worker = live.worker(op)
        seen = read_all(ws)
    assert worker.wait(30) == 0, worker.output()
    assert seen.code == 1000
    assert log_of(seen.frames, op.pk) == [(n, f"line {n}") for n in range(1, 11)]
    assert "10 steps" in element(seen.frames[-1], f"op-result-{op.pk}")
    assert len(seen.frames) > 3


def test_finished_before_connect_shows_the_result_first(live):
    op = Paced.objects.create(steps=3, delay=0)
    assert live.worker(op).wait(30) == 0
    with live.connect(op) as ws:
        seen = read_all(ws)
    assert seen.code == 1000
    assert len(seen.frames) == 1
    assert "3 steps" in element(seen.frames[0], f"op-result-{op.pk}")
    assert "Running" not in seen.frames[0]


def test_a_result_inside_atomic_is_pushed_after_commit(live):
    op = Paced.objects.create(steps=2, delay=0, atomic_finish=True)
    with live.connect(op) as ws:
        ws.recv(timeout=10)
        live.worker(op)
        while True:
            frame = ws.recv(timeout=30)
            if "committed" in frame:
                # The moment the result arrives, the database already holds it.
                assert Paced.objects.get(pk=op.pk).state == "succeeded"
                break
            assert Paced.objects.get(pk=op.pk).state != "succeeded" or "Succeeded" in frame


def test_a_mid_run_viewer_gets_the_persisted_state(live):
    op = Paced.objects.create(steps=60, delay=0.05)
    worker = live.worker(op)
    processes.until(lambda: Paced.objects.get(pk=op.pk).log_count >= 10, 30, "ten lines")
    with live.connect(op) as ws:
        snapshot = ws.recv(timeout=10)
        seen = read_all(ws)
    worker.wait(30)
    assert float(re.search(r'value="([\d.]+)"', element(snapshot, f"op-progress-{op.pk}"))[1]) > 5
    assert 'data-state="running" aria-current="step">Work' in snapshot
    assert "Warming up" in element(snapshot, f"op-status-{op.pk}")
    assert len(log_of([snapshot], op.pk)) >= 10
    assert log_of([snapshot, *seen.frames], op.pk)[-1] == (60, "line 60")


def test_twenty_viewers_joining_at_random_see_everything_once_in_order(live):
    op = Paced.objects.create(steps=10_000, delay=0.0003, lines_every=5)
    results: list[Seen] = [Seen() for _ in range(20)]
    rng = random.Random(7)
    delays = sorted(rng.uniform(0, 3.0) for _ in results)

    def view(seen, delay):
        time.sleep(delay)
        with live.connect(op) as ws:
            seen.read(ws, timeout=60)

    threads = [
        threading.Thread(target=view, args=(s, d)) for s, d in zip(results, delays, strict=True)
    ]
    for t in threads:
        t.start()
    worker = live.worker(op)
    for t in threads:
        t.join(90)
    assert worker.wait(60) == 0, worker.output()
    final = Paced.objects.get(pk=op.pk)
    assert (final.state, final.log_count) == ("succeeded", 2000)
    stored = [(n, text) for n, text in final.log_tail]
    for seen in results:
        assert seen.code == 1000
        assert "10000 steps" in element(seen.frames[-1], f"op-result-{op.pk}")
        log = log_of(seen.frames, op.pk)
        numbers = [n for n, _ in log]
        assert numbers == list(range(numbers[0], 2001)), "a gap or a duplicate"
        assert all(text == f"line {n}" for n, text in log)
        assert log[-len(stored) :] == stored
        seen_percents = percents(seen.frames, op.pk)
        assert seen_percents == sorted(seen_percents), "progress went backwards"


@pytest.mark.parametrize("layer", ["redis", "pubsub"])
def test_redis_restarted_mid_run_loses_nothing(own_redis, layer):
    env = env_for(own_redis.url, layer, LIVEOPS_TEST_WATCHDOG="1")
    live = Live(env, processes.uvicorn_server(env).start())
    try:
        op = Paced.objects.create(steps=80, delay=0.05)
        with live.connect(op) as ws:
            ws.recv(timeout=10)
            worker = live.worker(op)
            processes.until(lambda: Paced.objects.get(pk=op.pk).log_count >= 15, 30, "progress")
            own_redis.restart(down_for=0.5)
            seen = read_all(ws, timeout=60)
        assert worker.wait(60) == 0, worker.output()
        final = Paced.objects.get(pk=op.pk)
        assert (final.state, final.log_count) == ("succeeded", 80)
        assert seen.code == 1000, "the viewer that stayed on healed to the end"
        assert "80 steps" in element(seen.frames[-1], f"op-result-{op.pk}")
        numbers = [n for n, _ in log_of(seen.frames, op.pk)]
        assert numbers == list(range(numbers[0], 81))
        with live.connect(op) as ws:  # and one that reconnects resyncs at once
            again = read_all(ws)
        assert again.code == 1000
        assert "80 steps" in again.frames[0]
    finally:
        live.stop()


# -- runners across processes -----------------------------------------------------------


@pytest.fixture
def core_live(redis_url):
    env = env_for(redis_url, "redis", LIVEOPS_TEST_WATCHDOG="0.5", LIVEOPS_TEST_LOST_AFTER="1")
    live = Live(env, processes.uvicorn_server(env).start())
    yield live
    live.stop()


@pytest.fixture(scope="session")
def celery_broker(redis_url):
    from tests.celery_app import app

    app.conf.broker_url = redis_url
    app.conf.broker_transport_options = {"global_keyprefix": f"{services.REDIS_PREFIX}:celery:"}
    yield app
    app.pool.force_close_all()


def test_the_celery_runner_is_live_through_a_real_worker(core_live, celery_broker):
    celery = processes.celery_worker(core_live.env).start()
    core_live.children.append(celery)
    op = Paced.objects.create(steps=10, delay=0.05)
    with core_live.connect(op) as ws:
        ws.recv(timeout=10)
        op.start("celery")
        seen = read_all(ws, timeout=60)
    assert seen.code == 1000, celery.output()
    assert log_of(seen.frames, op.pk) == [(n, f"line {n}") for n in range(1, 11)]
    assert Paced.objects.get(pk=op.pk).state == "succeeded"


def test_the_django_tasks_runner_is_live_through_db_worker(core_live):
    tasks = processes.db_worker(core_live.env).start()
    core_live.children.append(tasks)
    op = Paced.objects.create(steps=10, delay=0.05)
    with core_live.connect(op) as ws:
        ws.recv(timeout=10)
        op.start("django_tasks")
        seen = read_all(ws, timeout=60)
    assert seen.code == 1000, tasks.output()
    assert "10 steps" in element(seen.frames[-1], f"op-result-{op.pk}")
    assert len(seen.frames) > 3


def test_a_killed_worker_is_marked_lost_and_no_page_spins(core_live, celery_broker):
    celery = processes.celery_worker(core_live.env).start()
    core_live.children.append(celery)
    op = Paced.objects.create(steps=10_000, delay=0.01)
    with core_live.connect(op) as watching:
        watching.recv(timeout=10)
        op.start("celery")
        processes.until(lambda: Paced.objects.get(pk=op.pk).log_count >= 5, 30, "a running op")
        celery.stop(kill=True)  # SIGKILL: no cleanup, no terminal state
        seen = read_all(watching, timeout=30)
    assert seen.code == 1000
    assert "did not finish" in element(seen.frames[-1], f"op-error-{op.pk}")
    final = Paced.objects.get(pk=op.pk)
    assert final.state == "lost"
    assert final.log_count < 10_000
    with core_live.connect(op) as late:
        after = read_all(late)
    assert after.code == 1000
    assert 'data-state="lost"' in after.frames[0]


@pytest.mark.parametrize("layer", ["redis", "pubsub"])
def test_a_layer_that_stays_down_keeps_the_socket_open_and_the_page_current(own_redis, layer):
    """No reconnect storm: the viewer is served from the row until the layer is back."""
    from liveops_htmx.progress import WebProgress
    from liveops_htmx.testing import CapturingChannelLayer

    own_redis.stop()
    env = env_for(own_redis.url, layer, LIVEOPS_TEST_WATCHDOG="1")
    live = Live(env, processes.uvicorn_server(env).start())
    try:
        op = Paced.objects.create(steps=40, delay=0.05)
        with live.connect(op) as ws:
            assert f'id="op-status-{op.pk}"' in ws.recv(timeout=20)  # the snapshot, no close
            p = WebProgress(op, CapturingChannelLayer())  # its pushes reach nobody
            p.start()
            p.status("written while the layer is down")
            frame = ""
            while "written while the layer is down" not in frame:
                frame = ws.recv(timeout=10)  # the row, reread
            own_redis.start()
            worker = live.worker(op)
            seen = read_all(ws, timeout=60)
        assert worker.wait(60) == 0, worker.output()
        assert seen.code == 1000, "one socket from the first snapshot to the result"
        assert "40 steps" in element(seen.frames[-1], f"op-result-{op.pk}")
    finally:
        live.stop()
