from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import User

from liveops_htmx.admin import LiveOperationAdmin, register_all
from liveops_htmx.checks import check_project
from liveops_htmx.progress import WebProgress
from tests.testapp.models import Failing, Paced, Report, Sleepy

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff_client(client):
    boss = User.objects.create_superuser("boss", password="pw")
    client.force_login(boss)
    return client


def test_every_operation_model_is_registered():
    for model in (Report, Failing, Sleepy, Paced):
        assert isinstance(admin.site._registry[model], LiveOperationAdmin)
    assert register_all() == []  # nothing left to add


def test_the_changelist_filters_by_state(staff_client, report, layer):
    WebProgress(Report.objects.create(owner=report.owner), layer).start()
    html = staff_client.get("/admin/testapp/report/?state__exact=running").content.decode()
    assert "1 report" in html
    assert "By state" in html


def test_live_fields_are_read_only(staff_client, report):
    html = staff_client.get(f"/admin/testapp/report/{report.pk}/change/").content.decode()
    assert 'name="title"' in html
    assert 'name="status"' not in html
    assert 'name="seq"' not in html


def test_the_cancel_action(staff_client, report, layer):
    WebProgress(report, layer).start()
    done = Report.objects.create(owner=report.owner, state="succeeded")
    response = staff_client.post(
        "/admin/testapp/report/",
        {"action": "cancel_selected", "_selected_action": [report.pk, done.pk]},
        follow=True,
    )
    assert "Asked 1 operation to stop." in response.content.decode()
    report.refresh_from_db()
    assert report.cancel_requested


def test_liveops_before_the_admin_is_w005(settings):
    apps_list = [a for a in settings.INSTALLED_APPS if a != "django.contrib.admin"]
    after = apps_list.index("liveops_htmx") + 1
    settings.INSTALLED_APPS = [*apps_list[:after], "django.contrib.admin", *apps_list[after:]]
    assert "liveops_htmx.W005" in [m.id for m in check_project()]


def test_the_changelist_shows_percent_as_the_page_does_and_no_stale_status(
    staff_client, user, layer
):
    running = Report.objects.create(owner=user, title="running")
    p = WebProgress(running, layer, interval=0)
    p.start()
    p.status("Crunching numbers")
    p.percent(42.7)
    finished = Report.objects.create(owner=user, title="finished")
    done = WebProgress(finished, layer)
    done.start()
    done.status("Last words")
    done.result()
    html = staff_client.get("/admin/testapp/report/").content.decode()
    assert "42%" in html and "42.7" not in html
    assert "Crunching numbers" in html
    assert "100%" in html and "100.0" not in html
    assert "Last words" not in html


def test_the_cancel_action_skips_what_the_admin_user_may_not_control(client, report, layer):
    from django.contrib.auth.models import Permission

    WebProgress(report, layer).start()  # someone else's
    clerk = User.objects.create_user("clerk", password="pw", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_report"))
    own = Report.objects.create(owner=clerk)
    WebProgress(own, layer).start()
    client.force_login(clerk)
    response = client.post(
        "/admin/testapp/report/",
        {"action": "cancel_selected", "_selected_action": [report.pk, own.pk]},
        follow=True,
    )
    html = response.content.decode()
    assert "Asked 1 operation to stop." in html
    assert "Skipped 1 operation you may not control." in html
    report.refresh_from_db()
    own.refresh_from_db()
    assert not report.cancel_requested
    assert own.cancel_requested
