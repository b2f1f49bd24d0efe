from __future__ import annotations

import logging

import pytest
from django.test.utils import override_settings

from liveops_htmx.control import request_cancel
from liveops_htmx.execution import execute
from liveops_htmx.progress import WebProgress
from liveops_htmx.testing import run_operation
from tests.helpers import wait_until
from tests.testapp.models import Failing, Report, Sleepy

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_run_goes_from_pending_to_succeeded(report, layer):
    run_operation(report, layer)
    report.refresh_from_db()
    assert report.state == "succeeded"
    assert report.started_at <= report.finished_at
    assert report.result_context == {"message": "3 rows", "url": "/reports/1/"}
    assert report.stage_states == {"Collect": "done", "Render": "done"}
    assert [m["seq"] for m in layer.messages()] == list(range(1, report.seq + 1))


def test_an_exception_fails_with_a_safe_message_and_keeps_the_traceback(user, layer):
    op = Failing.objects.create(owner=user)
    run_operation(op, layer)
    op.refresh_from_db()
    assert op.state == "failed"
    assert op.error == "The operation failed unexpectedly."
    assert "secret <internal> detail" in op.error_detail
    assert "secret" not in "".join(layer.frames())


def test_an_exception_whose_message_no_database_can_store_still_fails_the_run(report, layer):
    # On PostgreSQL a NUL in the traceback failed the write of error_detail: the
    # operation could not be marked failed and stayed running.
    def run(p):
        raise ValueError("bad byte \x00 and bad name \udcff")

    report.run = run
    run_operation(report, layer)
    report.refresh_from_db()
    assert report.state == "failed"
    assert "bad byte \ufffd and bad name \ufffd" in report.error_detail


@override_settings(DEBUG=True)
def test_debug_shows_the_traceback_escaped(user, layer):
    op = Failing.objects.create(owner=user)
    run_operation(op, layer)
    assert "secret &lt;internal&gt; detail" in layer.frames()[-1]


class Returning(Report):
    class Meta:
        proxy = True
        app_label = "testapp"

    def run(self, p):
        return {"message": "from return"}


def test_a_returned_mapping_becomes_the_result(report, layer):
    op = Returning.objects.get(pk=report.pk)
    run_operation(op, layer)
    op.refresh_from_db()
    assert op.result_context == {"message": "from return"}


class SelfFailing(Report):
    class Meta:
        proxy = True
        app_label = "testapp"

    def run(self, p):
        p.error("no input")


def test_a_run_that_finishes_itself_is_left_alone(report, layer):
    op = SelfFailing.objects.get(pk=report.pk)
    run_operation(op, layer)
    op.refresh_from_db()
    assert (op.state, op.error) == ("failed", "no input")


def test_a_cancel_during_the_run_ends_cancelled(user, layer):
    import threading

    from django.db import connections

    def run_in_thread():
        try:
            run_operation(op, layer)
        finally:
            connections.close_all()

    op = Sleepy.objects.create(owner=user)
    worker = threading.Thread(target=run_in_thread)
    worker.start()
    # Another instance: the worker's own is not the test's to refresh.
    wait_until(lambda: Sleepy.objects.get(pk=op.pk).state == "running", what="the start")
    assert request_cancel(Sleepy.objects.get(pk=op.pk), layer)
    worker.join(10)
    op.refresh_from_db()
    assert op.state == "cancelled"
    assert layer.messages()[-1]["terminal"]


def test_a_cancel_requested_before_the_start_cancels_without_running(user, layer):
    op = Sleepy.objects.create(owner=user, cancel_requested=True)
    execute(op, WebProgress(op, layer))
    op.refresh_from_db()
    assert op.state == "cancelled"
    assert op.started_at is None


def test_a_cancel_between_loading_and_starting_ends_quietly_cancelled(user, layer, caplog):
    """The worker loaded the operation while it waited; the cancel came before its start."""
    loaded = Report.objects.create(owner=user)  # what the worker holds
    assert request_cancel(Report.objects.get(pk=loaded.pk), layer)  # a page's cancel
    p = execute(loaded, WebProgress(loaded, layer))  # must not raise
    assert p.finished
    loaded.refresh_from_db()
    assert loaded.state == "cancelled"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


class ReturningAChain(Report):
    class Meta:
        proxy = True
        app_label = "testapp"

    def run(self, p):
        return {"chained_to": {"widget": "https://evil.example/"}}


class ResultWithAChain(Report):
    class Meta:
        proxy = True
        app_label = "testapp"

    def run(self, p):
        p.result(message="hi", chained_to={"widget": "https://evil.example/"})


@pytest.mark.parametrize("model", [ReturningAChain, ResultWithAChain])
def test_a_result_that_sets_chained_to_fails_the_operation(report, layer, model):
    op = model.objects.get(pk=report.pk)
    run_operation(op, layer)
    op.refresh_from_db()
    assert op.state == "failed"
    assert op.result_context is None
    assert "'chained_to'" in op.error_detail and "p.chain_to()" in op.error_detail
    assert "evil.example" not in "".join(layer.frames())
