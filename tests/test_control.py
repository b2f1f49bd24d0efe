from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import override_settings
from django.utils import timezone

from liveops_htmx import control
from liveops_htmx.progress import OperationCancelled, WebProgress
from tests.helpers import wait_until
from tests.markup import element
from tests.testapp.models import Paced, Report

pytestmark = pytest.mark.django_db(transaction=True)


def running(op, layer, beat_seconds_ago):
    p = WebProgress(op, layer)
    p.start()
    type(op).objects.filter(pk=op.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=beat_seconds_ago)
    )
    op.refresh_from_db()
    return p


@override_settings(LIVEOPS={"LOST_AFTER": 30})
def test_a_running_operation_without_heartbeat_is_stale(report, layer):
    running(report, layer, 10)
    assert not control.is_stale(report)
    report.heartbeat_at = timezone.now() - timedelta(seconds=31)
    assert control.is_stale(report)
    report.heartbeat_at = None
    report.started_at = None
    assert control.is_stale(report)
    report.state = "succeeded"
    assert not control.is_stale(report)


@override_settings(LIVEOPS={"LOST_AFTER": 30})
def test_mark_lost_pushes_a_terminal_frame_of_its_own(report, layer):
    running(report, layer, 60)
    layer.clear()
    assert control.mark_lost(report, layer)
    assert report.state == "lost"
    (message,) = layer.messages()
    assert message["terminal"] and message["lifecycle"]
    error = element(message["liveop_html"], f"op-error-{report.pk}")
    assert "stopped; it did not finish" in error
    assert 'hx-swap-oob="outerHTML"' in element(message["liveop_html"], f"op-socket-{report.pk}")
    assert not control.mark_lost(report, layer)  # once


@override_settings(LIVEOPS={"LOST_AFTER": 30})
def test_a_worker_that_was_only_slow_stops_once_marked_lost(report, layer):
    p = running(report, layer, 60)
    control.mark_lost(Report.objects.get(pk=report.pk), layer)
    with pytest.raises(OperationCancelled, match="lost"):
        p.status("back again")
    assert p.finished
    report.refresh_from_db()
    assert report.state == "lost"


@override_settings(LIVEOPS={"LOST_AFTER": 30})
def test_reap_marks_every_stale_operation_of_every_model(user, layer):
    stale = Report.objects.create(owner=user)
    fresh = Report.objects.create(owner=user)
    other = Paced.objects.create(owner=user)
    running(stale, layer, 100)
    running(fresh, layer, 1)
    running(other, layer, 100)
    assert control.reap_lost(layer) == 2
    states = {op.pk: op.state for op in Report.objects.all()}
    assert states == {stale.pk: "lost", fresh.pk: "running"}
    assert Paced.objects.get().state == "lost"


@override_settings(LIVEOPS={"LOST_AFTER": 30})
def test_the_reap_command(user, layer, capsys):
    running(Report.objects.create(owner=user), layer, 100)
    call_command("liveops_reap")
    assert "1 operation(s) marked lost" in capsys.readouterr().out
    call_command("liveops_reap", verbosity=2)
    assert "0 operation(s)" in capsys.readouterr().out


HAMMER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=20, isolation_level=None)
end = time.monotonic() + float(sys.argv[3])
i = 0
while time.monotonic() < end:
    i += 1
    db.execute("UPDATE testapp_report SET status = ? WHERE id = ?", (str(i), int(sys.argv[2])))
"""


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's read-to-write upgrade")
def test_control_writes_never_meet_a_locked_sqlite_database(layer, report):
    """SQLite refuses at once to turn a read transaction into a write one when another
    connection wrote in between ("database is locked"); the control writers lock first."""
    import subprocess
    import sys

    other = Report.objects.create(title="written all the time")
    hammer = subprocess.Popen(
        [sys.executable, "-c", HAMMER, connection.settings_dict["NAME"], str(other.pk), "3"]
    )
    try:
        wait_until(lambda: Report.objects.get(pk=other.pk).status, 10, "the other writer")
        for _ in range(100):
            pending = Report.objects.create(owner=report.owner)
            assert control.request_cancel(pending, layer)  # cancelled at once: a locked write
    finally:
        assert hammer.wait(10) == 0
    assert Report.objects.get(pk=other.pk).status  # the other writer really wrote
    assert Report.objects.filter(state="cancelled").count() == 100


def test_a_cancel_request_takes_the_cancel_button_away_live_as_a_snapshot_does(report, layer):
    # Found by tests/test_stateful.py: the push re-rendered the status only, so live
    # pages kept a Cancel button that every later snapshot no longer had.
    from liveops_htmx.rendering import fragments

    WebProgress(report, layer).start()
    layer.clear()
    assert control.request_cancel(Report.objects.get(pk=report.pk), layer)
    (message,) = layer.messages()
    report.refresh_from_db()
    for part in ("status", "controls"):
        dom_id = f"op-{part}-{report.pk}"
        assert element(message["liveop_html"], dom_id) == element(
            fragments.snapshot(report), dom_id
        )
    assert "liveop-controls__cancel" not in message["liveop_html"]
