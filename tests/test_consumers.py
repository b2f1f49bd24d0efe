"""Tier 1: the consumer, through WebsocketCommunicator, on the in-memory channel layer."""

from __future__ import annotations

import asyncio
import logging

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.core import signing
from django.test.utils import override_settings

from liveops_htmx.progress import WebProgress
from liveops_htmx.rendering.protocol import operation_group as group_name
from liveops_htmx.security import make_subscription_token
from liveops_htmx.serverside import hub, snapshots
from tests.helpers import TIMEOUT, closed_with, eventually, follow, socket, worker
from tests.markup import element
from tests.testapp.models import Report

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def running(report):
    call = worker(report)
    await call("start")
    return report, call


# -- refusals -------------------------------------------------------------------------


async def test_a_missing_token_is_accepted_then_closed_4400(user, caplog):
    comm = socket(None, user)
    assert (await comm.connect(timeout=TIMEOUT))[0]
    assert await closed_with(comm) == ([], 4400)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_malformed_token_closes_4400(user):
    comm = socket("not-a-token", user)
    await comm.connect(timeout=TIMEOUT)
    assert await closed_with(comm) == ([], 4400)


async def test_a_tampered_token_closes_4401(report, user):
    token = await sync_to_async(make_subscription_token)(user, report)
    payload, stamp, signature = token.split(":")
    forged = signing.TimestampSigner(salt="other").sign_object(
        {"m": "testapp.report", "p": str(report.pk), "u": None}
    )
    for bad in (f"{payload}:{stamp}:{signature[::-1]}", forged):
        comm = socket(bad, user)
        await comm.connect(timeout=TIMEOUT)
        assert await closed_with(comm) == ([], 4401)


async def test_an_expired_token_closes_4410_and_stops_htmx_retrying(report, user, monkeypatch):
    monkeypatch.setattr(signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(1))
    token = make_subscription_token(user, report)
    monkeypatch.undo()
    comm = socket(token, user)
    await comm.connect(timeout=TIMEOUT)
    frames, code = await closed_with(comm)
    assert code == 4410
    # The socket element is replaced by a notice: htmx 4 would otherwise retry any close.
    notice = element(frames[0], f"op-socket-{report.pk}")
    assert 'hx-swap-oob="outerHTML"' in notice and "reload the page" in notice
    assert "ws-connect" not in notice


async def test_a_token_of_another_user_closes_4403(report, user, other_user):
    comm = await follow(report, other_user, token_user=user)
    frames, code = await closed_with(comm)
    assert code == 4403
    assert "Pending" not in "".join(frames)  # nothing of the operation leaks


async def test_a_token_minted_for_someone_elses_operation_closes_4403(report, other_user):
    comm = await follow(report, other_user)  # other_user's own token, but not their operation
    frames, code = await closed_with(comm)
    assert code == 4403
    assert "op-status" not in "".join(frames)


async def test_an_anonymous_visitor_cannot_follow_an_owned_operation(report, anonymous):
    comm = await follow(report, anonymous)
    assert (await closed_with(comm))[1] == 4403


async def test_a_deleted_operation_closes_4404(report, user):
    token = await sync_to_async(make_subscription_token)(user, report)
    await database_sync_to_async(report.delete)()
    comm = socket(token, user)
    await comm.connect(timeout=TIMEOUT)
    assert (await closed_with(comm))[1] == 4404


async def test_a_token_for_a_model_that_is_no_operation_closes_4404(user):
    token = signing.TimestampSigner(salt="liveops_htmx.subscription").sign_object(
        {"m": "auth.user", "p": str(user.pk), "u": str(user.pk)}
    )
    comm = socket(token, user)
    await comm.connect(timeout=TIMEOUT)
    assert (await closed_with(comm))[1] == 4404


# -- snapshot and relay ---------------------------------------------------------------


async def test_a_mid_run_viewer_gets_the_real_state_at_once(running, user):
    report, call = running

    def one_stage():
        with call.p.stage("Collect"):
            pass

    await database_sync_to_async(one_stage)()
    await call("percent", 42)
    await call("log", "first line")
    await call("status", "Halfway")  # flushes at once, carrying the coalesced percent and log
    comm = await follow(report, user)
    snapshot = await comm.receive_from(timeout=TIMEOUT)
    assert 'value="42.0"' in element(snapshot, f"op-progress-{report.pk}")
    assert "Halfway" in element(snapshot, f"op-status-{report.pk}")
    assert "first line" in element(snapshot, f"op-log-{report.pk}")
    assert 'data-state="done">Collect' in element(snapshot, f"op-stages-{report.pk}")
    for part in ("status", "progress", "stages", "log", "result", "error"):
        assert 'hx-swap-oob="innerHTML"' in element(snapshot, f"op-{part}-{report.pk}")
    await comm.disconnect()


async def test_pushes_follow_the_snapshot_in_order_then_the_terminal_closes_1000(running, user):
    report, call = running
    comm = await follow(report, user)
    await comm.receive_from(timeout=TIMEOUT)
    await call("status", "one")
    await call("status", "two")
    await call("result", message="all done")
    frames, code = await closed_with(comm)
    assert code == 1000
    assert ["one" in frames[0], "two" in frames[1], "all done" in frames[2]] == [True] * 3
    assert f'<div id="op-socket-{report.pk}" hx-swap-oob="outerHTML" hidden></div>' in frames[2]


def drains():
    """Sends under way in this loop (a viewer's task that waits on a close counts)."""
    return [t for t in asyncio.all_tasks() if "Viewer._drain" in repr(t.get_coro())]


async def test_after_the_last_frame_the_page_closes_the_socket_and_nothing_waits_on(
    running, user, settings
):
    settings.LIVEOPS = {**settings.LIVEOPS, "CLOSE_GRACE": 60.0}
    report, call = running
    comm = await follow(report, user)
    await comm.receive_from(timeout=TIMEOUT)
    await call("result", message="all done")
    last = await comm.receive_from(timeout=TIMEOUT)
    assert f'<div id="op-socket-{report.pk}" hx-swap-oob="outerHTML" hidden></div>' in last
    assert await comm.receive_nothing(0.3), "the server closed under the page"
    assert drains(), "the close waits for the page"
    await eventually(lambda: hub.hubs() == [], what="the hub to stop (it need not wait)")
    await comm.disconnect()  # as htmx does once the frame swapped the socket element out
    await eventually(lambda: not drains(), what="the waiting close to end with the page's")


async def test_a_client_that_never_closes_is_closed_1000_after_the_grace(running, user, settings):
    settings.LIVEOPS = {**settings.LIVEOPS, "CLOSE_GRACE": 0.4}
    report, call = running
    comm = await follow(report, user)
    await comm.receive_from(timeout=TIMEOUT)
    await call("result", message="all done")
    await comm.receive_from(timeout=TIMEOUT)
    waited = asyncio.get_running_loop().time()
    frames, code = await closed_with(comm)
    assert (frames, code) == ([], 1000)
    assert asyncio.get_running_loop().time() - waited >= 0.3


async def test_an_operation_finished_before_connect_shows_its_result_first(report, user):
    call = worker(report)
    await call("start")
    await call("result", message="ready")
    comm = await follow(report, user)
    frames, code = await closed_with(comm)
    assert code == 1000
    assert len(frames) == 1
    assert "ready" in element(frames[0], f"op-result-{report.pk}")
    assert "Running" not in frames[0]
    assert 'data-state="succeeded"' in frames[0]


async def test_the_result_a_late_viewer_gets_is_byte_identical_to_the_live_one(running, user):
    report, call = running
    live = await follow(report, user)
    await live.receive_from(timeout=TIMEOUT)
    await call("result", message="report.pdf", url="/files/report.pdf")
    pushed, _ = await closed_with(live)
    late = await follow(report, user)
    snapshot, _ = await closed_with(late)
    result_id = f"op-result-{report.pk}"
    assert element(pushed[-1], result_id) == element(snapshot[0], result_id)
    assert "report.pdf" in element(snapshot[0], result_id)


async def test_the_snapshot_joins_before_it_reads_so_no_push_falls_between(
    running, user, monkeypatch
):
    report, call = running
    real = snapshots.for_viewer
    pushed = []

    def push_then_read(sub, viewer_user):
        # The worker writes after the viewer joined but before it reads the row.
        p = WebProgress(Report.objects.get(pk=report.pk))
        p.status("between")
        pushed.append(p.op.seq)
        return real(sub, viewer_user)

    monkeypatch.setattr(snapshots, "for_viewer", push_then_read)
    comm = await follow(report, user)
    snapshot = await comm.receive_from(timeout=TIMEOUT)
    assert "between" in snapshot
    assert await comm.receive_nothing(0.3)  # the held push was older: dropped, not repeated
    await call("status", "after")
    assert "after" in await comm.receive_from(timeout=TIMEOUT)
    await comm.disconnect()


async def test_a_push_read_right_after_the_snapshot_still_arrives(running, user, monkeypatch):
    report, _ = running
    real = snapshots.for_viewer

    def read_then_push(sub, viewer_user):
        snap = real(sub, viewer_user)
        WebProgress(Report.objects.get(pk=report.pk)).status("just after")
        return snap

    monkeypatch.setattr(snapshots, "for_viewer", read_then_push)
    comm = await follow(report, user)
    frames = [await comm.receive_from(timeout=TIMEOUT)]
    if "just after" not in frames[0]:  # else it was held and merged into the snapshot frame
        frames.append(await comm.receive_from(timeout=TIMEOUT))
    assert "".join(frames).count("just after") == 1
    assert frames[0].index(f'id="op-log-{report.pk}"') >= 0  # the first frame is the snapshot
    assert await comm.receive_nothing(0.2)
    await comm.disconnect()


async def test_stale_and_repeated_pushes_are_not_forwarded(running, user):
    report, call = running
    comm = await follow(report, user)
    await comm.receive_from(timeout=TIMEOUT)
    await call("status", "fresh")
    fresh = await comm.receive_from(timeout=TIMEOUT)
    layer = get_channel_layer()
    group = group_name("testapp.report", report.pk)
    for seq in (1, 2):  # older than what the viewer holds
        msg = {"type": "liveop.update", "seq": seq, "base": seq - 1, "parts": {}, "log": []}
        await layer.group_send(group, {**msg, "liveop_html": "<p>stale</p>"})
    assert await comm.receive_nothing(0.3)
    assert "fresh" in fresh
    await comm.disconnect()


async def test_a_gap_in_the_pushes_is_healed_from_the_database(running, user):
    report, call = running
    comm = await follow(report, user)
    await comm.receive_from(timeout=TIMEOUT)
    # A write whose push is lost (say the layer was full), then one that arrives.
    await database_sync_to_async(
        lambda: Report.objects.filter(pk=report.pk).update(seq=5, status="lost write")
    )()
    await call("status", "next write")  # conflicts, rereads seq 5, writes 6 on base 5
    healed = await comm.receive_from(timeout=TIMEOUT)
    assert "next write" in healed  # a snapshot read after the push: it holds both
    assert call.p.op.seq == 6
    assert f'id="op-log-{report.pk}"' in healed
    await comm.disconnect()


@override_settings(LIVEOPS={"WATCHDOG_INTERVAL": 0.2})
async def test_a_silent_hub_checks_the_database_and_heals(running, user):
    report, _ = running
    comm = await follow(report, user)
    await comm.receive_from(timeout=TIMEOUT)
    await database_sync_to_async(
        lambda: Report.objects.filter(pk=report.pk).update(seq=9, status="written, never pushed")
    )()
    assert "written, never pushed" in await comm.receive_from(timeout=TIMEOUT)
    await comm.disconnect()


# -- fan-out --------------------------------------------------------------------------


async def test_a_new_viewer_gets_its_snapshot_alone(running, user):
    report, _ = running
    first = await follow(report, user)
    await first.receive_from(timeout=TIMEOUT)
    others = [await follow(report, user) for _ in range(5)]
    for other in others:
        await other.receive_from(timeout=TIMEOUT)
    assert await first.receive_nothing(0.3)
    for comm in (first, *others):
        await comm.disconnect()


async def test_one_subscription_per_process_however_many_viewers(running, user):
    report, call = running
    layer = get_channel_layer()
    group = group_name("testapp.report", report.pk)
    viewers = [await follow(report, user) for _ in range(8)]
    for comm in viewers:
        await comm.receive_from(timeout=TIMEOUT)
    assert len(layer.groups[group]) == 1
    assert len(hub.hubs()) == 1
    await call("status", "to all")
    for comm in viewers:
        assert "to all" in await comm.receive_from(timeout=TIMEOUT)
    for comm in viewers:
        await comm.disconnect()
    await asyncio.sleep(0.05)
    assert group not in layer.groups
    assert len(hub.hubs()) == 0


async def test_operations_on_one_page_do_not_hear_each_other(running, user):
    report, _ = running
    other = await database_sync_to_async(Report.objects.create)(owner=user)
    comm = await follow(report, user)
    await comm.receive_from(timeout=TIMEOUT)
    await worker(other)("start")
    assert await comm.receive_nothing(0.3)
    await comm.disconnect()


# -- client frames --------------------------------------------------------------------


async def test_client_frames_are_ignored_and_oversized_ones_close_1009(running, user):
    report, call = running
    comm = await follow(report, user)
    await comm.receive_from(timeout=TIMEOUT)
    await comm.send_to(text_data='{"HEADERS": {}}')
    await comm.send_to(bytes_data=b"\x00\x01")
    await call("status", "still here")
    assert "still here" in await comm.receive_from(timeout=TIMEOUT)
    await comm.send_to(text_data="x" * 5000)
    assert (await closed_with(comm))[1] == 1009


async def test_a_client_frame_with_lone_surrogates_is_ignored_or_too_big(running, user, caplog):
    # Found by tests/test_fuzz_consumer.py: measuring such a frame raised in the
    # consumer (a server that passes text on without checking UTF-8 can deliver it).
    report, call = running
    comm = await follow(report, user)
    await comm.receive_from(timeout=TIMEOUT)
    await comm.send_input({"type": "websocket.receive", "text": "a\udcffb"})
    await call("status", "still here")
    assert "still here" in await comm.receive_from(timeout=TIMEOUT)
    await comm.send_input({"type": "websocket.receive", "text": "\ud800" * 2000})
    assert (await closed_with(comm))[1] == 1009
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_the_documented_routing_checks_the_origin(report, user):
    from tests.asgi import application

    token = await sync_to_async(make_subscription_token)(user, report)
    path = f"/asgi/notifications/?subscription_token={token}"
    evil = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://evil.test")])
    assert not (await evil.connect(timeout=TIMEOUT))[0]
    good = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://localhost")])
    assert (await good.connect(timeout=TIMEOUT))[0]
    await good.disconnect()


@override_settings(LIVEOPS={"LOST_AFTER": 1})
async def test_a_viewer_of_an_operation_whose_worker_died_sees_it_lost(running, user):
    report, _ = running
    from datetime import timedelta

    from django.utils import timezone

    await database_sync_to_async(
        lambda: Report.objects.filter(pk=report.pk).update(
            heartbeat_at=timezone.now() - timedelta(seconds=5)
        )
    )()
    comm = await follow(report, user)
    frames, code = await closed_with(comm)
    assert code == 1000
    assert 'data-state="lost"' in frames[0]
    assert "did not finish" in element(frames[0], f"op-error-{report.pk}")


async def test_a_failed_first_read_keeps_the_socket_and_is_tried_again(
    report, user, monkeypatch, caplog
):
    """Closing with 1011 would make htmx reconnect at once, again and again."""
    from liveops_htmx.serverside import viewers

    monkeypatch.setattr(viewers, "FIRST_READ_RETRY", 0.05)
    real = snapshots.for_viewer
    failures = [OSError("the database went away"), OSError("still away")]

    def flaky(sub, viewer_user):
        if failures:
            raise failures.pop(0)
        return real(sub, viewer_user)

    monkeypatch.setattr(snapshots, "for_viewer", flaky)
    comm = await follow(report, user)
    snapshot = await comm.receive_from(timeout=TIMEOUT)
    assert f'id="op-status-{report.pk}"' in snapshot and not failures
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    await comm.disconnect()


async def test_a_viewer_leaving_while_its_read_is_retried_leaves_no_hub(report, user, monkeypatch):
    from liveops_htmx.serverside import viewers

    monkeypatch.setattr(viewers, "FIRST_READ_RETRY", 0.05)

    def broken(sub, viewer_user):
        raise OSError("the database is down")

    monkeypatch.setattr(snapshots, "for_viewer", broken)
    comm = await follow(report, user)
    await eventually(lambda: hub.hubs() != [], what="the hub")
    await comm.disconnect()
    await eventually(lambda: hub.hubs() == [], what="the hub to stop")


# -- who may control: the controls each audience gets --------------------------------


@pytest.fixture
async def looker(other_user):
    """A user with the model's view permission only."""
    from django.contrib.auth.models import Permission

    def grant():
        other_user.user_permissions.add(Permission.objects.get(codename="view_report"))
        return type(other_user).objects.get(pk=other_user.pk)

    return await database_sync_to_async(grant)()


async def test_a_viewer_who_may_only_look_never_gets_a_button(running, user, looker):
    report, call = running
    owner = await follow(report, user)
    viewer = await follow(report, looker)
    controls = f"op-controls-{report.pk}"
    owner_snap = await owner.receive_from(timeout=TIMEOUT)
    viewer_snap = await viewer.receive_from(timeout=TIMEOUT)
    assert "liveop-controls__cancel" in element(owner_snap, controls)
    assert "<button" not in viewer_snap
    await call("status", "one")
    await call("result", message="done")
    owner_frames, _ = await closed_with(owner)
    viewer_frames, _ = await closed_with(viewer)
    assert "liveop-controls__restart" in element(owner_frames[-1], controls)
    assert "<button" not in "".join(viewer_frames)
    assert element(viewer_frames[-1], controls) != element(owner_frames[-1], controls)


async def test_each_audience_gets_the_same_controls_live_and_in_a_late_snapshot(
    running, user, looker
):
    report, call = running
    live = {who: await follow(report, who) for who in (user, looker)}
    for comm in live.values():
        await comm.receive_from(timeout=TIMEOUT)
    await call("result", message="done", url="/files/1/")
    controls, result = f"op-controls-{report.pk}", f"op-result-{report.pk}"
    for who, comm in live.items():
        pushed, _ = await closed_with(comm)
        late, _ = await closed_with(await follow(report, who))
        for part in (controls, result):
            assert element(pushed[-1], part) == element(late[0], part)


async def test_a_cancel_request_reaches_both_audiences_in_their_own_rendering(report, user, looker):
    from liveops_htmx import control

    comms = [await follow(report, who) for who in (user, looker)]
    for comm in comms:
        await comm.receive_from(timeout=TIMEOUT)
    await database_sync_to_async(control.request_cancel)(report)  # pending: cancelled at once
    (owner_frames, _), (viewer_frames, _) = [await closed_with(c) for c in comms]
    assert "liveop-controls__restart" in owner_frames[-1]
    assert "<button" not in "".join(viewer_frames)


# -- result values that would become code ---------------------------------------------


async def test_a_javascript_result_url_is_no_link_live_or_in_a_late_snapshot(user):
    from tests.testapp.models import Sleepy  # the bundled result part

    op = await database_sync_to_async(Sleepy.objects.create)(owner=user)
    call = worker(op)
    await call("start")
    live = await follow(op, user)
    await live.receive_from(timeout=TIMEOUT)
    await call("result", message="ready", url="javascript:alert(document.cookie)")
    pushed, _ = await closed_with(live)
    late, _ = await closed_with(await follow(op, user))
    result = f"op-result-{op.pk}"
    assert element(pushed[-1], result) == element(late[0], result)
    assert "ready" in element(late[0], result)
    for frame in (*pushed, *late):
        assert "javascript:" not in frame and "href" not in element(frame, result)


async def test_a_stored_chain_to_another_site_is_no_loader_in_a_snapshot(user, report):
    def finish_with_a_forged_chain():
        Report.objects.filter(pk=report.pk).update(
            state="succeeded",
            result_context={"chained_to": {"widget": "https://evil.example/w"}},
        )

    await database_sync_to_async(finish_with_a_forged_chain)()
    frames, code = await closed_with(await follow(report, user))
    assert code == 1000
    assert "evil.example" not in frames[0] and "hx-get" not in frames[0]
    assert f'<div id="op-socket-{report.pk}" hx-swap-oob="outerHTML" hidden></div>' in frames[0]


# -- sockets per visitor ----------------------------------------------------------------


def anonymous_socket(op, client="10.0.0.1", session=None):
    from django.contrib.auth.models import AnonymousUser

    comm = socket(make_subscription_token(AnonymousUser(), op), AnonymousUser())
    comm.scope["client"] = (client, 40000)
    if session is not None:
        comm.scope["session"] = session
    return comm


async def opened(comm):
    assert (await comm.connect(timeout=TIMEOUT))[0]
    return comm


@override_settings(LIVEOPS={"SOCKETS_PER_USER": 3})
async def test_sockets_past_the_limit_close_4429_with_a_notice(running, user, other_user):
    from liveops_htmx.serverside.limits import slots

    report, _ = running
    held = [await follow(report, user) for _ in range(3)]
    for comm in held:
        await comm.receive_from(timeout=TIMEOUT)
    assert slots.held(f"user:{user.pk}") == 3
    refused = await follow(report, user)
    frames, code = await closed_with(refused)
    assert code == 4429
    assert len(frames) == 1  # the notice, nothing of the operation
    notice = element(frames[0], f"op-socket-{report.pk}")
    assert notice == frames[0] and 'data-close-code="4429"' in notice
    assert "too many live pages" in notice and "ws-connect" not in notice
    # Another user is not affected; a socket that closes gives its slot back.
    theirs = await database_sync_to_async(Report.objects.create)(owner=other_user)
    other = await follow(theirs, other_user)
    assert "op-status" in await other.receive_from(timeout=TIMEOUT)
    await held[0].disconnect()
    await eventually(lambda: slots.held(f"user:{user.pk}") == 2, what="the slot to be freed")
    again = await follow(report, user)
    assert "op-status" in await again.receive_from(timeout=TIMEOUT)
    for comm in (*held[1:], other, again):
        await comm.disconnect()


@override_settings(LIVEOPS={"SOCKETS_PER_USER": 2})
async def test_the_list_socket_counts_too(user, report):
    from liveops_htmx.security import make_list_token

    held = [await follow(report, user) for _ in range(2)]  # kept: a dropped one would close
    token = await sync_to_async(make_list_token)(user)
    comm = socket(token, user)
    assert (await comm.connect(timeout=TIMEOUT))[0]
    frames, code = await closed_with(comm)
    assert code == 4429
    assert element(frames[0], "liveops-socket") == frames[0]
    for comm in held:
        await comm.disconnect()


@override_settings(LIVEOPS={"SOCKETS_PER_USER": 2})
async def test_anonymous_visitors_count_by_client_address_without_a_session(db):
    from tests.testapp.models import Paced  # public: anonymous visitors may follow it

    op = await database_sync_to_async(Paced.objects.create)()
    held = [await opened(anonymous_socket(op, "10.0.0.1")) for _ in range(2)]
    for comm in held:
        await comm.receive_from(timeout=TIMEOUT)
    assert (await closed_with(await opened(anonymous_socket(op, "10.0.0.1"))))[1] == 4429
    elsewhere = await opened(anonymous_socket(op, "10.0.0.2"))
    assert "op-status" in await elsewhere.receive_from(timeout=TIMEOUT)
    for comm in (*held, elsewhere):
        await comm.disconnect()


@override_settings(LIVEOPS={"SOCKETS_PER_USER": 1})
async def test_anonymous_visitors_with_a_session_count_by_session_not_a_made_up_one(db):
    from django.contrib.sessions.backends.db import SessionStore

    from tests.testapp.models import Paced

    op = await database_sync_to_async(Paced.objects.create)()

    def real_session():
        session = SessionStore()
        session["seen"] = True
        session.save()
        return SessionStore(session.session_key)  # as the cookie brings it, not loaded yet

    first, second = [await database_sync_to_async(real_session)() for _ in range(2)]
    a = await opened(anonymous_socket(op, "10.0.0.1", first))
    await a.receive_from(timeout=TIMEOUT)
    b = await opened(anonymous_socket(op, "10.0.0.1", second))  # same address, own session
    await b.receive_from(timeout=TIMEOUT)
    again = await opened(anonymous_socket(op, "10.0.0.1", SessionStore(first.session_key)))
    assert (await closed_with(again))[1] == 4429
    # A session key the server never issued is no identity: the address counts.
    forged = await opened(anonymous_socket(op, "10.0.0.3", SessionStore("x" * 32)))
    await forged.receive_from(timeout=TIMEOUT)
    forged_again = await opened(anonymous_socket(op, "10.0.0.3", SessionStore("y" * 32)))
    assert (await closed_with(forged_again))[1] == 4429
    for comm in (a, b, forged):
        await comm.disconnect()


async def test_no_limit_when_the_setting_is_none(running, user):
    report, _ = running
    with override_settings(LIVEOPS={"SOCKETS_PER_USER": None}):
        comms = [await follow(report, user) for _ in range(120)]
        for comm in comms:
            assert "op-status" in await comm.receive_from(timeout=TIMEOUT)
    for comm in comms:
        await comm.disconnect()
