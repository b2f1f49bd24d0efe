"""Which transport a page starts with, and the elements that move it to another one."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.template import Context, Template, TemplateSyntaxError
from django.test.utils import override_settings

from liveops_htmx import checks
from liveops_htmx.rendering import fragments, rows, transports
from liveops_htmx.security import read_subscription_token
from tests.markup import element


def render(source, **context):
    return Template("{% load liveops_htmx %}" + source).render(Context(context))


def widget(report, user, **settings):
    with override_settings(LIVEOPS=settings):
        return render("{% liveop op %}", op=report, user=user)


def socket_of(html, pk):
    return element(html, f"op-socket-{pk}")


def attribute(html, name):
    found = re.search(rf'{re.escape(name)}="([^"]*)"', html)
    return unescape(found[1]) if found else None


def token_in(url):
    return read_subscription_token(parse_qs(urlsplit(url).query)["subscription_token"][0])


@pytest.mark.parametrize(
    ("htmx", "connect", "error"),
    [(2, "ws-connect", "htmx:wsError"), (4, "hx-ws:connect", "htmx:ws:error")],
)
def test_auto_starts_on_a_websocket_whose_fallback_asks_for_a_stream(
    report, user, htmx, connect, error
):
    html = widget(report, user, HTMX_VERSION=htmx)
    socket = socket_of(html, report.pk)
    assert attribute(socket, connect).startswith("/asgi/notifications/?subscription_token=")
    armed = element(socket, f"op-fallback-{report.pk}")
    url = attribute(armed, "hx-get")
    assert url.startswith(f"/live/testapp.report/{report.pk}/fallback/?")
    query = parse_qs(urlsplit(url).query)
    assert (query["to"], query["htmx"]) == (["sse"], [str(htmx)])
    assert token_in(url).user_pk == str(user.pk)
    own = f"from:#op-socket-{report.pk} target:#op-socket-{report.pk}"
    assert attribute(armed, "hx-trigger") == f"load delay:10000ms, {error} {own}"
    assert attribute(armed, "hx-swap") == "none"


@override_settings(LIVEOPS={"FALLBACK_AFTER": 2.5})
def test_the_fallback_delay_follows_the_setting(report, user):
    html = render("{% liveop op %}", op=report, user=user)
    assert "load delay:2500ms," in element(html, f"op-fallback-{report.pk}")


def test_a_forced_websocket_never_falls_back(report, user):
    socket = socket_of(widget(report, user, TRANSPORT="websocket"), report.pk)
    assert 'ws-connect="' in socket
    assert (
        element(socket, f"op-fallback-{report.pk}")
        == f'<div id="op-fallback-{report.pk}" hidden></div>'
    )


@pytest.mark.parametrize("htmx", [2, 4])
def test_a_forced_stream(report, user, htmx):
    socket = socket_of(widget(report, user, TRANSPORT="sse", HTMX_VERSION=htmx), report.pk)
    if htmx == 4:
        url = attribute(socket, "hx-sse:connect")
        assert "sse-swap" not in socket  # htmx 4 swaps unnamed messages by itself
    else:
        url = attribute(socket, "sse-connect")
        assert 'hx-ext="sse"' in socket and 'sse-swap="message"' in socket
    assert 'hx-swap="none"' in socket  # frames are out-of-band swaps only
    assert url.startswith(f"/live/testapp.report/{report.pk}/events/?")
    assert token_in(url).pk == str(report.pk)
    assert "hx-get" not in element(socket, f"op-fallback-{report.pk}")


def test_forced_polling_asks_since_the_seq_it_shows(report, user):
    report.seq = 7
    socket = socket_of(widget(report, user, TRANSPORT="poll", POLL_INTERVAL=1.5), report.pk)
    url = attribute(socket, "hx-get")
    assert url.startswith(f"/live/testapp.report/{report.pk}/poll/?")
    assert parse_qs(urlsplit(url).query)["since"] == ["7"]
    assert attribute(socket, "hx-trigger") == "every 1500ms"
    assert "ws-connect" not in socket and "sse-connect" not in socket


def test_a_tag_may_choose_its_own_transport(report, user):
    html = render('{% liveop op transport="poll" %}', op=report, user=user)
    assert "/poll/?" in socket_of(html, report.pk)
    with pytest.raises(TemplateSyntaxError, match="transport must be one of"):
        render('{% liveop op transport="carrier-pigeon" %}', op=report, user=user)


def test_a_finished_operation_has_no_transport_element(report, user):
    report.state = "succeeded"
    for transport in ("auto", "sse", "poll"):
        assert "op-socket" not in widget(report, user, TRANSPORT=transport)


def test_every_snapshot_makes_the_fallback_inert(report):
    html = fragments.snapshot(report)
    assert f'<div id="op-fallback-{report.pk}" hx-swap-oob="outerHTML" hidden></div>' in html
    assert (
        f'<div id="{rows.LIST_FALLBACK}" hx-swap-oob="outerHTML" hidden></div>'
        in rows.rows_snapshot([])
    )


@pytest.mark.parametrize(
    ("transport", "expected"),
    [
        ("auto", "ws-connect"),
        ("websocket", "ws-connect"),
        ("sse", "sse-connect"),
        ("poll", "hx-get"),
    ],
)
def test_the_list_follows_over_each_transport(user, report, transport, expected):
    with override_settings(LIVEOPS={"TRANSPORT": transport}):
        html = render("{% liveops_list %}", user=user)
    socket = element(html, "liveops-socket")
    url = attribute(socket, expected)
    assert (
        read_subscription_token(parse_qs(urlsplit(url).query)["subscription_token"][0]).kind
        == "list"
    )
    if transport == "poll":
        assert url.startswith("/live/poll/?")
        from liveops_htmx.serverside import lists

        assert parse_qs(urlsplit(url).query)["since"] == [lists.current_version(user.pk)]
    armed = element(socket, "liveops-fallback")
    assert ("/live/fallback/?" in armed) == (transport == "auto")


@pytest.mark.parametrize(
    ("transport", "scripts"),
    [
        ("auto", ["htmx-2", "ext/hx-ws-2", "ext/hx-sse-2"]),
        ("websocket", ["htmx-2", "ext/hx-ws-2"]),
        ("sse", ["htmx-2", "ext/hx-sse-2"]),
        ("poll", ["htmx-2"]),
    ],
)
def test_the_scripts_load_what_the_transport_needs(transport, scripts):
    with override_settings(LIVEOPS={"TRANSPORT": transport}):
        html = render("{% liveops_scripts %}")
    assert re.findall(r'src="/static/django_htmx/([^"]+)\.min\.js"', html) == scripts
    html = render('{% liveops_scripts 4 transport="sse" %}')
    assert re.findall(r'src="/static/django_htmx/([^"]+)\.min\.js"', html) == [
        "htmx-4",
        "ext/hx-sse-4",
    ]


# -- without liveops_htmx.urls -----------------------------------------------------------


@override_settings(ROOT_URLCONF="tests.urls_without_live")
def test_without_the_urls_auto_is_a_websocket_alone(report, user):
    socket = socket_of(render("{% liveop op %}", op=report, user=user), report.pk)
    assert "ws-connect" in socket and "hx-get" not in socket
    with (
        override_settings(LIVEOPS={"TRANSPORT": "sse"}),
        pytest.raises(ImproperlyConfigured, match=r"liveops_htmx\.urls"),
    ):
        render("{% liveop op %}", op=report, user=user)


@pytest.mark.parametrize(
    ("transport", "expected"),
    [
        ("auto", ["liveops_htmx.W008"]),
        ("websocket", []),
        ("sse", ["liveops_htmx.E013"]),
        ("poll", ["liveops_htmx.E013"]),
    ],
)
def test_a_transport_whose_views_are_not_routed_is_checked(transport, expected):
    with override_settings(
        ROOT_URLCONF="tests.urls_without_live", LIVEOPS={"TRANSPORT": transport}
    ):
        messages = checks.check_transport_urls()
    assert [m.id for m in messages] == expected
    assert all('include("liveops_htmx.urls")' in m.hint for m in messages)
    with override_settings(LIVEOPS={"TRANSPORT": transport}):
        assert checks.check_transport_urls() == []


def test_the_transports_are_the_settings_values():
    from liveops_htmx.conf import TRANSPORTS

    assert TRANSPORTS == (transports.AUTO, transports.WEBSOCKET, transports.SSE, transports.POLL)
