"""The live list: one socket per page, rows pushed to the owner's group."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from liveops_htmx.consumers import LiveOperationConsumer
from liveops_htmx.rendering import protocol
from liveops_htmx.security import make_list_token, read_subscription_token
from liveops_htmx.serverside import lists
from tests.helpers import TIMEOUT, closed_with, worker
from tests.markup import element
from tests.testapp.models import Paced, Report

pytestmark = pytest.mark.django_db(transaction=True)


async def follow_list(user, token_user=None):
    token = await sync_to_async(make_list_token)(token_user or user)
    comm = WebsocketCommunicator(
        LiveOperationConsumer.as_asgi(), f"/asgi/notifications/?subscription_token={token}"
    )
    comm.scope["user"] = user
    assert (await comm.connect(timeout=TIMEOUT))[0]
    return comm


def test_a_list_token_binds_only_the_user(user):
    sub = read_subscription_token(make_list_token(user))
    assert (sub.kind, sub.user_pk, sub.model, sub.pk) == ("list", str(user.pk), "", "")


def test_operations_of_a_user_across_models_newest_first(user, other_user):
    a = Report.objects.create(owner=user)
    b = Paced.objects.create(owner=user)
    c = Report.objects.create(owner=user)
    Report.objects.create(owner=other_user)
    assert lists.operations_of(user.pk) == [c, b, a]
    assert lists.operations_of(user.pk, limit=2) == [c, b]


async def test_the_list_socket_sends_the_rows_then_live_rows(user, other_user, report):
    comm = await follow_list(user)
    snapshot = await comm.receive_from(timeout=TIMEOUT)
    rows = element(snapshot, "liveops-rows")
    assert 'hx-swap-oob="innerHTML"' in rows
    assert f"liveop-row-testapp-report-{report.pk}" in rows

    new = await database_sync_to_async(Paced.objects.create)(owner=user, steps=1, delay=0)
    await database_sync_to_async(new.start)("eager")
    frames = []
    while not any("Succeeded" in f for f in frames):
        frames.append(await comm.receive_from(timeout=TIMEOUT))
    text = "".join(frames)
    key = f"liveop-row-testapp-paced-{new.pk}"
    assert f'<div hx-swap-oob="afterbegin:#liveops-rows"><li id="{key}"' in frames[0]
    assert f'<li hx-swap-oob="outerHTML" id="{key}"' in text  # later: updated in place

    theirs = await database_sync_to_async(Report.objects.create)(owner=other_user)
    await worker(theirs)("start")
    assert await comm.receive_nothing(0.3)
    await comm.disconnect()


async def test_a_list_token_of_another_user_is_refused(user, other_user):
    comm = await follow_list(other_user, token_user=user)
    assert (await closed_with(comm))[1] == 4403


def test_progress_rows_are_throttled_lifecycle_rows_are_not(report, layer, clock):
    from liveops_htmx.progress import WebProgress

    p = WebProgress(report, layer, clock=clock)
    p.start()
    for i in range(10):  # two seconds of progress, flushed every 0.2 s
        clock.advance(0.2)
        p.percent(10 * i)
    p.status("x")
    rows = layer.messages(protocol.user_group(report.owner_id), type="liveop.row")
    assert len(rows) == 1 + 2 + 1  # start, progress once a second, status
    assert [r["seq"] for r in rows] == sorted(r["seq"] for r in rows)


# -- refusals replace the list's socket element, and nothing else is sent ------------


def only_the_list_notice(frames, code):
    import re

    assert len(frames) == 1, frames
    notice = element(frames[0], "liveops-socket")
    assert notice == frames[0]  # the notice is the whole frame
    assert re.findall(r'\bid="([^"]+)"', frames[0]) == ["liveops-socket"]
    assert 'hx-swap-oob="outerHTML"' in notice and f'data-close-code="{code}"' in notice
    assert "ws-connect" not in notice and "liveops-rows" not in frames[0]
    return notice


async def test_a_list_socket_after_logout_closes_4403_with_a_notice_for_the_list(
    user, anonymous, report
):
    comm = await follow_list(anonymous, token_user=user)  # the page's token, signed out since
    frames, code = await closed_with(comm)
    assert code == 4403
    notice = only_the_list_notice(frames, 4403)
    assert "unavailable for this account" in notice
    assert f"testapp-report-{report.pk}" not in frames[0]


async def test_an_expired_list_token_closes_4410_with_a_notice_for_the_list(user, monkeypatch):
    from django.core import signing

    monkeypatch.setattr(signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(1))
    token = make_list_token(user)
    monkeypatch.undo()
    comm = WebsocketCommunicator(
        LiveOperationConsumer.as_asgi(), f"/asgi/notifications/?subscription_token={token}"
    )
    comm.scope["user"] = user
    assert (await comm.connect(timeout=TIMEOUT))[0]
    frames, code = await closed_with(comm)
    assert code == 4410
    assert "reload the page" in only_the_list_notice(frames, 4410)
