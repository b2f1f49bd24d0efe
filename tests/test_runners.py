from __future__ import annotations

import time

import pytest
from django.db import transaction
from django.test.utils import override_settings

from liveops_htmx import runners
from liveops_htmx._compat import tasks_module
from liveops_htmx.checks import check_runner
from liveops_htmx.runners.thread import ThreadRunner
from liveops_htmx.worker import run_by_label
from tests.testapp.models import Paced, Report

pytestmark = pytest.mark.django_db(transaction=True)


def wait_finished(op, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        op.refresh_from_db()
        if op.is_finished:
            return op
        time.sleep(0.02)
    raise AssertionError(f"{op} did not finish")


def test_start_hands_over_only_after_commit(report):
    with transaction.atomic():
        report.start("eager")
        assert Report.objects.get(pk=report.pk).state == "pending"
    assert Report.objects.get(pk=report.pk).state == "succeeded"


def test_an_unsaved_operation_cannot_start():
    with pytest.raises(ValueError, match="Save"):
        Report().start("eager")


def test_the_thread_runner_runs_in_the_background(user):
    ops = [Paced.objects.create(owner=user, steps=3, delay=0.01) for _ in range(6)]
    runner = ThreadRunner()
    with override_settings(LIVEOPS={"THREAD_WORKERS": 2}):
        for op in ops:
            runner.submit(op._meta.label, str(op.pk))
        assert len(runner._threads) == 2
        for op in ops:
            assert wait_finished(op).state == "succeeded"


@override_settings(LIVEOPS={"RUNNER": "thread"})
def test_start_uses_the_configured_runner(report):
    report.start()
    assert wait_finished(report).state == "succeeded"


def test_a_dotted_path_runner(report):
    report.start("liveops_htmx.runners.eager.runner")
    report.refresh_from_db()
    assert report.state == "succeeded"


def test_run_by_label_leaves_finished_and_missing_operations_alone(report, caplog):
    report.start("eager")
    report.refresh_from_db()
    seq = report.seq
    run_by_label("testapp.Report", str(report.pk))
    report.refresh_from_db()
    assert report.seq == seq
    run_by_label("testapp.Report", "999999")
    run_by_label("auth.User", "1")
    assert "Cannot run testapp.Report 999999" in caplog.text
    assert "auth.User is not an operation model" in caplog.text


@pytest.mark.parametrize(
    ("setting", "layer", "expected"),
    [
        ("thread", "channels.layers.InMemoryChannelLayer", []),
        ("eager", "channels.layers.InMemoryChannelLayer", []),
        ("celery", "channels_redis.core.RedisChannelLayer", []),
        ("django_tasks", "channels_redis.pubsub.RedisPubSubChannelLayer", []),
        ("celery", "channels.layers.InMemoryChannelLayer", ["liveops_htmx.W004"]),
        ("nope.runner", "channels.layers.InMemoryChannelLayer", ["liveops_htmx.E007"]),
        ("liveops_htmx.conf.conf", "channels.layers.InMemoryChannelLayer", ["liveops_htmx.E007"]),
    ],
)
def test_runner_checks(setting, layer, expected):
    with override_settings(
        LIVEOPS={"RUNNER": setting}, CHANNEL_LAYERS={"default": {"BACKEND": layer}}
    ):
        assert [m.id for m in check_runner()] == expected


def test_celery_and_django_tasks_runners_enqueue(report, monkeypatch):
    from liveops_htmx.runners import celery as celery_runner
    from liveops_htmx.runners import django_tasks as tasks_runner

    assert runners.get_runner("celery") is celery_runner.runner
    assert runners.get_runner("django_tasks") is tasks_runner.runner
    # Enqueued through the real task APIs; tier 3 runs real workers on them. The backend
    # is of the same framework as the task: django.tasks on Django 6, the backport before.
    immediate = f"{tasks_module().__name__}.backends.immediate.ImmediateBackend"
    with override_settings(TASKS={"default": {"BACKEND": immediate}}):
        tasks_runner.runner.submit("testapp.Report", str(report.pk))
    report.refresh_from_db()
    assert report.state == "succeeded"


def test_the_owners_list_gets_the_pending_row_before_those_of_the_run(report):
    """The eager runner runs inside start(): the list's first row must still come first
    (a row queued after newer ones used to be merged over them, and the last was lost)."""
    from channels.layers import channel_layers, get_channel_layer

    from liveops_htmx.rendering import protocol
    from liveops_htmx.workerside.publisher import get_publisher

    capturing = {"default": {"BACKEND": "liveops_htmx.testing.CapturingChannelLayer"}}
    channel_layers.backends.clear()
    try:
        with override_settings(CHANNEL_LAYERS=capturing):
            report.start("eager")
            get_publisher().flush()
            rows = get_channel_layer().messages(
                protocol.user_group(report.owner_id), type=protocol.ROW
            )
    finally:
        channel_layers.backends.clear()
    seqs = [row["seq"] for row in rows]
    assert seqs[0] == 0 and 'data-state="pending"' in rows[0]["html"]
    assert seqs == sorted(seqs) and 'data-state="succeeded"' in rows[-1]["html"]
