"""The hub's error paths, on a layer that fails on request."""

from __future__ import annotations

import asyncio
import logging
import re
import time

import pytest
from channels.layers import channel_layers
from django.test.utils import override_settings

from liveops_htmx.serverside import hub, subscription
from tests.helpers import TIMEOUT, eventually, follow, socket, worker
from tests.layers import FlakyLayer

pytestmark = pytest.mark.django_db(transaction=True)

FLAKY = {"default": {"BACKEND": "tests.layers.FlakyLayer"}}


@pytest.fixture
def flaky():
    with override_settings(CHANNEL_LAYERS=FLAKY, LIVEOPS={"PUBLISH_TIMEOUT": 0.3}):
        yield
    for name in ("fail_group_add", "hang_group_add", "drop_probes"):
        setattr(FlakyLayer, name, False)
    FlakyLayer.receive_failures = 0
    FlakyLayer.discard_failures = 0
    FlakyLayer.group_adds = 0
    channel_layers.backends.clear()


@override_settings(LIVEOPS={"WATCHDOG_INTERVAL": 0.1, "PUBLISH_TIMEOUT": 0.3})
async def test_a_layer_that_refuses_the_join_serves_the_row_until_it_is_back(
    flaky, report, user, caplog, monkeypatch
):
    monkeypatch.setattr(subscription, "FIRST_TRIES", (0.01,))
    FlakyLayer.fail_group_add = True
    call = worker(report)
    comm = await follow(report, user)
    assert "Pending" in await comm.receive_from(timeout=TIMEOUT)  # the snapshot, no close
    await call("start")  # pushed to nobody: the row is reread while the layer is down
    assert "Running" in await comm.receive_from(timeout=TIMEOUT)
    FlakyLayer.fail_group_add = False  # the layer is back: the next try joins
    (the_hub,) = hub.hubs()
    while not the_hub.subscription.joined:
        await asyncio.sleep(0.05)
    await call("status", "live again")
    assert "live again" in await comm.receive_from(timeout=TIMEOUT)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    await comm.disconnect()


@override_settings(LIVEOPS={"PUBLISH_TIMEOUT": 1.0})
async def test_a_layer_that_does_not_answer_holds_the_first_snapshot_one_try_at_most(
    flaky, report, user
):
    """A black hole between the server and Redis: each try to join waits PUBLISH_TIMEOUT.

    Found by tests/test_faults.py: the first viewer of an operation waited for all the
    first tries (3 x PUBLISH_TIMEOUT and the pauses, 7 s by default) for its snapshot.
    """
    FlakyLayer.hang_group_add = True
    loop = asyncio.get_running_loop()
    began = loop.time()
    call = worker(report)
    comm = await follow(report, user)
    assert "Pending" in await comm.receive_from(timeout=5)
    assert loop.time() - began < 2.0  # one try, not three
    FlakyLayer.hang_group_add = False  # Redis answers again: a later try joins
    (the_hub,) = hub.hubs()
    await eventually(lambda: the_hub.subscription.joined, what="the join")
    await call("start")
    frame = ""
    while "Running" not in frame:
        frame = await comm.receive_from(timeout=TIMEOUT)
    await comm.disconnect()


async def test_an_unconfirmed_subscription_warns_and_still_serves(flaky, report, user, caplog):
    FlakyLayer.drop_probes = True
    call = worker(report)
    with caplog.at_level(logging.WARNING, logger="liveops_htmx.serverside"):
        comm = await follow(report, user)
        await comm.receive_from(timeout=TIMEOUT)
    assert "not confirmed" in caplog.text
    await call("start")
    assert "Running" in await comm.receive_from(timeout=TIMEOUT)
    await comm.disconnect()


async def test_a_receive_failure_is_retried_and_healed_from_the_database(flaky, report, user):
    call = worker(report)
    comm = await follow(report, user)
    await comm.receive_from(timeout=TIMEOUT)
    FlakyLayer.receive_failures = 2  # the receive under way succeeds, the next two fail
    await call("start")
    assert "Running" in await comm.receive_from(timeout=TIMEOUT)
    await call("status", "after the outage")
    assert "after the outage" in await comm.receive_from(timeout=TIMEOUT)
    assert FlakyLayer.receive_failures == 0
    assert FlakyLayer.group_adds >= 2  # joined again after the failures
    await comm.disconnect()


@override_settings(LIVEOPS={"WATCHDOG_INTERVAL": 0.05})
async def test_memberships_are_renewed(flaky, report, user, monkeypatch):
    monkeypatch.setattr(subscription, "REJOIN_EVERY", 0.1)
    comm = await follow(report, user)
    await comm.receive_from(timeout=TIMEOUT)
    before = FlakyLayer.group_adds
    await eventually(lambda: FlakyLayer.group_adds > before, what="a renewal")
    await comm.disconnect()


async def steady_then_quiet(report, user, monkeypatch):
    """A viewer of an operation that pushed three times, 30 ms apart, then stopped; the
    times of the row's reads from then on (a silence is checked after 0.3 s here)."""
    from liveops_htmx.serverside import snapshots

    monkeypatch.setattr(subscription, "SILENCE_MIN", 0.3)
    # The floor decides, however slow a busy machine made the ticks (ten gaps of 50 ms
    # would move the check to 0.5 s, into what the tests below block or wait).
    monkeypatch.setattr(subscription, "SILENCE_FACTOR", 1.0)
    reads = []
    real_fetch = snapshots.fetch

    def counted(label, pk):
        reads.append(time.monotonic())
        return real_fetch(label, pk)

    monkeypatch.setattr(snapshots, "fetch", counted)
    call = worker(report)
    comm = await follow(report, user)
    await comm.receive_from(timeout=TIMEOUT)
    for k in range(3):
        await call("status", f"tick {k}")
        assert f"tick {k}" in await comm.receive_from(timeout=TIMEOUT)
        await asyncio.sleep(0.03)
    reads.clear()
    return comm, reads


async def test_a_steady_operation_gone_quiet_is_reread_once_and_not_rejoined_if_it_stood_still(
    flaky, report, user, monkeypatch
):
    """An unusual silence costs one read of the row; the row did not move, so the
    membership is left alone (and the check waits for a new cadence to be learnt)."""
    comm, reads = await steady_then_quiet(report, user, monkeypatch)
    quiet_from, adds = time.monotonic(), FlakyLayer.group_adds
    await asyncio.sleep(1.5)  # five times the shortest silence checked
    assert len(reads) == 1 and 0.25 < reads[0] - quiet_from < 0.6, reads
    assert FlakyLayer.group_adds == adds
    assert await comm.receive_nothing(timeout=0.1)  # the viewer was current: nothing to send
    await comm.disconnect()


async def test_a_silence_the_busy_loop_caused_is_counted_afresh(flaky, report, user, monkeypatch):
    """A server too busy to run its tasks hears nothing either: checking every hub once
    it wakes would add to the load, so the silence counts again from then."""
    comm, reads = await steady_then_quiet(report, user, monkeypatch)
    time.sleep(0.8)  # noqa: ASYNC251 - the point: the loop is blocked past the check
    woke = time.monotonic()
    await asyncio.sleep(0.2)
    assert reads == []  # not at once
    await asyncio.sleep(0.4)
    assert len(reads) == 1 and reads[0] - woke > 0.25, [r - woke for r in reads]
    await comm.disconnect()


@override_settings(LIVEOPS={"WATCHDOG_INTERVAL": 60, "PUBLISH_TIMEOUT": 0.3})
async def test_a_steady_operation_whose_membership_is_forgotten_is_followed_again_in_seconds(
    flaky, report, user
):
    """A restarted Redis shard forgets the groups it held, while this server may receive
    from the other shard and see no error. An operation that went quiet far beyond its
    usual gap is checked: the row moved on, so the membership is renewed, long before the
    watchdog's minute here. The discard below is that loss, through the layer's API
    (scenario 9 of the benchmark measures it with a real shard restarted)."""
    comm = await follow(report, user)
    assert "Pending" in await comm.receive_from(timeout=TIMEOUT)
    push = worker(report)
    for k in range(4):  # a steady cadence, 0.1 s apart
        await push("status", f"tick {k}")
        await asyncio.sleep(0.1)
    (followed,) = hub.hubs()
    layer = channel_layers["default"]
    await layer.group_discard(followed.group, followed.subscription.inbox.channel)
    forgotten = time.monotonic()

    async def keep_pushing():
        for k in range(4, 200):
            await push("status", f"tick {k}")
            await asyncio.sleep(0.1)

    ticking = asyncio.create_task(keep_pushing())
    reread = live = None  # seconds after the loss: the row reread, a push heard again
    seen = []  # (seconds after the loss, snapshot or push, newest tick): for the message
    try:
        while live is None and time.monotonic() - forgotten < 10:
            frame = await comm.receive_from(timeout=10)
            ticks = [int(n) for n in re.findall(r"tick (\d+)", frame)]
            snapshot = f'id="op-result-{report.pk}"' in frame  # every part
            seen.append((round(time.monotonic() - forgotten, 2), snapshot, max(ticks or [-1])))
            if not ticks or max(ticks) < 4:
                continue
            if snapshot:
                reread = reread or time.monotonic() - forgotten
            else:
                live = time.monotonic() - forgotten
    finally:
        ticking.cancel()
        await asyncio.gather(ticking, return_exceptions=True)
    await comm.disconnect()
    assert live is not None, seen
    assert reread is not None and reread < subscription.SILENCE_MIN + 1.5, seen
    assert live < subscription.SILENCE_MIN + 2.5, seen


async def test_a_viewer_leaving_while_subscribing_does_not_leak_the_hub(flaky, report, user):
    FlakyLayer.drop_probes = True  # keep the hub waiting for its probe
    from liveops_htmx.security import make_subscription_token

    comm = socket(make_subscription_token(user, report), user)
    task = asyncio.ensure_future(comm.connect(timeout=TIMEOUT))
    await eventually(lambda: hub.hubs() != [], what="the hub")
    await comm.disconnect()
    await asyncio.gather(task, return_exceptions=True)
    await eventually(lambda: hub.hubs() == [], what="the hub to stop")


async def test_a_leave_the_layer_failed_is_tried_again(flaky, report, user, monkeypatch):
    """A membership whose discard failed (Redis unreachable) must not stay a day in Redis.

    Found by tests/test_faults.py: the last viewer left while the server's connection
    to Redis was cut, and the group kept the server's channel.
    """
    monkeypatch.setattr(subscription, "LEAVE_RETRIES", (0.01, 0.01))
    comm = await follow(report, user)
    await comm.receive_from(timeout=TIMEOUT)
    layer = channel_layers["default"]
    (group,) = [g for g in layer.groups if g.startswith("liveop.")]
    FlakyLayer.discard_failures = 2  # the first leave and one retry fail
    await comm.disconnect()
    await eventually(lambda: not layer.groups.get(group), what="the membership to go")
    assert FlakyLayer.discard_failures == 0


async def test_a_hub_stopped_while_rejoining_still_leaves_the_group(flaky, report, user):
    """The membership the layer holds from the first join outlives a failed rejoin.

    Found by tests/test_faults.py: a cut made the receive fail and the rejoin fail;
    the last viewer left meanwhile and the hub, no longer "joined", never left.
    """
    call = worker(report)
    comm = await follow(report, user)
    await comm.receive_from(timeout=TIMEOUT)
    layer = channel_layers["default"]
    (group,) = [g for g in layer.groups if g.startswith("liveop.")]
    (the_hub,) = hub.hubs()
    FlakyLayer.fail_group_add = True  # Redis is down: the rejoin fails too
    FlakyLayer.receive_failures = 1  # the receive under way succeeds, the next fails
    await call("start")
    await eventually(lambda: not the_hub.subscription.joined, what="the failed rejoin")
    await comm.disconnect()
    await eventually(lambda: not layer.groups.get(group), what="the membership to go")


async def test_viewers_joining_together_share_one_read_of_the_row(report, user, monkeypatch):
    from liveops_htmx.serverside import snapshots

    reads = []
    real_fetch = snapshots.fetch

    def counted(label, pk):
        reads.append(pk)
        return real_fetch(label, pk)

    monkeypatch.setattr(snapshots, "fetch", counted)
    comms = await asyncio.gather(*(follow(report, user) for _ in range(20)))
    frames = await asyncio.gather(*(c.receive_from(timeout=TIMEOUT) for c in comms))
    assert all(f'id="op-status-{report.pk}"' in f for f in frames)
    assert 1 <= len(reads) < 10  # one read per batch, not one per viewer
    for comm in comms:
        await comm.disconnect()


async def test_a_read_under_way_is_not_joined_by_a_later_caller(report, user):
    import threading

    from liveops_htmx.serverside.snapshots import OperationSubject

    comm = await follow(report, user)
    await comm.receive_from(timeout=TIMEOUT)
    (the_hub,) = hub.hubs()
    spans = {}
    reading = threading.Event()

    def slow(name):
        def run():
            began = time.monotonic()
            reading.set()
            time.sleep(0.1)
            spans[name] = (began, time.monotonic())
            return name

        return run

    first = asyncio.ensure_future(the_hub.read(slow("first")))
    await asyncio.to_thread(reading.wait, TIMEOUT)  # the first batch is in its thread now
    assert await the_hub.read(slow("second")) == "second"
    assert await first == "first"
    assert spans["second"][0] >= spans["first"][1]  # began after the first read ended
    assert isinstance(the_hub.subject, OperationSubject)
    await comm.disconnect()


async def test_the_inbox_receives_on_a_plain_channel_where_the_layers_would_be_process_local(
    report, user
):
    from liveops_htmx.serverside.inbox import PLAIN_PREFIX

    comm = await follow(report, user)
    await comm.receive_from(timeout=TIMEOUT)
    (the_hub,) = hub.hubs()
    assert "!" in await the_hub.layer.new_channel()  # the in-memory layer's names are
    assert the_hub.subscription.inbox.channel.startswith(PLAIN_PREFIX)
    await comm.disconnect()


@override_settings(LIVEOPS={"WATCHDOG_INTERVAL": 0.1})
async def test_a_membership_the_layer_lost_is_renewed_after_a_silent_reread(flaky, report, user):
    """A Redis shard that restarted forgot its groups: the watchdog's reread notices."""
    call = worker(report)
    comm = await follow(report, user)
    await comm.receive_from(timeout=TIMEOUT)
    (the_hub,) = hub.hubs()
    inbox = the_hub.subscription.inbox
    await the_hub.layer.group_discard(the_hub.group, inbox.channel)  # forgotten, silently
    before = FlakyLayer.group_adds
    await call("start")  # reaches nobody; the reread after the silence shows it
    assert "Running" in await comm.receive_from(timeout=TIMEOUT)
    await eventually(lambda: FlakyLayer.group_adds > before, what="joining again")
    await call("status", "live again")
    frame = ""
    while "live again" not in frame:
        frame = await comm.receive_from(timeout=TIMEOUT)
    await comm.disconnect()
