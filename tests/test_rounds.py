"""Hub rounds: after a long round of sends, pushes wait and merge instead of queueing."""

from __future__ import annotations

import asyncio
import time

from liveops_htmx.serverside import fanout
from liveops_htmx.serverside.fanout import Fanout, Viewer
from tests.helpers import push, synced


def busy(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


class Socket:
    def __init__(self, cost):
        self.cost = cost
        self.frames = []

    async def send_frame(self, text):
        busy(self.cost)  # compressing and writing a frame costs the server CPU
        self.frames.append(text)

    async def end(self, code):
        pass


async def hub_with(count, cost):
    h = Fanout(asyncio.get_running_loop())
    sockets = []
    for _ in range(count):
        viewer = Viewer(Socket(cost), synced(1))
        viewer.admitted = True
        h.viewers.add(viewer)
        sockets.append(viewer.socket)
    return h, sockets


async def settled(h):
    while not h.settled:
        await asyncio.sleep(0.005)


async def test_pushes_during_the_pause_after_a_long_round_merge_into_one_frame():
    h, sockets = await hub_with(40, 0.002)  # a round of 80 ms
    loop = asyncio.get_running_loop()
    h.deliver(push(2))
    loop.call_later(0.010, h.deliver, push(3))  # runs once the round is over: waits
    loop.call_later(0.100, h.deliver, push(4))  # within the 40 ms pause: merges
    await settled(h)
    h.stop()
    # Without the pause each viewer would get all three, the lag growing each round.
    assert [s.frames for s in sockets] == [["<p2>", "<p4>"]] * 40


async def test_short_rounds_never_wait():
    h, sockets = await hub_with(3, 0)
    for seq in (2, 3, 4):
        h.deliver(push(seq))
        await asyncio.sleep(0.02)  # far longer than any pause a short round could cause
    await settled(h)
    h.stop()
    assert h._next_round == 0.0
    assert [s.frames for s in sockets] == [["<p2>", "<p3>", "<p4>"]] * 3


async def test_a_push_that_arrives_mid_round_reaches_the_viewers_not_yet_served(monkeypatch):
    monkeypatch.setattr(fanout, "ROUND_SLICE", 10)
    h, sockets = await hub_with(40, 0.002)  # four slices of 20 ms
    loop = asyncio.get_running_loop()
    h.deliver(push(2))
    loop.call_later(0.010, h.deliver, push(3))  # during the first slice
    await settled(h)
    h.stop()
    got = sorted(tuple(s.frames) for s in sockets)
    # Served before it arrived: push 2, then push 3 in the next round. Not yet served:
    # push 3 in this round (merged over 2). Without slices all 40 would get both.
    assert set(got) == {("<p2>", "<p3>"), ("<p3>",)}
    assert got.count(("<p3>",)) >= 10


async def test_a_round_slices_its_sends_but_the_result_goes_out_in_one_turn(monkeypatch):
    monkeypatch.setattr(fanout, "ROUND_SLICE", 10)
    # Slicing, not the pause: on a busy machine four turns can outlast ROUND_FREE, and
    # the terminal push would then wait out the pause instead of opening a round.
    monkeypatch.setattr(fanout, "ROUND_FREE", float("inf"))
    h, sockets = await hub_with(40, 0)
    h.deliver(push(2))
    assert h._round is not None and len(h._round) == 30  # the first slice only
    await settled(h)
    h.deliver(push(3, terminal=True))
    assert h._round is not None and len(h._round) == 0  # everyone, in this turn
    await settled(h)
    h.stop()
    assert [s.frames[-1] for s in sockets] == ["<p3>"] * 40
