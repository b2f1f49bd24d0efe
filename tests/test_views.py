from __future__ import annotations

import pytest
from django.test import Client
from django.test.utils import override_settings
from django.utils import translation

from liveops_htmx.progress import WebProgress
from tests.testapp.models import Paced, Report

pytestmark = pytest.mark.django_db(transaction=True)


def page(op):
    return f"/live/{op._meta.label_lower}/{op.pk}/"


@pytest.fixture
def owner_client(client, user):
    client.force_login(user)
    return client


def test_the_owner_sees_the_bundled_page_with_a_live_widget(owner_client, report):
    response = owner_client.get(page(report))
    assert response.status_code == 200
    assert response.templates[0].name == "liveops_htmx/operation.html"
    html = response.content.decode()
    assert f'id="op-socket-{report.pk}" hx-ext="ws"' in html
    assert "django_htmx/htmx-2.min.js" in html
    assert "hx-headers='{&quot;X-CSRFToken&quot;: &quot;" in html
    assert "hx-headers:inherited='{&quot;X-CSRFToken&quot;: &quot;" in html  # htmx 4


def test_a_template_derived_from_the_model_wins(owner_client, user):
    op = Paced.objects.create(owner=user)
    response = owner_client.get(page(op))
    assert response.templates[0].name == "testapp/paced.html"
    assert '<main class="paced-page">' in response.content.decode()


def test_a_finished_operation_deep_link_shows_its_result_and_no_socket(owner_client, report, layer):
    WebProgress(report, layer).start()
    WebProgress(report, layer).result(message="ready to download")
    html = owner_client.get(page(report)).content.decode()
    assert "ready to download" in html
    assert "ws-connect" not in html


@pytest.mark.parametrize(
    "path",
    [
        "/live/testapp.report/999/",
        "/live/nope.model/1/",
        "/live/auth.user/1/",
        "/live/testapp.report/x/",
    ],
)
def test_unknown_operations_are_404(owner_client, path):
    assert owner_client.get(path).status_code == 404


def test_other_users_and_anonymous_visitors_get_404(client, report, other_user):
    assert client.get(page(report)).status_code == 404
    client.force_login(other_user)
    for suffix in ("", "widget/"):
        assert client.get(page(report) + suffix).status_code == 404
    assert client.post(page(report) + "cancel/").status_code == 404


def test_the_widget_endpoint_mints_the_viewers_own_token(owner_client, report, user):
    import re
    from urllib.parse import unquote

    from liveops_htmx.security import read_subscription_token

    html = owner_client.get(page(report) + "widget/").content.decode()
    assert html.startswith(f'<div id="op-root-{report.pk}"')
    token = re.search(r"subscription_token=([^\"]+)", html)[1]
    assert read_subscription_token(unquote(token)).user_pk == str(user.pk)


def test_cancel_is_a_csrf_protected_post(user, report, layer):
    WebProgress(report, layer).start()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post(page(report) + "cancel/").status_code == 403
    strict.get(page(report))
    token = strict.cookies["csrftoken"].value
    response = strict.post(
        page(report) + "cancel/", headers={"X-CSRFToken": token, "HX-Request": "true"}
    )
    assert response.status_code == 204
    report.refresh_from_db()
    assert report.cancel_requested


def test_cancel_without_htmx_redirects_back(owner_client, report):
    response = owner_client.post(page(report) + "cancel/")
    assert response.status_code == 302
    assert response["Location"] == page(report)
    report.refresh_from_db()
    assert report.state == "cancelled"  # it was still pending
    assert owner_client.get(page(report) + "cancel/").status_code == 405


@override_settings(LIVEOPS={"RUNNER": "eager"})
def test_run_again_starts_a_new_run_and_keeps_the_finished_one(owner_client, report):
    report.title, report.steps = "Q4", 2
    report.save()
    report.start()
    report.refresh_from_db()
    finished = (report.seq, report.log_tail, report.result_context, report.finished_at)
    here = "http://testserver" + page(report)
    response = owner_client.post(
        page(report) + "restart/", headers={"HX-Request": "true", "HX-Current-URL": here}
    )
    assert response.status_code == 200
    again = Report.objects.exclude(pk=report.pk).get()
    assert (again.title, again.steps, again.owner_id) == ("Q4", 2, report.owner_id)
    assert again.state == "succeeded" and again.log_count == 2  # ran (eagerly), from scratch
    report.refresh_from_db()
    assert (report.seq, report.log_tail, report.result_context, report.finished_at) == finished
    html = response.content.decode()
    assert f'id="op-root-{again.pk}"' in html and f'id="op-root-{report.pk}"' not in html
    assert response["HX-Push-Url"] == page(again)
    elsewhere = owner_client.post(page(again) + "restart/", headers={"HX-Request": "true"})
    assert "HX-Push-Url" not in elsewhere  # not on its page: the address stays


@override_settings(LIVEOPS={"RUNNER": "liveops_htmx.runners.thread.runner"})
def test_restart_does_nothing_to_a_running_operation(owner_client, report, layer):
    WebProgress(report, layer).start()
    before = Report.objects.get(pk=report.pk).seq
    response = owner_client.post(page(report) + "restart/")
    assert response.status_code == 302
    assert Report.objects.get(pk=report.pk).seq == before


@override_settings(LIVEOPS={"RUNNER": "eager"})
def test_the_create_view_saves_starts_and_redirects(owner_client, user):
    with translation.override("de"):
        response = owner_client.post("/new/report/", {"title": "Q4", "steps": 2})
    op = Report.objects.get()
    assert response.status_code == 302
    assert response["Location"] == page(op)
    assert (op.owner, op.title, op.state, op.language) == (user, "Q4", "succeeded", "de")


def test_the_list_needs_a_login_and_shows_only_the_users_operations(
    client, user, other_user, report
):
    theirs = Report.objects.create(owner=other_user)
    assert client.get("/live/").status_code == 302
    client.force_login(user)
    html = client.get("/live/").content.decode()
    assert f'id="liveop-row-testapp-report-{report.pk}"' in html
    assert f"liveop-row-testapp-report-{theirs.pk}" not in html
    assert 'id="liveops-socket" hx-ext="ws"' in html
    assert html.count("ws-connect") == 1  # one socket for the whole list


def test_a_widget_swapped_into_the_bundled_page_renames_its_heading(owner_client, report):
    widget = f"{page(report)}widget/"
    on_page = owner_client.get(
        widget, headers={"HX-Request": "true", "HX-Current-URL": "http://testserver" + page(report)}
    )
    assert f'<h1 id="liveop-heading" hx-swap-oob="true">{report}</h1>' in on_page.content.decode()
    elsewhere = owner_client.get(
        widget, headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/elsewhere/"}
    )
    assert "liveop-heading" not in elsewhere.content.decode()


def test_a_models_page_template_is_named_after_its_model_name():
    from liveops_htmx.views import template_for
    from tests.testapp.models import Keyed

    assert template_for(Keyed) == "testapp/keyed.html"


# -- seeing is not controlling ----------------------------------------------------------


def with_perms(user, *codenames):
    from django.contrib.auth.models import Permission

    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return type(user).objects.get(pk=user.pk)


@pytest.fixture
def viewer_client(client, other_user):
    client.force_login(with_perms(other_user, "view_report"))
    return client


def test_a_user_who_may_only_view_cannot_cancel(viewer_client, report, layer):
    WebProgress(report, layer).start()
    assert viewer_client.get(page(report)).status_code == 200
    response = viewer_client.post(page(report) + "cancel/", headers={"HX-Request": "true"})
    assert response.status_code == 403
    report.refresh_from_db()
    assert not report.cancel_requested and report.state == "running"


@override_settings(LIVEOPS={"RUNNER": "eager"})
def test_a_user_who_may_only_view_cannot_restart(viewer_client, report):
    report.start()
    report.refresh_from_db()
    before = (report.state, report.seq)
    response = viewer_client.post(page(report) + "restart/", headers={"HX-Request": "true"})
    assert response.status_code == 403
    report.refresh_from_db()
    assert (report.state, report.seq) == before


def test_a_user_who_may_not_even_view_gets_404_not_403(client, report, other_user):
    client.force_login(with_perms(other_user, "change_report"))  # control without view
    assert client.post(page(report) + "cancel/").status_code == 404
    assert client.post(page(report) + "restart/").status_code == 404


def test_the_change_permission_controls_others_operations(client, report, other_user, layer):
    WebProgress(report, layer).start()
    client.force_login(with_perms(other_user, "view_report", "change_report"))
    response = client.post(page(report) + "cancel/", headers={"HX-Request": "true"})
    assert response.status_code == 204
    report.refresh_from_db()
    assert report.cancel_requested


def test_the_page_shows_buttons_only_to_who_may_use_them(owner_client, viewer_client, user, report):
    from django.test import Client

    WebProgress(report).start()
    owner = Client()
    owner.force_login(user)
    cancel = 'class="liveop-controls__cancel"'
    assert cancel in owner.get(page(report)).content.decode()
    assert cancel in owner.get(page(report) + "widget/").content.decode()
    for suffix in ("", "widget/"):
        html = viewer_client.get(page(report) + suffix).content.decode()
        assert f'id="op-controls-{report.pk}"' in html
        assert "<button" not in html

    WebProgress(Report.objects.get(pk=report.pk)).result(message="done")
    restart = 'class="liveop-controls__restart"'
    assert restart in owner.get(page(report)).content.decode()
    assert restart not in viewer_client.get(page(report)).content.decode()


def test_an_operation_without_owner_is_404_unless_public(client):
    ownerless = Report.objects.create()
    assert client.get(page(ownerless)).status_code == 404
    assert client.post(page(ownerless) + "cancel/").status_code == 404
    public = Paced.objects.create()  # Paced sets public = True
    html = client.get(page(public)).content.decode()
    assert f'id="op-controls-{public.pk}"' in html and "<button" not in html
    assert client.post(page(public) + "cancel/").status_code == 403  # seen, not controlled
    for op in (ownerless, public):
        op.refresh_from_db()
        assert op.state == "pending"
