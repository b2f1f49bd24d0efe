from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from liveops_htmx.models import TERMINAL_STATES, LiveOperation, State
from tests.testapp.models import Paced, Report


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


def with_perms(user, *codenames):
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return type(user).objects.get(pk=user.pk)  # fresh permission cache


def test_an_operation_without_owner_is_closed_unless_its_model_is_public(
    db, user, other_user, anonymous
):
    ownerless = Report.objects.create()
    assert not ownerless.user_can_view(anonymous)
    assert not ownerless.user_can_view(user)
    assert ownerless.user_can_view(with_perms(other_user, "view_report"))
    assert Report.public is False  # closed by default

    assert Paced.public is True  # the tests' public model
    public = Paced.objects.create()
    assert public.user_can_view(anonymous)
    assert public.user_can_view(user)
    # Public opens the page, not the controls.
    assert not public.user_can_control(anonymous)
    assert not public.user_can_control(user)


def test_public_is_about_operations_without_owner(user, other_user, anonymous):
    public = Paced.objects.create(owner=user)
    assert public.user_can_view(user)
    assert not public.user_can_view(other_user)
    assert not public.user_can_view(anonymous)


def test_who_may_control(report, user, other_user, anonymous):
    assert report.user_can_control(user)
    assert not report.user_can_control(anonymous)
    viewer = with_perms(other_user, "view_report")
    assert report.user_can_view(viewer)
    assert not report.user_can_control(viewer)  # seeing is not controlling
    changer = with_perms(viewer, "change_report")
    assert report.user_can_control(changer)


def test_superusers_see_and_control_everything(db, report):
    from django.contrib.auth.models import User

    boss = User.objects.create_superuser("boss", password="pw")
    ownerless = Report.objects.create()
    for op in (report, ownerless):
        assert op.user_can_view(boss) and op.user_can_control(boss)
