from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from liveops_htmx.models import TERMINAL_STATES, LiveOperation, State
from tests.testapp.models import Report


def test_str_names_the_model_pk_and_state(report):
    assert str(report) == f"Report #{report.pk}"


def test_terminal_states():
    assert {State.SUCCEEDED, State.FAILED, State.CANCELLED, State.LOST} == TERMINAL_STATES
    assert Report(state="running").is_finished is False
    assert Report(state="failed").is_finished is True


def test_run_must_be_implemented():
    with pytest.raises(NotImplementedError, match="run"):
        LiveOperation.run(Report(), None)


def test_newest_first(user):
    first = Report.objects.create(owner=user)
    second = Report.objects.create(owner=user)
    assert list(Report.objects.all()) == [second, first]


def test_who_may_view(report, user, other_user, anonymous):
    assert report.user_can_view(user)
    assert not report.user_can_view(other_user)
    assert not report.user_can_view(anonymous)
    other_user.user_permissions.add(Permission.objects.get(codename="view_report"))
    other_user = type(other_user).objects.get(pk=other_user.pk)  # fresh permission cache
    assert report.user_can_view(other_user)


def test_an_operation_without_owner_is_visible_to_its_token_holder(db, anonymous):
    assert Report.objects.create().user_can_view(anonymous)
