"""Tier 2: polling and the fallback endpoint, through the test client."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from liveops_htmx.progress import WebProgress
from liveops_htmx.security import make_list_token, make_subscription_token
from liveops_htmx.serverside import lists
from tests.markup import element
from tests.testapp.models import Paced, Report

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def owner_client(client, user):
    client.force_login(user)
    return client


def base(op):
    return f"/live/{op._meta.label_lower}/{op.pk}"


def poll(client, op, since, user=None, token=None):
    token = token or make_subscription_token(user or op.owner, op)
    return client.get(f"{base(op)}/poll/", {"subscription_token": token, "since": since})


def poll_element(html, pk):
    """The next poll element of a frame: its URL's query, and its trigger."""
    found = element(html, f"op-socket-{pk}")
    url = unescape(re.search(r'hx-get="([^"]+)"', found)[1])
    trigger = re.search(r'hx-trigger="([^"]+)"', found)[1]
    return parse_qs(urlsplit(url).query, keep_blank_values=True), trigger, found


def test_nothing_changed_is_204_and_one_query_of_a_few_columns(owner_client, report, layer):
    WebProgress(report, layer).start()
    report.refresh_from_db()
    owner_client.get("/")  # the session is warm
    with CaptureQueriesContext(connection) as queries:
        response = poll(owner_client, report, report.seq)
    assert response.status_code == 204
    assert response.content == b""
    assert "no-store" in response["Cache-Control"]
    ours = [q["sql"] for q in queries.captured_queries if "testapp_report" in q["sql"]]
    assert len(ours) == 1, ours
    assert '"seq"' in ours[0] and '"log_tail"' not in ours[0] and '"regions"' not in ours[0]


def test_a_change_is_a_snapshot_with_the_next_poll_element(owner_client, report, layer):
    p = WebProgress(report, layer, interval=0)
    p.start()
    seen = Report.objects.get(pk=report.pk).seq
    p.status("moving on")
    p.log("first\nsecond")
    response = poll(owner_client, report, seen)
    assert response.status_code == 200
    html = response.content.decode()
    for part in ("status", "progress", "stages", "log", "result", "error", "controls"):
        assert 'hx-swap-oob="innerHTML"' in element(html, f"op-{part}-{report.pk}")
    assert "moving on" in html
    # The log is replaced whole: a page that missed appends still numbers its lines right.
    assert '<li value="1">first</li><li value="2">second</li>' in element(
        html, f"op-log-{report.pk}"
    )
    query, trigger, found = poll_element(html, report.pk)
    now = Report.objects.get(pk=report.pk).seq
    assert query["since"] == [str(now)] and now > seen
    assert unquote(query["subscription_token"][0]) == unquote(
        re.search(r"subscription_token=([^&]+)", response.request["QUERY_STRING"])[1]
    )
    assert trigger == "every 2000ms"
    assert found.startswith(f'<div hx-swap-oob="outerHTML" id="op-socket-{report.pk}"')
    assert html.endswith("</div></div>")  # the poll element comes last
    # From there, nothing new: 204.
    assert poll(owner_client, report, now).status_code == 204


def test_any_other_since_gets_the_snapshot(owner_client, report):
    for since in ("", "-1", "junk", str(report.seq + 5)):
        response = poll(owner_client, report, since)
        assert response.status_code == 200
        assert poll_element(response.content.decode(), report.pk)[0]["since"] == [str(report.seq)]


@override_settings(LIVEOPS={"POLL_INTERVAL": 0.5})
def test_the_poll_interval_follows_the_setting(owner_client, report):
    html = poll(owner_client, report, "").content.decode()
    assert poll_element(html, report.pk)[1] == "every 500ms"


def test_after_the_terminal_state_the_element_is_inert(owner_client, report, layer):
    p = WebProgress(report, layer)
    p.start()
    seen = Report.objects.get(pk=report.pk).seq
    p.result(message="done and dusted")
    html = poll(owner_client, report, seen).content.decode()
    assert "done and dusted" in element(html, f"op-result-{report.pk}")
    assert html.endswith(f'<div id="op-socket-{report.pk}" hx-swap-oob="outerHTML" hidden></div>')
    assert "hx-get" not in element(html, f"op-socket-{report.pk}")
    assert "/poll/" not in html


@override_settings(LIVEOPS={"LOST_AFTER": 1})
def test_an_operation_whose_worker_died_is_polled_lost(owner_client, report, layer):
    WebProgress(report, layer).start()
    Report.objects.filter(pk=report.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=5))
    seq = Report.objects.get(pk=report.pk).seq
    html = poll(owner_client, report, seq).content.decode()  # the seq alone has not changed
    assert 'data-state="lost"' in html
    assert Report.objects.get(pk=report.pk).state == "lost"


# -- refusals ---------------------------------------------------------------------------


def refused(response, pk, code):
    """A refusal replaces the poll element with a notice: htmx stops polling."""
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith(f'<div id="op-socket-{pk}" hx-swap-oob="outerHTML"')
    assert f'data-close-code="{code}"' in html
    assert "hx-get" not in html and "Pending" not in html
    return html


def test_refusals_replace_the_poll_element_with_a_notice(client, user, other_user, report):
    client.force_login(user)
    assert refused(poll(client, report, "", token="nope"), report.pk, 4400)
    token = make_subscription_token(user, report)
    payload, stamp, signature = token.split(":")
    refused(poll(client, report, "", token=f"{payload}:{stamp}:{signature[::-1]}"), report.pk, 4401)
    other = Report.objects.create(owner=user)
    refused(poll(client, report, "", token=make_subscription_token(user, other)), report.pk, 4400)
    refused(poll(client, report, "", token=make_list_token(user)), report.pk, 4400)
    client.force_login(other_user)
    refused(poll(client, report, "", token=token), report.pk, 4403)  # not their token
    refused(poll(client, report, "", user=other_user), report.pk, 4403)  # not their operation
    client.logout()
    refused(
        poll(client, report, "", user=None, token=make_subscription_token(None, report)),
        report.pk,
        4403,
    )


def test_a_deleted_operation_is_refused_4404(owner_client, user, report):
    token = make_subscription_token(user, report)
    path = base(report)
    report.delete()
    response = owner_client.get(f"{path}/poll/", {"subscription_token": token, "since": 0})
    refused(response, path.rsplit("/", 1)[1], 4404)


def test_an_expired_token_is_refused_4410(owner_client, user, report, monkeypatch):
    from django.core import signing

    monkeypatch.setattr(signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(1))
    token = make_subscription_token(user, report)
    monkeypatch.undo()
    assert "reload the page" in refused(poll(owner_client, report, 0, token=token), report.pk, 4410)


def test_only_get(owner_client, user, report):
    token = make_subscription_token(user, report)
    for name in ("poll", "events", "fallback"):
        assert (
            owner_client.post(f"{base(report)}/{name}/?subscription_token={token}").status_code
            == 405
        )


# -- the list ---------------------------------------------------------------------------


def test_the_list_polls_by_version(owner_client, user, report, layer):
    token = make_list_token(user)
    version = lists.version(lists.row_seqs(lists.operations_of(user.pk)))
    assert lists.current_version(user.pk) == version
    response = owner_client.get("/live/poll/", {"subscription_token": token, "since": version})
    assert response.status_code == 204

    new = Paced.objects.create(owner=user)
    WebProgress(new, layer).start()
    response = owner_client.get("/live/poll/", {"subscription_token": token, "since": version})
    html = response.content.decode()
    rows = element(html, "liveops-rows")
    assert (
        f"liveop-row-testapp-paced-{new.pk}" in rows
        and f"liveop-row-testapp-report-{report.pk}" in rows
    )
    assert '<div id="liveops-fallback" hx-swap-oob="outerHTML" hidden></div>' in html
    query = parse_qs(
        urlsplit(unescape(re.search(r'hx-get="([^"]+)"', element(html, "liveops-socket"))[1])).query
    )
    assert query["since"] == [lists.current_version(user.pk)] != [version]
    response = owner_client.get(
        "/live/poll/", {"subscription_token": token, "since": query["since"][0]}
    )
    assert response.status_code == 204


def test_the_list_poll_needs_the_users_own_list_token(client, user, other_user, report):
    client.force_login(other_user)
    response = client.get("/live/poll/", {"subscription_token": make_list_token(user), "since": ""})
    html = response.content.decode()
    assert html.startswith('<div id="liveops-socket" hx-swap-oob="outerHTML"')
    assert 'data-close-code="4403"' in html and "liveop-row" not in html


# -- the fallback endpoint ------------------------------------------------------------


def fallback(client, op, to, htmx, token):
    return client.get(
        f"{base(op)}/fallback/", {"subscription_token": token, "to": to, "htmx": htmx}
    )


@pytest.mark.parametrize("htmx", [2, 4])
def test_the_fallback_to_a_stream_brings_the_stream_element(owner_client, user, report, htmx):
    token = make_subscription_token(user, report)
    html = fallback(owner_client, report, "sse", htmx, token).content.decode()
    found = element(html, f"op-socket-{report.pk}")
    assert found.startswith(f'<div hx-swap-oob="outerHTML" id="op-socket-{report.pk}"')
    connect = "hx-sse:connect" if htmx == 4 else "sse-connect"
    url = unescape(re.search(rf'{connect}="([^"]+)"', found)[1])
    assert url.startswith(f"{base(report)}/events/?")
    assert unquote(parse_qs(urlsplit(url).query)["subscription_token"][0]) == token
    # Its own fallback is armed: to polling, on the stream's errors or its silence.
    armed = element(html, f"op-fallback-{report.pk}")
    assert "to=poll" in armed and f"htmx={htmx}" in armed
    assert ("htmx:sse:error" if htmx == 4 else "htmx:sseError") in armed


def test_the_fallback_to_polling_polls_at_once_from_nothing(owner_client, user, report):
    token = make_subscription_token(user, report)
    html = fallback(owner_client, report, "poll", 2, token).content.decode()
    query, trigger, _ = poll_element(html, report.pk)
    assert query["since"] == [""] and trigger == "load, every 2000ms"
    assert (
        element(html, f"op-fallback-{report.pk}")
        == f'<div id="op-fallback-{report.pk}" hidden></div>'
    )


def test_the_fallback_refuses_as_the_others_do(client, user, other_user, report):
    client.force_login(other_user)
    token = make_subscription_token(user, report)
    refused(fallback(client, report, "sse", 2, token), report.pk, 4403)  # not their token
    theirs = make_subscription_token(other_user, report)
    refused(fallback(client, report, "poll", 2, theirs), report.pk, 4403)  # not their operation
    client.force_login(user)
    assert fallback(client, report, "websocket", 2, token).status_code == 400
    assert fallback(client, report, "poll", 3, token).status_code == 400


def test_the_list_fallback(owner_client, user):
    token = make_list_token(user)
    html = owner_client.get(
        "/live/fallback/", {"subscription_token": token, "to": "sse", "htmx": 2}
    ).content.decode()
    found = element(html, "liveops-socket")
    assert 'sse-connect="/live/events/?subscription_token=' in found
    assert "to=poll" in element(html, "liveops-fallback")


def test_a_poll_answers_each_audience_with_its_own_controls(
    owner_client, client, report, other_user, layer
):
    from django.contrib.auth.models import Permission

    WebProgress(report, layer).start()
    other_user.user_permissions.add(Permission.objects.get(codename="view_report"))
    owner = poll(owner_client, report, 0).content.decode()
    client.force_login(other_user)
    looker = poll(client, report, 0, user=other_user).content.decode()
    controls = f"op-controls-{report.pk}"
    assert "liveop-controls__cancel" in element(owner, controls)
    assert "liveop-controls__cancel" not in element(looker, controls)
