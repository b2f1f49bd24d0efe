"""Tier 1: Server-Sent Events, through the test project's ASGI application, in-memory layer."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.core import signing
from django.test.utils import override_settings

from liveops_htmx.rendering.protocol import operation_group
from liveops_htmx.security import make_list_token, make_subscription_token
from liveops_htmx.serverside import hub, streams
from tests.helpers import HttpStream, eventually, session_cookie, worker
from tests.markup import element
from tests.testapp.models import Paced, Report

pytestmark = pytest.mark.django_db(transaction=True)


def events_path(op, token):
    path = f"/live/{op._meta.label_lower}/{op.pk}/events/"
    return path if token is None else f"{path}?subscription_token={token}"


async def stream(op, user, token_user=None, *, token=None):
    """An open event stream of ``op`` for ``user`` (signed in), with ``token_user``'s token."""
    if token is None:
        token = await sync_to_async(make_subscription_token)(token_user or user, op)
    cookie = await session_cookie(user) if user.is_authenticated else ""
    return await HttpStream(events_path(op, token), cookie).open()


@pytest.fixture(autouse=True)
async def _close_streams():
    yield
    await HttpStream.close_all()


@pytest.fixture
async def running(report):
    call = worker(report)
    await call("start")
    return report, call


async def no_hub_left():
    await eventually(lambda: hub.hubs() == [], what="every hub to stop")


# -- the stream -----------------------------------------------------------------------


async def test_the_snapshot_comes_first_then_pushes_in_order_then_the_end(running, user):
    report, call = running
    sse = await stream(report, user)
    assert sse.status == 200
    assert sse.headers["content-type"] == "text/event-stream"
    assert "no-cache" in sse.headers["cache-control"]
    assert sse.headers["x-accel-buffering"] == "no"
    (snapshot,) = await sse.read_events(1)
    for part in ("status", "progress", "stages", "log", "result", "error", "controls"):
        assert 'hx-swap-oob="innerHTML"' in element(snapshot, f"op-{part}-{report.pk}")
    # It delivers: the page's fallback is made inert.
    assert f'<div id="op-fallback-{report.pk}" hx-swap-oob="outerHTML" hidden></div>' in snapshot

    await call("status", "one")
    await call("status", "two")
    await call("result", message="all done")
    frames = (await sse.read_until_end())[1:]
    assert ["one" in frames[0], "two" in frames[1], "all done" in frames[-1]] == [True] * 3
    # The terminal frame replaces the stream's element: htmx closes it, never reconnects.
    assert frames[-1].endswith(
        f'<div id="op-socket-{report.pk}" hx-swap-oob="outerHTML" hidden></div>'
    )
    await no_hub_left()


async def test_a_finished_operation_is_one_snapshot_and_the_end(report, user):
    call = worker(report)
    await call("start")
    await call("result", message="ready")
    sse = await stream(report, user)
    (snapshot,) = await sse.read_until_end()
    assert "ready" in element(snapshot, f"op-result-{report.pk}")
    assert snapshot.endswith(
        f'<div id="op-socket-{report.pk}" hx-swap-oob="outerHTML" hidden></div>'
    )
    await no_hub_left()


async def test_stream_and_socket_viewers_share_one_hub_and_get_the_same_frames(running, user):
    from tests.helpers import follow

    report, call = running
    sse = await stream(report, user)
    comm = await follow(report, user)
    await sse.read_events(1)
    await comm.receive_from()
    assert len(hub.hubs()) == 1
    assert len(get_channel_layer().groups[operation_group("testapp.report", report.pk)]) == 1
    await call("status", "to both")
    socket_frame = await comm.receive_from()
    assert (await sse.read_events(2))[1] == socket_frame
    await comm.disconnect()
    await sse.disconnect()
    await no_hub_left()


@override_settings(DEBUG=True)
async def test_a_frame_of_several_lines_arrives_whole(report, user):
    await database_sync_to_async(
        lambda: Report.objects.filter(pk=report.pk).update(
            state="failed", error="boom", error_detail="Traceback\n  line 1\r\n  line 2\rend"
        )
    )()
    sse = await stream(report, user)
    (snapshot,) = await sse.read_until_end()
    # Every line went out as a data: line; the client joins them with newlines.
    assert "Traceback\n  line 1\n  line 2\nend</pre>" in snapshot
    assert "data: Traceback" not in sse.body and "\ndata:   line 1\n" in sse.body


def test_each_line_of_a_frame_is_a_data_line():
    assert (
        streams.message("<a>\n<b>\r\n<c>\r<d>") == "data: <a>\ndata: <b>\ndata: <c>\ndata: <d>\n\n"
    )
    assert streams.message(" lead") == "data:  lead\n\n"  # the client drops one space only


async def test_a_quiet_stream_sends_comments(running, user, monkeypatch):
    report, _ = running
    monkeypatch.setattr(streams, "KEEPALIVE", 0.05)
    sse = await stream(report, user)
    await sse.read_events(1)
    await sse.read()
    assert sse.body.endswith(": keepalive\n\n")
    assert len(sse.events()) == 1  # comments are not messages
    await sse.disconnect()


# -- leaving ----------------------------------------------------------------------------


async def test_a_client_that_goes_away_leaves_no_hub(running, user):
    report, call = running
    sse = await stream(report, user)
    await sse.read_events(1)
    assert len(hub.hubs()) == 1
    await sse.disconnect()
    await no_hub_left()
    layer = get_channel_layer()
    await eventually(lambda: operation_group("testapp.report", report.pk) not in layer.groups)
    await call("status", "nobody listens")  # and the push finds no one


async def test_a_client_gone_while_a_frame_waits_stops_its_viewer():
    out = streams.EventStream("op-socket-1")
    await out.send_frame("<a>")  # taken at once: nothing waits
    blocked = asyncio.ensure_future(out.send_frame("<b>"))  # waits for <a> to be sent
    await asyncio.sleep(0.01)
    assert not blocked.done()
    out.close()  # the response is over
    with pytest.raises(ConnectionError):
        await blocked
    with pytest.raises(ConnectionError):
        await out.send_frame("<c>")


async def test_a_slow_client_has_one_frame_waiting_and_takes_them_in_order():
    out = streams.EventStream("op-socket-1")
    sent = asyncio.ensure_future(_send_all(out, ["<1>", "<2>", "<3>"]))
    received = []
    async for chunk in out.chunks(keepalive=1):
        received.append(chunk)
        assert len(out._waiting) <= 1
    await sent
    assert received == ["data: <1>\n\n", "data: <2>\n\n", "data: <3>\n\n"]


async def _send_all(out, frames):
    for frame in frames:
        await out.send_frame(frame)
    await out.end(1000)


# -- refusals ---------------------------------------------------------------------------


async def refused(sse, report, code):
    """The one message of a refused stream: a notice that replaces the stream's element."""
    assert sse.status == 200 and sse.headers["content-type"] == "text/event-stream"
    (notice,) = await sse.read_until_end()
    assert notice.startswith(f'<div id="op-socket-{report.pk}" hx-swap-oob="outerHTML"')
    assert f'data-close-code="{code}"' in notice
    assert "sse-connect" not in notice and "Pending" not in notice
    await no_hub_left()
    return notice


async def test_a_missing_or_malformed_token_is_refused_4400(report, user):
    for token in (None, "not-a-token"):
        await refused(await stream(report, user, token=token or ""), report, 4400)
    cookie = await session_cookie(user)
    await refused(await HttpStream(events_path(report, None), cookie).open(), report, 4400)


async def test_a_tampered_token_is_refused_4401(report, user):
    token = await sync_to_async(make_subscription_token)(user, report)
    payload, stamp, signature = token.split(":")
    await refused(
        await stream(report, user, token=f"{payload}:{stamp}:{signature[::-1]}"), report, 4401
    )


async def test_an_expired_token_is_refused_4410(report, user, monkeypatch):
    monkeypatch.setattr(signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(1))
    token = make_subscription_token(user, report)
    monkeypatch.undo()
    notice = await refused(await stream(report, user, token=token), report, 4410)
    assert "reload the page" in notice


async def test_a_token_of_another_user_is_refused_4403(report, user, other_user):
    await refused(await stream(report, other_user, token_user=user), report, 4403)


async def test_an_operation_the_user_may_not_see_is_refused_4403(report, other_user, anonymous):
    await refused(await stream(report, other_user), report, 4403)  # their own token
    await refused(await stream(report, anonymous), report, 4403)


async def test_a_deleted_operation_is_refused_4404(report, user):
    token = await sync_to_async(make_subscription_token)(user, report)
    gone = Report(pk=report.pk)
    await database_sync_to_async(report.delete)()
    await refused(await stream(gone, user, token=token), gone, 4404)


async def test_a_token_for_another_operation_than_the_url_is_refused(report, user):
    other = await database_sync_to_async(Report.objects.create)(owner=user)
    token = await sync_to_async(make_subscription_token)(user, other)
    await refused(await stream(report, user, token=token), report, 4400)
    list_token = await sync_to_async(make_list_token)(user)
    await refused(await stream(report, user, token=list_token), report, 4400)


@override_settings(LIVEOPS={"CHANNEL_LAYER": "missing"})
async def test_no_channel_layer_is_refused_4503(report, user):
    await refused(await stream(report, user), report, 4503)


# -- the list ---------------------------------------------------------------------------


async def test_the_list_streams_its_rows_then_new_rows(user, report):
    token = await sync_to_async(make_list_token)(user)
    sse = await HttpStream(
        f"/live/events/?subscription_token={token}", await session_cookie(user)
    ).open()
    (snapshot,) = await sse.read_events(1)
    assert f"liveop-row-testapp-report-{report.pk}" in element(snapshot, "liveops-rows")
    assert '<div id="liveops-fallback" hx-swap-oob="outerHTML" hidden></div>' in snapshot

    new = await database_sync_to_async(Paced.objects.create)(owner=user, steps=1, delay=0)
    await database_sync_to_async(new.start)("eager")
    key = f"liveop-row-testapp-paced-{new.pk}"
    while "Succeeded" not in "".join(sse.events()[1:]):
        assert await sse.read()
    assert f'<div hx-swap-oob="afterbegin:#liveops-rows"><li id="{key}"' in sse.events()[1]
    await sse.disconnect()
    await no_hub_left()


async def test_a_list_stream_needs_the_users_own_list_token(user, other_user, report):
    token = await sync_to_async(make_list_token)(user)
    sse = await HttpStream(
        f"/live/events/?subscription_token={token}", await session_cookie(other_user)
    ).open()
    (notice,) = await sse.read_until_end()
    assert notice.startswith('<div id="liveops-socket" hx-swap-oob="outerHTML"')
    assert 'data-close-code="4403"' in notice
    op_token = await sync_to_async(make_subscription_token)(user, report)
    sse = await HttpStream(
        f"/live/events/?subscription_token={op_token}", await session_cookie(user)
    ).open()
    (notice,) = await sse.read_until_end()
    assert 'data-close-code="4400"' in notice


async def test_a_hub_a_stream_started_still_reads_the_row_after_the_stream_ended(running, user):
    # Django runs each request in a context of its own, whose thread goes when the
    # request ends; a hub that outlives the stream that created it must not use it.
    from tests.helpers import follow

    report, call = running
    sse = await stream(report, user)
    await sse.read_events(1)  # the stream's request created the hub
    comm = await follow(report, user)
    await comm.receive_from()
    await sse.disconnect()
    # A write whose push is lost, then one whose push shows the gap: the hub rereads.
    await database_sync_to_async(
        lambda: Report.objects.filter(pk=report.pk).update(seq=50, status="lost write")
    )()
    await call("status", "next write")
    assert "next write" in await comm.receive_from()
    await comm.disconnect()
    await no_hub_left()


async def test_a_streams_hub_reads_where_a_sockets_hub_does(running, user, monkeypatch):
    # Django runs a request's synchronous work in a thread of the request's own, kept
    # until the request ends; a hub belongs to the process and outlives the stream
    # that started it, so its reads run where a socket's hub reads, not there.
    import threading

    from liveops_htmx.serverside import snapshots
    from tests.helpers import follow

    report, _ = running
    threads = []
    real = snapshots.for_viewer

    def recording(sub, viewer_user):
        threads.append(threading.get_ident())
        return real(sub, viewer_user)

    monkeypatch.setattr(snapshots, "for_viewer", recording)
    sse = await stream(report, user)
    await sse.read_events(1)
    await sse.disconnect()
    await no_hub_left()
    comm = await follow(report, user)
    await comm.receive_from()
    assert threads[0] == threads[1]
    await comm.disconnect()


@override_settings(LIVEOPS={"SOCKETS_PER_USER": 2})
async def test_streams_count_against_the_visitors_connections_4429(running, user):
    from liveops_htmx.serverside.limits import slots

    report, _call = running
    first = await stream(report, user)
    assert "Running" in (await first.read_events(1))[0]
    second = await stream(report, user)
    await second.read_events(1)
    third = await stream(report, user)
    (notice,) = await third.read_until_end()
    assert f'id="op-socket-{report.pk}"' in notice and 'data-close-code="4429"' in notice
    await first.disconnect()
    await eventually(lambda: slots.held(f"user:{user.pk}") == 1, what="the slot given back")
    fourth = await stream(report, user)
    assert "Running" in (await fourth.read_events(1))[0]
