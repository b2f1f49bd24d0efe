from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.template import Context, Template, TemplateSyntaxError
from django.test import RequestFactory
from django.test.utils import override_settings

from liveops_htmx.rendering import fragments
from liveops_htmx.security import read_subscription_token
from tests.markup import element


def render(source, **context):
    return Template("{% load liveops_htmx %}" + source).render(Context(context))


@pytest.fixture
def request_for(rf: RequestFactory):
    def make(user):
        request = rf.get("/")
        request.user = user
        return request

    return make


def token_of(html):
    match = re.search(r'ws-connect="/asgi/notifications/\?subscription_token=([^"]+)"', html)
    return read_subscription_token(unquote(match.group(1)))


def test_the_tag_renders_the_snapshot_and_opens_a_socket(report, user, request_for):
    html = render("{% liveop op %}", op=report, request=request_for(user))
    root = element(html, f"op-root-{report.pk}")
    assert root.startswith(f'<div id="op-root-{report.pk}" class="liveop"')
    socket = element(html, f"op-socket-{report.pk}")
    assert 'hx-ext="ws"' in socket
    sub = token_of(socket)
    assert (sub.model, sub.pk, sub.user_pk) == ("testapp.Report", str(report.pk), str(user.pk))
    for name in fragments.PARTS:
        assert "hx-swap-oob" not in element(html, f"op-{name}-{report.pk}")


def test_htmx_4_attributes_by_setting_or_per_tag(report, user, request_for):
    with override_settings(LIVEOPS={"HTMX_VERSION": 4}):
        html = render("{% liveop op %}", op=report, request=request_for(user))
    assert 'hx-ws:connect="/asgi/notifications/?subscription_token=' in html
    html = render("{% liveop op htmx=4 %}", op=report, request=request_for(user))
    assert "hx-ws:connect=" in html and "ws-connect=" not in html.replace("hx-ws:connect", "")
    html = render("{% liveop op htmx=2 %}", op=report, request=request_for(user))
    assert 'ws-connect="' in html


def test_a_finished_operation_renders_without_a_socket(report, user, request_for):
    report.state = "succeeded"
    html = render("{% liveop op %}", op=report, request=request_for(user))
    assert "op-socket" not in html
    assert "ws-connect" not in html


def test_the_user_can_come_from_the_auth_context_processor(report, user):
    html = render("{% liveop op %}", op=report, user=user)
    assert token_of(html).user_pk == str(user.pk)


def test_without_a_user_in_context_it_says_what_to_enable(report):
    with pytest.raises(ImproperlyConfigured, match=r"context_processors\.request"):
        render("{% liveop op %}", op=report)


def test_an_unknown_htmx_version_is_a_template_error(report, user, request_for):
    with pytest.raises(TemplateSyntaxError, match="2 or 4"):
        render("{% liveop op htmx=3 %}", op=report, request=request_for(user))


@override_settings(LIVEOPS={"WS_URL": "/live/ws/"})
def test_the_socket_url_follows_the_setting(report, user, request_for):
    html = render("{% liveop op %}", op=report, request=request_for(user))
    assert 'ws-connect="/live/ws/?subscription_token=' in html


def test_the_page_through_a_real_view(client, report, user):
    client.force_login(user)
    html = client.get(f"/op/{report.pk}/").content.decode()
    assert "django_htmx/htmx-2.min.js" in html
    assert "django_htmx/ext/hx-ws-2.min.js" in html
    assert f'id="op-socket-{report.pk}"' in html


def test_scripts_for_htmx_4_run_in_order_before_htmx_starts():
    html = Template("{% load liveops_htmx %}{% liveops_scripts 4 %}").render(
        Context({"csp_nonce": "n0nce"})
    )
    scripts = re.findall(r"<script [^>]*>", html)
    assert [re.search(r'src="([^"]+)"', s)[1] for s in scripts] == [
        "/static/django_htmx/htmx-4.min.js",
        "/static/django_htmx/ext/hx-ws-4.min.js",
        "/static/django_htmx/ext/hx-sse-4.min.js",  # "auto" falls back to a stream
    ]
    # A deferred htmx 4 starts on a timer that may beat its deferred extension.
    assert all("defer" not in s and 'nonce="n0nce"' in s for s in scripts)


def test_scripts_for_htmx_2_come_from_django_htmx():
    html = Template("{% load liveops_htmx %}{% liveops_scripts 2 %}").render(Context({}))
    assert "django_htmx/htmx-2.min.js" in html and "django_htmx/ext/hx-ws-2.min.js" in html


def scripts_of(html):
    tags = re.findall(r"<script [^>]*>", html)
    assert all("defer" not in tag for tag in tags), tags
    return [re.search(r'src="([^"]+)"', tag)[1] for tag in tags]


OWN = ["vendor/htmx.min.js", "/js/hx-ws.min.js", "https://cdn.example/x.js", "http://h/y.js"]


@pytest.mark.parametrize("version", [2, 4])
def test_scripts_from_the_setting_in_order_as_plain_tags(version):
    with override_settings(LIVEOPS={"HTMX_VERSION": version, "HTMX_SCRIPTS": OWN}):
        html = Template("{% load liveops_htmx %}{% liveops_scripts %}").render(
            Context({"csp_nonce": "n0nce"})
        )
    # A static path goes through the storage; a path from the root or a URL stays as it is.
    assert scripts_of(html) == ["/static/vendor/htmx.min.js", *OWN[1:]]
    assert html.count('nonce="n0nce"') == 4
    assert "django_htmx" not in html


def test_scripts_from_the_setting_for_its_version_only():
    liveops = {"HTMX_VERSION": 4, "HTMX_SCRIPTS": ("vendor/htmx.min.js", "vendor/hx-ws.js")}
    with override_settings(LIVEOPS=liveops):
        four = Template("{% load liveops_htmx %}{% liveops_scripts 4 %}").render(Context({}))
        two = Template("{% load liveops_htmx %}{% liveops_scripts 2 %}").render(Context({}))
    assert scripts_of(four) == ["/static/vendor/htmx.min.js", "/static/vendor/hx-ws.js"]
    # Another version than HTMX_VERSION: django-htmx's copies of that one.
    assert "django_htmx/htmx-2.min.js" in two and "vendor/" not in two


@override_settings(LIVEOPS={"HTMX_SCRIPTS": ["vendor/htmx.min.js", "vendor/hx-ws.js"]})
def test_the_bundled_page_loads_the_scripts_of_the_setting(client, report, user):
    client.force_login(user)
    html = client.get(f"/live/testapp.report/{report.pk}/").content.decode()
    assert f'id="op-socket-{report.pk}"' in html
    assert scripts_of(html) == ["/static/vendor/htmx.min.js", "/static/vendor/hx-ws.js"]


@override_settings(LIVEOPS={"HTMX_SCRIPTS": "vendor/htmx.min.js"})
def test_scripts_given_as_one_string_are_refused_not_split():
    with pytest.raises(ImproperlyConfigured, match="must be a list"):
        Template("{% load liveops_htmx %}{% liveops_scripts %}").render(Context({}))
