from __future__ import annotations

from datetime import timedelta

import pytest
from django.test.utils import override_settings
from django.utils import timezone

from liveops_htmx.progress import WebProgress
from liveops_htmx.workerside.heartbeat import Heart, get_heart
from tests.helpers import wait_until
from tests.testapp.models import Report

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_beat_refreshes_running_operations_only(user, layer):
    old = timezone.now() - timedelta(hours=1)
    running = Report.objects.create(owner=user)
    WebProgress(running, layer).start()
    pending = Report.objects.create(owner=user)
    Report.objects.update(heartbeat_at=old)
    heart = Heart()
    with heart.beating(running), heart.beating(pending), heart.beating(running):
        assert heart.beat() == 1
    running.refresh_from_db()
    pending.refresh_from_db()
    assert running.heartbeat_at > old
    assert pending.heartbeat_at == old
    assert heart.beat() == 0  # nothing beating any more


@override_settings(LIVEOPS={"LOST_AFTER": 0.2})
def test_the_heart_thread_beats_on_its_own(user, layer):
    op = Report.objects.create(owner=user)
    WebProgress(op, layer).start()
    Report.objects.update(heartbeat_at=timezone.now() - timedelta(hours=1))
    stale = Report.objects.get(pk=op.pk).heartbeat_at

    def beaten():
        op.refresh_from_db()
        return op.heartbeat_at > stale

    with Heart().beating(op):  # a heart of its own: the shared one may sleep longer
        wait_until(beaten, 5, "a beat")
    assert timezone.now() - op.heartbeat_at < timedelta(seconds=5)


def test_one_heart_per_process():
    assert get_heart() is get_heart()
