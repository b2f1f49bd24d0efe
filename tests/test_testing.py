"""The helpers shipped for users' own tests, used as a user would."""

from __future__ import annotations

import pytest

from liveops_htmx.progress import WebProgress
from liveops_htmx.testing import ManualClock, run_operation
from tests.testapp.models import Report

pytestmark = pytest.mark.django_db(transaction=True)


def test_fixtures_capture_frames_and_control_the_clock(user, liveops_layer, liveops_clock):
    op = Report.objects.create(owner=user, steps=50)
    p = run_operation(op, liveops_layer, liveops_clock)
    assert p.finished
    frames = liveops_layer.frames(p.group)
    assert "50 rows" in frames[-1]
    # The clock never moved: the 50 log lines all rode on flushes that lifecycle calls made.
    assert sum(len(m["log"]) for m in liveops_layer.messages()) >= 1
    assert op.log_count == 50
    # As each audience gets them: only a viewer who may control sees "Run again".
    assert "Run again" not in frames[-1]
    assert "Run again" in liveops_layer.frames(p.group, can_control=True)[-1]


def test_manual_clock():
    clock = ManualClock(5)
    assert clock() == 5
    clock.advance(0.5)
    assert clock() == 5.5


def test_messages_filter_by_group(user, liveops_layer):
    a = Report.objects.create(owner=user)
    b = Report.objects.create(owner=user)
    WebProgress(a, liveops_layer).start()
    WebProgress(b, liveops_layer).start()
    assert len(liveops_layer.messages()) == 2
    assert len(liveops_layer.messages(f"liveop.testapp.report.{a.pk}")) == 1
    liveops_layer.clear()
    assert liveops_layer.messages() == []


async def test_the_capturing_layer_speaks_the_layer_api(liveops_layer):
    await liveops_layer.group_add("g", "c")
    await liveops_layer.group_discard("g", "c")
    await liveops_layer.send("c", {"type": "x"})
    assert (await liveops_layer.new_channel()).startswith("specific.")
