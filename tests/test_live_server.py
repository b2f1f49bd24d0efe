"""The thread runner is live on the in-memory layer: a real ASGI server in this process,
a real WebSocket client (or an event stream, or a poller), the operation started
through a real HTTP request."""

from __future__ import annotations

import re
import time

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


# -- without WebSockets -------------------------------------------------------------------


def events_of(response):
    """The data of each message of an event stream, as it arrives, until the stream ends."""
    data = []
    for raw in response:
        line = raw.decode().rstrip("\r\n")
        if line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif not line and data:
            yield "\n".join(data)
            data = []


def live_hubs():
    from liveops_htmx.serverside import hub

    return [h for hubs in list(hub._hubs.values()) for h in hubs.values()]


def steps_of(frames):
    text = "".join(frames)
    return [int(n) for n in re.findall(r'<li value="(\d+)">line', text)]


def test_the_thread_runner_is_live_over_an_event_stream(anonymous):
    from urllib.request import urlopen

    op = Paced.objects.create(steps=8, delay=0.05)
    token = make_subscription_token(anonymous, op)
    with InProcessServer() as server:
        url = f"http://{server.host}/live/testapp.paced/{op.pk}/events/?subscription_token={token}"
        with urlopen(url, timeout=10) as response:
            assert response.headers["Content-Type"] == "text/event-stream"
            events = events_of(response)
            assert "Pending" in next(events)  # the snapshot
            op.start("thread")
            frames = list(events)  # until the server ends the stream
        until(lambda: live_hubs() == [], 5, "the hub to stop")
    assert steps_of(frames) == list(range(1, 9))
    assert "8 steps" in frames[-1]
    assert frames[-1].endswith(f'<div id="op-socket-{op.pk}" hx-swap-oob="outerHTML" hidden></div>')
    assert len(frames) >= 4  # live, step by step


def test_a_stream_whose_client_leaves_stops_following(anonymous):
    from urllib.request import urlopen

    op = Paced.objects.create(steps=8)
    token = make_subscription_token(anonymous, op)
    with InProcessServer() as server:
        url = f"http://{server.host}/live/testapp.paced/{op.pk}/events/?subscription_token={token}"
        with urlopen(url, timeout=10) as response:
            next(events_of(response))
            assert len(live_hubs()) == 1
        until(lambda: live_hubs() == [], 5, "the hub of a stream nobody reads to stop")


def test_the_thread_runner_is_live_by_polling(anonymous):
    from html import unescape
    from urllib.request import urlopen

    op = Paced.objects.create(steps=8, delay=0.05)
    token = make_subscription_token(anonymous, op)
    with InProcessServer() as server:
        path = f"/live/testapp.paced/{op.pk}/poll/?subscription_token={token}&since={op.seq}"
        with urlopen(f"http://{server.host}{path}", timeout=10) as response:
            assert response.status == 204
        op.start("thread")
        frames, seqs = [], []
        while path is not None:
            time.sleep(0.02)  # the poller's interval
            with urlopen(f"http://{server.host}{path}", timeout=10) as response:
                if response.status == 204:
                    continue
                frames.append(response.read().decode())
            found = re.search(r'hx-get="([^"]+/poll/[^"]+)"', frames[-1])
            path = unescape(found[1]) if found else None
            if path is not None:
                seqs.append(int(re.search(r"since=(\d+)", path)[1]))
    assert seqs == sorted(set(seqs)) and len(seqs) >= 2  # the page moved on, never back
    assert "8 steps" in frames[-1]  # the last answer: the result, and the inert closer
    assert frames[-1].endswith(f'<div id="op-socket-{op.pk}" hx-swap-oob="outerHTML" hidden></div>')
    lines = re.findall(r'<li value="(\d+)">line', frames[-1])
    assert [int(n) for n in lines] == list(range(1, 9))  # the log, whole, in the snapshot
