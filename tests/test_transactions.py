"""Tier 2: a run whose work holds a transaction (issue: progress live inside atomic()).

Inside ``transaction.atomic()`` progress reaches viewers at once; ``result()`` and
``error()`` wait for the commit; after a rollback the row and every viewer agree on
what the database holds. On PostgreSQL progress is committed on a side connection;
on SQLite it is written in the transaction and pushed at once.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import warnings

import pytest
from django.core.checks import run_checks
from django.db import connection, connections, transaction
from django.test.utils import override_settings

from liveops_htmx.execution import execute
from liveops_htmx.progress import WebProgress
from liveops_htmx.rendering import fragments
from liveops_htmx.serverside.outbox import Outbox, Snapshot
from liveops_htmx.workerside import side
from tests.oob import Page
from tests.testapp.models import Report

pytestmark = pytest.mark.django_db(transaction=True)
SIDE = connection.vendor == "postgresql"


class Viewer:
    """A page that loaded before the run, fed every push through a real outbox."""

    def __init__(self, op, *, read=True):
        if read:
            op.refresh_from_db()
        self.op = op
        self.page = Page(fragments.widget(op, ""))
        self.outbox = Outbox()
        self.outbox.offer_snapshot(Snapshot(op.seq, {}, op.log_count, op.is_finished))
        self.outbox.pop()
        self.seen = 0

    def catch_up(self, layer):
        messages = layer.messages()
        for message in messages[self.seen :]:
            self.outbox.offer(message)
        self.seen = len(messages)
        while (frame := self.outbox.pop()) is not None:
            self.page.apply(frame.text())
        return self

    def shows_the_row(self):
        """The page, part by part, is what a fresh page of the row shows."""
        self.op.refresh_from_db()
        fresh = Page(fragments.widget(self.op, ""))
        for part in fragments.PARTS:
            dom_id = f"op-{part}-{self.op.pk}"
            assert self.page.inner(dom_id) == fresh.inner(dom_id), part
        return True


def read_elsewhere(pk, *, whole=False):
    """The row as another connection (a server reading a snapshot) sees it now."""
    seen = {}

    def read():
        try:
            row = Report.objects.get(pk=pk)
            seen.update(status=row.status, percent=row.percent, seq=row.seq, state=row.state)
            seen["row"] = row
        finally:
            connections.close_all()

    thread = threading.Thread(target=read)
    thread.start()
    thread.join(10)
    return seen["row"] if whole else seen


@pytest.fixture
def started(report, layer):
    p = WebProgress(report, layer, interval=0)
    p.start()
    return p


def test_progress_inside_atomic_reaches_viewers_before_the_commit(started, report, layer):
    viewer = Viewer(Report.objects.get(pk=report.pk))
    with transaction.atomic():
        Report.objects.filter(pk=report.pk).update(title="imported")  # the user's own work
        started.status("Importing")
        started.percent(40)
        started.log("row 1")
        viewer.catch_up(layer)
        assert "Importing" in viewer.page.inner(f"op-status-{report.pk}")
        assert "40%" in viewer.page.inner(f"op-progress-{report.pk}")
        assert "row 1" in viewer.page.inner(f"op-log-{report.pk}")
    viewer.catch_up(layer)
    assert viewer.shows_the_row()


@pytest.mark.skipif(not SIDE, reason="PostgreSQL: progress committed on a side connection")
def test_on_postgresql_a_viewer_joining_mid_transaction_reads_the_live_progress(started, report):
    with transaction.atomic():
        started.status("Importing")
        started.percent(40)
        seen = read_elsewhere(report.pk)
    assert seen["status"] == "Importing" and seen["percent"] == 40


@pytest.mark.skipif(not SIDE, reason="PostgreSQL: progress committed on a side connection")
def test_a_thread_that_ends_without_closing_its_side_connection_closes_it(report, layer):
    # A worker of the user's own that reports inside atomic() and never reaches execute()'s
    # cleanup: when its thread ends, the side connection is closed, not left to the GC.
    opened = []

    def work():
        try:
            with transaction.atomic():
                p = WebProgress(Report.objects.get(pk=report.pk), layer, interval=0)
                p.start()
                p.percent(10)
            opened.append(side.side_connection(connection.alias).connection)
        finally:
            connections.close_all()  # the thread's own connection; the side one is left

    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        thread = threading.Thread(target=work)
        thread.start()
        thread.join(10)
        del thread
        gc.collect()
    assert opened and opened[0].closed


@pytest.mark.skipif(SIDE, reason="SQLite: progress written in the transaction")
def test_on_sqlite_a_viewer_joining_mid_transaction_reads_the_state_before_it(started, report):
    with transaction.atomic():
        started.status("Importing")
        seen = read_elsewhere(report.pk)
    assert seen["status"] == "" and seen["state"] == "running"
    assert read_elsewhere(report.pk)["status"] == "Importing"  # at the commit


def test_a_viewer_joining_mid_transaction_follows_live_from_the_next_push(started, report, layer):
    with transaction.atomic():
        Report.objects.filter(pk=report.pk).update(title="locks SQLite for the transaction")
        started.status("Importing")
        late = Viewer(read_elsewhere(report.pk, whole=True), read=False)  # a server's read
        late.seen = len(layer.messages())
        started.percent(60)
        late.catch_up(layer)
        assert "60%" in late.page.inner(f"op-progress-{report.pk}")
        assert "Importing" in late.page.inner(f"op-status-{report.pk}")
    late.catch_up(layer)
    assert late.shows_the_row()


def test_progress_after_the_user_locked_the_row_waits_for_the_commit_but_stays_live(
    started, report, layer
):
    viewer = Viewer(Report.objects.get(pk=report.pk))
    with transaction.atomic():
        Report.objects.select_for_update().get(pk=report.pk)  # the row is the user's now
        started.status("Still live")
        viewer.catch_up(layer)
        assert "Still live" in viewer.page.inner(f"op-status-{report.pk}")
    assert read_elsewhere(report.pk)["status"] == "Still live"


def test_result_inside_atomic_waits_for_the_commit(started, report, layer):
    viewer = Viewer(Report.objects.get(pk=report.pk))
    with transaction.atomic():
        started.status("Almost")
        started.result(message="Imported")
        viewer.catch_up(layer)
        assert 'data-state="running"' in viewer.page.inner(f"op-status-{report.pk}")
        assert "Imported" not in viewer.page.inner(f"op-result-{report.pk}")
        assert read_elsewhere(report.pk)["state"] == "running"
    viewer.catch_up(layer)
    assert "Imported" in viewer.page.inner(f"op-result-{report.pk}")
    assert viewer.shows_the_row()


def test_a_rolled_back_result_never_shows_and_later_frames_say_what_the_row_says(
    started, report, layer
):
    viewer = Viewer(Report.objects.get(pk=report.pk))
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        started.status("Importing")
        started.result(message="Imported")
        1 / 0  # noqa: B018
    started.status("Trying again")
    viewer.catch_up(layer)
    status = viewer.page.inner(f"op-status-{report.pk}")
    assert 'data-state="running"' in status and "Trying again" in status
    assert "Imported" not in viewer.page.inner(f"op-result-{report.pk}")
    assert not started.finished
    assert viewer.shows_the_row()
    started.result(message="Imported for real")
    viewer.catch_up(layer)
    assert "Imported for real" in viewer.page.inner(f"op-result-{report.pk}")
    assert viewer.shows_the_row()


def test_log_lines_of_a_rolled_back_block_end_as_the_row_has_them(started, report, layer):
    viewer = Viewer(Report.objects.get(pk=report.pk))
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        started.log("line 1")
        1 / 0  # noqa: B018
    started.log("line 2")
    viewer.catch_up(layer)
    report.refresh_from_db()
    shown = viewer.page.find(f"op-log-lines-{report.pk}").text()
    row = "".join(text for _, text in report.log_tail)
    assert shown == row
    assert row == ("line 1line 2" if SIDE else "line 2")
    assert [n for n, _ in report.log_tail] == list(range(1, report.log_count + 1))
    assert viewer.shows_the_row()


def test_a_rolled_back_savepoint_inside_an_outer_block_is_healed_at_the_next_flush(
    started, report, layer
):
    viewer = Viewer(Report.objects.get(pk=report.pk))
    with transaction.atomic():
        started.status("Outer")
        with pytest.raises(ZeroDivisionError), transaction.atomic():
            started.result(message="Inner")
            1 / 0  # noqa: B018
        started.status("After the savepoint")
    viewer.catch_up(layer)
    status = viewer.page.inner(f"op-status-{report.pk}")
    assert 'data-state="running"' in status and "After the savepoint" in status
    assert viewer.shows_the_row()


def test_a_run_that_does_all_its_work_in_one_atomic_block_reports_every_step_live(report, layer):
    """The usual all-or-nothing import: every percent reaches a viewer before the commit."""
    seen_before_commit = []
    viewer = Viewer(Report.objects.get(pk=report.pk))

    class Import:
        def run(self, p):
            with transaction.atomic():
                for i in p.track(range(5), label="Rows"):
                    p.percent(20 * (i + 1))
                    viewer.catch_up(layer)
                    seen_before_commit.append(viewer.page.inner(f"op-progress-{report.pk}"))
            return {"message": "5 rows"}

    report.run = Import().run
    execute(report, WebProgress(report, layer, interval=0))
    assert [f"{20 * i}%" in html for i, html in enumerate(seen_before_commit, 1)] == [True] * 5
    viewer.catch_up(layer)
    assert viewer.shows_the_row()
    assert "5 rows" in viewer.page.inner(f"op-result-{report.pk}")


def test_a_stage_name_longer_than_its_column_is_cut_to_it(started, report):
    with started.stage("S" * 1000):
        pass
    report.refresh_from_db()
    (name,) = report.stage_states
    assert len(name) == Report._meta.get_field("stage").max_length and name.endswith("…")


@override_settings(LIVEOPS={"TEXT_MAX": 5000})
def test_a_text_max_above_the_status_column_is_a_check_error():
    errors = [m for m in run_checks() if m.id == "liveops_htmx.E011"]
    assert errors and "status" in errors[0].msg and errors[0].hint


async def test_a_socket_viewer_sees_progress_of_a_run_inside_one_transaction(report, user):
    """Tier 1: the consumer, while a worker thread holds its transaction open."""
    import asyncio

    from tests.helpers import TIMEOUT, follow

    step = threading.Event()

    def work():
        p = WebProgress(report, interval=0)
        p.start()
        try:
            with transaction.atomic():
                Report.objects.filter(pk=report.pk).update(title="mine until the commit")
                for percent in (25, 50):
                    step.wait(TIMEOUT)
                    step.clear()
                    p.percent(percent)
            p.result(message="all or nothing")
        finally:
            side.close_all()  # as execute() does: the side connection is this thread's
            connections.close_all()

    comm = await follow(report, user)
    await comm.receive_from(timeout=TIMEOUT)  # the snapshot
    worker = asyncio.get_running_loop().run_in_executor(None, work)
    for percent in (25, 50):
        step.set()
        frame = ""
        while f"{percent}%" not in frame:
            frame = await comm.receive_from(timeout=TIMEOUT)
        assert 'data-state="running"' in frame or f"op-status-{report.pk}" not in frame
    await worker
    frame = ""
    while "all or nothing" not in frame:
        frame = await comm.receive_from(timeout=TIMEOUT)
    await comm.disconnect()


def test_a_stage_left_after_a_rolled_back_finish_ends_as_it_really_ended(started, report, layer):
    viewer = Viewer(Report.objects.get(pk=report.pk))
    with pytest.raises(ZeroDivisionError), started.stage("Export"), transaction.atomic():
        started.result(message="never")
        1 / 0  # noqa: B018
    started.status("Trying again")  # the write that finds the rollback
    report.refresh_from_db()
    assert (report.state, report.stage_states) == ("running", {"Export": "failed"})
    viewer.catch_up(layer)
    assert viewer.shows_the_row()


def test_a_region_filled_in_a_rolled_back_block_is_emptied_by_the_reset(started, report, layer):
    # Found by tests/test_stateful.py: the reset carried the regions the row has, so
    # a region the rolled-back block had filled kept its content on live pages.
    viewer = Viewer(Report.objects.get(pk=report.pk))
    viewer.page = Page(fragments.widget(report, "") + '<div id="side"></div>')
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        Report.objects.filter(pk=report.pk).update(title="locks the row on PostgreSQL too")
        started.html("#side", "rolled back")
        assert "rolled back" in viewer.catch_up(layer).page.inner("side")
        1 / 0  # noqa: B018
    started.status("Trying again")
    assert viewer.catch_up(layer).page.inner("side") == ""
    report.refresh_from_db()
    late = Page(fragments.widget(report, "") + '<div id="side"></div>')
    late.apply(fragments.snapshot(report))
    assert late.inner("side") == ""


@pytest.mark.parametrize("where", ["next transaction", "rest of the outer one"])
def test_progress_after_a_rolled_back_finish_is_live_again(started, report, layer, where):
    # Found by tests/test_stateful.py: the writer deferred every write after a finish
    # until the commit, and nothing told it the finish had been rolled back.
    viewer = Viewer(Report.objects.get(pk=report.pk))
    with transaction.atomic() if where == "rest of the outer one" else contextlib.nullcontext():
        with pytest.raises(ZeroDivisionError), transaction.atomic():
            started.result(message="never")
            1 / 0  # noqa: B018
        with transaction.atomic():
            started.status("Live again")
            assert "Live again" in viewer.catch_up(layer).page.inner(f"op-status-{report.pk}")
            started.status("And again")
            assert "And again" in viewer.catch_up(layer).page.inner(f"op-status-{report.pk}")
    assert viewer.catch_up(layer).shows_the_row()


def test_a_cancel_polled_after_a_rolled_back_finish_never_stores_that_finish(
    started, report, layer
):
    # Found by tests/test_stateful.py: the cancel's write took the row to the seq of the
    # rolled-back result, and the poll taught the worker the flag; its next write then
    # matched the row (seq and flag) and stored the rolled-back result as if committed.
    from liveops_htmx.control import request_cancel
    from liveops_htmx.progress import OperationCancelled

    viewer = Viewer(Report.objects.get(pk=report.pk))
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        started.result(message="rolled back")
        1 / 0  # noqa: B018
    assert request_cancel(Report.objects.get(pk=report.pk), layer)  # another writer
    with pytest.raises(OperationCancelled):
        started.check_cancelled()
    started.cancelled()
    report.refresh_from_db()
    assert (report.state, report.result_context) == ("cancelled", None)
    assert not any("rolled back" in html for html in layer.frames())
    assert viewer.catch_up(layer).shows_the_row()
