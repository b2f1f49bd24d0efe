"""The thread runner is live on the in-memory layer: a real ASGI server in this process,
a real WebSocket client, the operation started through a real HTTP request."""

from __future__ import annotations

import re

import pytest
from websockets.sync.client import connect

from liveops_htmx.security import make_subscription_token
from tests.processes import InProcessServer, until
from tests.testapp.models import Paced

pytestmark = pytest.mark.django_db(transaction=True)


def frames_until_close(ws, timeout=10):
    frames = []
    try:
        while True:
            frames.append(ws.recv(timeout=timeout))
    except Exception as exc:  # ConnectionClosedOK ends the stream
        return frames, getattr(exc, "rcvd", None) and exc.rcvd.code


def test_the_thread_runner_is_live_on_the_in_memory_layer(client, anonymous):
    op = Paced.objects.create(steps=8, delay=0.05)
    with InProcessServer() as server:
        token = make_subscription_token(anonymous, op)
        url = f"ws://{server.host}/asgi/notifications/?subscription_token={token}"
        with connect(url, origin=f"http://{server.host}") as ws:
            snapshot = ws.recv(timeout=5)
            assert "Pending" in snapshot
            op.start("thread")  # from this thread: the worker is another one
            frames, code = frames_until_close(ws)
    assert code == 1000
    text = "".join(frames)
    assert "Warming up" in text
    lines = [int(n) for n in re.findall(r'<li value="(\d+)">line', text)]
    assert lines == list(range(1, 9))
    assert "8 steps" in frames[-1]
    assert len(frames) >= 4  # live, step by step, not one snapshot at the end
    until(lambda: Paced.objects.get(pk=op.pk).state == "succeeded", 5, "the row")
