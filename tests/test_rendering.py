from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test.utils import override_settings
from django.utils import timezone

from liveops_htmx.rendering import context, fragments, templates
from tests.markup import element
from tests.testapp.models import Failing, Report, Sleepy


@pytest.fixture(autouse=True)
def _fresh_resolution():
    templates.clear_cache()
    yield
    templates.clear_cache()


def test_ids_are_stable_and_per_operation(report):
    assert context.dom_id(report, "status") == f"op-status-{report.pk}"
    assert context.ids(report)["log_lines"] == f"op-log-lines-{report.pk}"


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<div id="x">a</div>', '<div hx-swap-oob="innerHTML" id="x">a</div>'),
        ("<section>b</section>", '<section hx-swap-oob="innerHTML">b</section>'),
        ("<br/>", '<br hx-swap-oob="innerHTML"/>'),
    ],
)
def test_oob_goes_on_the_root_element(html, expected):
    assert fragments.with_oob(html, "innerHTML") == expected


def test_every_part_renders_with_its_id_in_place_and_out_of_band(report):
    for name in fragments.PARTS:
        plain = fragments.render_part(report, name)
        assert plain.startswith(f'<div id="op-{name}-{report.pk}"')
        assert "hx-swap-oob" not in plain
        oob = fragments.render_part(report, name, oob=True)
        assert oob == fragments.with_oob(plain, "innerHTML")


def test_a_models_own_template_overrides_one_part_and_keeps_the_rest(report):
    report.state = "succeeded"
    report.result_context = {"message": "12 pages"}
    result = fragments.render_part(report, "result")
    assert result == f'<div id="op-result-{report.pk}" class="report-result">Report: 12 pages</div>'
    assert 'class="liveop-status"' in fragments.render_part(report, "status")
    assert templates.template_names(report, "result")[0] == "testapp/report_liveop.html#result"


def test_an_override_without_the_id_is_a_clear_error(user):
    op = Failing.objects.create(owner=user)
    op.liveop_template = "broken_liveop.html"
    with pytest.raises(ImproperlyConfigured, match='id="op-status-'):
        fragments.render_part(op, "status")


def test_a_missing_part_everywhere_is_template_does_not_exist(report):
    from django.template import TemplateDoesNotExist

    with pytest.raises(TemplateDoesNotExist):
        fragments.render_part(report, "nonexistent")


@override_settings(DEBUG=True)
def test_debug_resolves_every_time(report):
    fragments.render_part(report, "status")
    assert templates._resolved == {}


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, ""),
        (float("inf"), ""),
        (-1, ""),
        (0.2, "about 1 second left"),
        (42, "about 42 seconds left"),
        (60, "about 1 minute left"),
        (150, "about 2 minutes left"),
        (7200, "about 2 hours left"),
    ],
)
def test_eta_text(seconds, text):
    assert context.eta_text(seconds) == text


def test_progress_of_a_succeeded_operation_is_full(report):
    report.state = "succeeded"
    report.percent = None
    view = context.progress_view(report)
    assert view["percent_text"] == "100%"
    assert view["eta_text"] == ""


def test_stages_list_declared_ones_first_then_dynamic_ones(report):
    report.stage_states = {"Render": "running", "Extra": "done"}
    assert context.stage_view(report) == [
        {"name": "Collect", "state": "pending"},
        {"name": "Render", "state": "running"},
        {"name": "Extra", "state": "done"},
    ]


def test_a_running_snapshot_has_every_part_and_no_closer(report):
    report.log_tail = [[1, "a"], [2, "<b>"]]
    html = fragments.snapshot(report)
    for name in fragments.PARTS:
        element(html, f"op-{name}-{report.pk}")
    assert '<li value="2">&lt;b&gt;</li>' in html
    assert f"op-socket-{report.pk}" not in html


def test_a_finished_snapshot_ends_with_the_socket_closer(report):
    report.state = "failed"
    report.error = "boom"
    report.finished_at = timezone.now()
    html = fragments.snapshot(report)
    assert html.endswith(f'<div id="op-socket-{report.pk}" hx-swap-oob="outerHTML" hidden></div>')
    assert "boom" in element(html, f"op-error-{report.pk}")


@override_settings(DEBUG=True)
def test_the_traceback_shows_only_in_debug(report):
    report.state = "failed"
    report.error_detail = "Traceback: secret"
    assert "Traceback: secret" in fragments.render_part(report, "error")
    with override_settings(DEBUG=False):
        assert "Traceback" not in fragments.render_part(report, "error")


def test_compose_puts_the_closer_last_after_log_appends():
    parts = {"socket": "<x>", "status": "<s>"}
    assert fragments.compose(parts, [(1, 1, "<l>")]) == "<s><l><x>"


def test_socket_elements_for_htmx_2_and_4(report):
    two = fragments.socket_element(report, "/ws/?t=a&b", 2)
    expected = f'<div id="op-socket-{report.pk}" hx-ext="ws" ws-connect="/ws/?t=a&amp;b" hidden>'
    assert two == expected + "</div>"
    four = fragments.socket_element(report, "/ws/", 4)
    assert four == f'<div id="op-socket-{report.pk}" hx-ws:connect="/ws/" hidden></div>'


def test_refusal_escapes_its_text():
    html = fragments.refusal("op-socket-7", "<bad>", 4403)
    assert "&lt;bad&gt;" in html
    assert 'id="op-socket-7"' in html


def test_status_says_cancelling_until_it_is_cancelled(report):
    report.state = "running"
    report.cancel_requested = True
    assert "Cancelling…" in fragments.render_part(report, "status")
    report.state = "cancelled"
    assert "Cancelled" in fragments.render_part(report, "status")
    op = Failing(pk=report.pk, state="cancelled")  # Report overrides its result part
    assert "Cancelled." in fragments.render_part(op, "result")


def test_an_unused_model_renders_the_default_result(user):
    op = Report.objects.create(owner=user)
    op.state = "succeeded"
    op.liveop_template = "nothing/here.html"
    assert "Done." in fragments.render_part(op, "result")


@pytest.mark.parametrize(
    ("language", "running", "cancel"), [("fr", "En cours", "Annuler"), ("de", "Läuft", "Abbrechen")]
)
def test_an_operation_renders_in_its_own_language(report, language, running, cancel):
    from liveops_htmx.serverside import snapshots

    report.state = "running"
    report.language = language
    snap = snapshots.of(report)
    assert running in snap.parts["status"]
    assert cancel in snap.controller_parts["controls"]


@pytest.mark.django_db(transaction=True)  # pushes go out on commit
def test_what_is_pushed_to_everyone_has_no_button(report, layer):
    from liveops_htmx.progress import WebProgress
    from liveops_htmx.rendering import protocol

    p = WebProgress(report, layer)
    p.start()
    p.status("working")
    p.result(message="done")
    messages = layer.messages(p.group)
    for msg in messages:
        assert "<button" not in msg["liveop_html"]
        assert "<button" not in "".join(msg["parts"].values())
    start, status, finish = messages
    assert "liveop-controls__cancel" in start[protocol.CONTROLLER_PARTS]["controls"]
    assert protocol.CONTROLLER_PARTS not in status  # the controls were not rendered
    assert "liveop-controls__restart" in finish[protocol.CONTROLLER_HTML]
    assert finish[protocol.CONTROLLER_HTML] == fragments.compose(
        {**finish["parts"], **finish[protocol.CONTROLLER_PARTS]}
    )


def test_the_page_and_the_snapshot_render_controls_for_their_audience(report):
    report.state = "running"
    assert "<button" not in fragments.widget(report, "")
    assert "liveop-controls__cancel" in fragments.widget(report, "", can_control=True)
    assert "<button" not in fragments.snapshot(report)
    assert "liveop-controls__cancel" in fragments.snapshot(report, can_control=True)


# -- result values that would become code ---------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("url", ["javascript:alert(1)", " java\tscript:alert(1)", "data:,x"])
def test_a_result_url_that_is_not_http_or_relative_is_no_link_live_or_later(layer, url, user):
    from django.template import Context, Template
    from django.test import RequestFactory

    from liveops_htmx.progress import WebProgress

    report = Sleepy.objects.create(owner=user)  # the bundled result part
    p = WebProgress(report, layer)
    p.start()
    p.result(message="the report", url=url)
    result = f"op-result-{report.pk}"
    live = element(layer.frames(p.group)[-1], result)
    report.refresh_from_db()
    late = element(fragments.snapshot(report), result)
    request = RequestFactory().get("/")
    request.user = user
    page = Template("{% load liveops_htmx %}{% liveop op %}").render(
        Context({"op": report, "request": request})
    )
    for html in (live, late, element(page, result)):
        assert "the report" in html
        assert "href" not in html and "script:" not in html and "data:" not in html
    assert live == late


@pytest.mark.django_db(transaction=True)
def test_an_http_result_url_is_a_link(user, layer):
    from liveops_htmx.progress import WebProgress

    p = WebProgress(Sleepy.objects.create(owner=user), layer)
    p.start()
    p.result(message="the report", url="https://example.com/r?a=1&b=2")
    live = element(layer.frames(p.group)[-1], f"op-result-{p.op.pk}")
    assert 'href="https://example.com/r?a=1&amp;b=2"' in live


@pytest.mark.django_db(transaction=True)
def test_p_result_cannot_set_chained_to_and_pushes_nothing(report, layer):
    from liveops_htmx.progress import WebProgress
    from liveops_htmx.values import ResultKeyError

    p = WebProgress(report, layer)
    p.start()
    with pytest.raises(ResultKeyError, match=r"'chained_to'.*p\.chain_to\(\)"):
        p.result(chained_to={"widget": "https://evil.example/x"})
    with pytest.raises(ResultKeyError, match="chained_to"):
        p.result({"chained_to": {"widget": "/live/x/"}})
    assert len(layer.messages(p.group)) == 1  # the start, nothing else
    report.refresh_from_db()
    assert report.state == "running" and report.result_context is None
    assert not p.finished
    p.result(message="fine")  # the run can still finish


@pytest.mark.parametrize(
    "widget", ["https://evil.example/x", "//evil.example/x", "/\\evil.example", "/\t/evil", 7]
)
def test_a_stored_chain_to_another_site_is_ignored(report, widget, user):
    report.state = "succeeded"
    report.result_context = {"chained_to": {"model": "x", "pk": "1", "widget": widget}}
    for html in (fragments.snapshot(report), fragments.widget(report, "")):
        assert "hx-get" not in html and "evil" not in html
    assert fragments.snapshot(report).endswith("hidden></div>")  # the plain socket closer
