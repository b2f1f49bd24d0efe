from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest
from channels.layers import InMemoryChannelLayer
from django.test.utils import override_settings

from liveops_htmx import layer as layers
from liveops_htmx.testing import CapturingChannelLayer
from liveops_htmx.workerside import publisher as publisher_module
from liveops_htmx.workerside.publisher import Publisher


@pytest.fixture
def pub():
    return Publisher()


def test_pushes_arrive_in_order_and_publish_does_not_wait(pub):
    layer = CapturingChannelLayer()
    started = time.perf_counter()
    for i in range(2000):
        pub.publish(layer, "g", {"type": "x", "i": i}, essential=False)
    per_call = (time.perf_counter() - started) / 2000
    assert pub.flush(5)
    assert [m["i"] for m in layer.messages("g", type="x")] == list(range(2000))
    assert pub.stats["sent"] == 2000
    assert per_call < 0.001  # queuing, not sending


def test_a_failing_layer_is_counted_and_logged_once_not_per_push(pub, caplog):
    layer = CapturingChannelLayer()
    layer.failure = ConnectionError("down")
    with caplog.at_level(logging.WARNING, logger="liveops_htmx.workerside.publisher"):
        for i in range(5):
            pub.publish(layer, "g", {"type": "x", "i": i}, essential=True)
        assert pub.flush(5)
    assert pub.stats["failed"] == 5
    assert len(caplog.records) == 1


class SlowLayer(CapturingChannelLayer):
    async def group_send(self, group, message):
        await asyncio.sleep(1)


@override_settings(LIVEOPS={"PUBLISH_TIMEOUT": 0.05})
def test_a_hanging_send_times_out_as_a_failure(pub):
    pub.publish(SlowLayer(), "g", {"type": "x"}, essential=True)
    assert pub.flush(2)
    assert pub.stats["failed"] == 1


@override_settings(LIVEOPS={"PUBLISH_QUEUE_MAX": 3, "PUBLISH_TIMEOUT": 5})
def test_a_full_queue_drops_progress_but_never_lifecycle_pushes(pub):
    layer = SlowLayer()
    for _ in range(5):
        pub.publish(layer, "g", {"type": "x"}, essential=False)
    pub.publish(layer, "g", {"type": "x", "essential": True}, essential=True)
    assert pub.stats["dropped"] == 2
    assert pub.pending == 4
    assert not pub.flush(0.01)


def test_the_in_memory_layer_with_no_listening_loop_is_unheard(pub):
    layer = InMemoryChannelLayer()
    pub.publish(layer, "g", {"type": "x"}, essential=True)
    assert pub.stats["unheard"] == 1
    assert pub.flush(0.1)


async def test_the_in_memory_layer_is_sent_on_the_loop_that_listens(pub):
    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    loop = asyncio.get_running_loop()
    layers.listen(layer, loop)
    # Publish from another thread, as a worker thread of this process would.
    await asyncio.to_thread(pub.publish, layer, "g", {"type": "x", "n": 1}, essential=True)
    assert (await asyncio.wait_for(layer.receive(channel), 2))["n"] == 1
    for _ in range(100):
        await asyncio.sleep(0.01)
        if pub.flush(10):
            break
    assert pub.stats["sent"] == 1
    layers.unlisten(layer, loop)
    pub.publish(layer, "g", {"type": "x"}, essential=True)
    assert pub.stats["unheard"] == 1


@override_settings(LIVEOPS={"PUBLISH_TIMEOUT": 5})
async def test_flush_on_an_event_loop_answers_at_once_and_never_blocks(pub):
    pub.publish(SlowLayer(), "g", {"type": "x"}, essential=True)
    started = time.perf_counter()
    assert not pub.flush(10)
    assert time.perf_counter() - started < 0.5


async def test_a_closed_loop_is_no_target(pub):
    layer = InMemoryChannelLayer()
    dead = asyncio.new_event_loop()
    dead.close()
    layers.listen(layer, dead)
    pub.publish(layer, "g", {"type": "x"}, essential=True)
    assert pub.stats["unheard"] == 1


def test_a_forked_child_starts_a_publisher_of_its_own():
    first = publisher_module.get_publisher()
    publisher_module._forget_after_fork()
    second = publisher_module.get_publisher()
    assert first is not second
    publisher_module._flush_at_exit()


class Held(CapturingChannelLayer):
    """Holds a send to the group "hold" until released: pushes queue up behind it."""

    def __init__(self):
        super().__init__()
        self.holding = threading.Event()
        self.release = threading.Event()

    async def group_send(self, group, message):
        if group == "hold":
            self.holding.set()
            await asyncio.to_thread(self.release.wait, 5)
        await super().group_send(group, message)


def push(seq, log_line, *, milestone=False):
    chunk = (log_line, log_line, f"<l{log_line}>")
    return {
        "type": "liveop.update",
        "group": "g",
        "seq": seq,
        "base": seq - 1,
        "parts": {"progress": f"<p{seq}>"},
        "log": [chunk],
        "liveop_html": f"<p{seq}><l{log_line}>",
        "lifecycle": milestone,
        "milestone": milestone,
        "terminal": False,
    }


def test_pushes_that_wait_for_their_group_merge_and_nothing_but_old_parts_is_lost(pub):
    layer = Held()
    pub.publish(layer, "hold", push(1, 1), essential=False)
    assert layer.holding.wait(5)
    for seq in range(1, 8):  # queued while the layer is busy
        pub.publish(layer, "g", push(seq, seq, milestone=seq == 4), essential=False)
    layer.release.set()
    assert pub.flush(5)
    sent = layer.messages("g")
    # Up to the milestone (4) in one push, which a later push never merges past.
    assert [(m["base"], m["seq"]) for m in sent] == [(0, 4), (4, 7)]
    assert sent[0]["milestone"] and not sent[1]["milestone"]
    assert [chunk[0] for m in sent for chunk in m["log"]] == list(range(1, 8))
    assert sent[-1]["parts"] == {"progress": "<p7>"}
    assert pub.stats["merged"] == 5 and pub.stats["sent"] == 3  # with the held one
