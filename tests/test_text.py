"""Text mode: the same run() in a terminal, and `manage.py run_liveop` in a real subprocess."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from liveops_htmx.execution import execute
from liveops_htmx.text import TextProgress
from tests.testapp.models import Failing, Report

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parent.parent


def manage(*args):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": str(ROOT),
        "LIVEOPS_TEST_DB_NAME": str(connection.settings_dict["NAME"]),
    }
    return subprocess.run(
        [sys.executable, "-m", "django", "run_liveop", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_run_liveop_runs_and_stores_the_result(user):
    done = manage("testapp.Report", "--steps=4", "--title", "from the shell", "--owner=ada")
    assert done.returncode == 0, done.stderr
    assert "== Collect" in done.stdout
    assert "    4 | row 3" in done.stdout
    assert "✓ Succeeded: 4 rows" in done.stdout
    op = Report.objects.get()
    assert (op.state, op.title, op.owner, op.log_count) == ("succeeded", "from the shell", user, 4)
    assert op.result_context == {"message": "4 rows", "url": "/reports/1/"}


def test_a_failure_exits_1_with_the_safe_message():
    done = manage("testapp.Failing")
    assert done.returncode == 1
    assert "✗ Failed: The operation failed unexpectedly." in done.stdout
    assert Failing.objects.get().state == "failed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope.Model"], "'nope.Model' is not a live operation model"),
        (["auth.User"], "not a live operation model"),
        (["testapp.Report", "--nope=1"], "has no field 'nope'"),
        (["testapp.Report", "--state=succeeded"], "has no field 'state'"),
        (["testapp.Report", "--steps=many"], "--steps:"),
        (["testapp.Report", "--steps"], "--steps needs a value"),
        (["testapp.Report", "steps=1"], "Expected --field=value"),
        (["testapp.Report", "--owner=nobody"], "No user 'nobody'"),
    ],
)
def test_bad_input_is_a_clear_error(args, message):
    done = manage(*args)
    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_plain_lines_without_a_terminal(report):
    out = io.StringIO()
    execute(report, TextProgress(report, out))
    text = out.getvalue()
    assert "100.0%" in text
    assert "[info] Rendering" in text
    report.refresh_from_db()
    assert report.state == "succeeded"


def test_a_tqdm_bar_when_asked(report):
    out = io.StringIO()
    report.steps = 50
    execute(report, TextProgress(report, out, bar=True))
    assert "50/50" in out.getvalue()  # tqdm's counter
    assert "    1 | row 0" in out.getvalue()  # log lines printed above the bar


def test_swap_and_html_need_a_page(report):
    p = TextProgress(report, io.StringIO())
    with pytest.raises(NotImplementedError, match="page"):
        p.swap("#x", name="status")
    with pytest.raises(NotImplementedError, match="page"):
        p.html("#x", "y")
