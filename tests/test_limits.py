"""Slots per visitor: what the consumer (and any later transport) counts against."""

from __future__ import annotations

import threading

from django.contrib.auth.models import AnonymousUser
from django.test.utils import override_settings

from liveops_htmx.serverside.limits import Slots, visitor_key


def test_a_visitor_is_the_user_else_the_session_else_the_address(user):
    assert visitor_key(user, "sess", "10.0.0.1") == f"user:{user.pk}"
    assert visitor_key(AnonymousUser(), "sess", "10.0.0.1") == "session:sess"
    assert visitor_key(AnonymousUser(), None, "10.0.0.1") == "client:10.0.0.1"
    assert visitor_key(None, None, None) == "anonymous"


def test_slots_are_counted_per_visitor_up_to_the_limit():
    slots = Slots()
    assert slots.acquire("a", 2) and slots.acquire("a", 2)
    assert not slots.acquire("a", 2)
    assert slots.acquire("b", 2)
    slots.release("a")
    assert slots.held("a") == 1 and slots.acquire("a", 2)
    assert all(slots.acquire("c") for _ in range(1000))  # no limit


@override_settings(LIVEOPS={"SOCKETS_PER_USER": 1})
def test_a_stream_holds_a_slot_for_its_life():
    slots = Slots()
    with slots.hold("a") as first:
        assert first
        with slots.hold("a") as second:
            assert not second
        assert slots.held("a") == 1
    assert slots.held("a") == 0


def test_slots_are_safe_across_threads():
    slots = Slots()
    admitted = []

    def take():
        admitted.append(slots.acquire("a", 50))

    threads = [threading.Thread(target=take) for _ in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert admitted.count(True) == 50 and slots.held("a") == 50
