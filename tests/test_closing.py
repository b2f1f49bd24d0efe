"""Tier 3: a finished operation's socket is closed by the page, not cut under it.

daphne (through autobahn) aborts a closing handshake its client has not answered
within a second, with a TCP reset, and a reset throws away what the client had not
read yet. A server that closed right after the last frame lost the result of every
viewer that was more than a second behind.
"""

from __future__ import annotations

import socket
import time

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.typing import Origin
from websockets.uri import parse_uri

from liveops_htmx.conf import DEFAULTS
from liveops_htmx.security import make_subscription_token
from tests import processes, services
from tests.testapp.models import Paced

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

#: The kit's own grace, read before tests/conftest.py sets it to 0 for each test.
GRACE = DEFAULTS["CLOSE_GRACE"]


class SlowReader:
    """A WebSocket client that reads only when told, as a viewer far behind would."""

    def __init__(self, host: str, path: str) -> None:
        self.frames: list[str] = []
        self.reset = False
        self.sock = socket.socket()
        # A small window, as a busy client's would be: what it has not read waits on
        # the server's side, where a reset throws it away.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(10)
        address, port = host.split(":")
        self.sock.connect((address, int(port)))
        self.ws = ClientProtocol(parse_uri(f"ws://{host}{path}"), origin=Origin(f"http://{host}"))
        self.ws.send_request(self.ws.connect())
        self.flush()
        while self.ws.state is not State.OPEN:
            self.feed(self.sock.recv(65536))

    def flush(self) -> None:
        for data in self.ws.data_to_send():
            if data and not self.reset:
                try:
                    self.sock.sendall(data)
                except ConnectionResetError:
                    self.reset = True

    def feed(self, data: bytes) -> None:
        if data:
            self.ws.receive_data(data)
        else:
            self.ws.receive_eof()
        for event in self.ws.events_received():
            if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                self.frames.append(event.data.decode())
        self.flush()

    def read_until(self, check, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not check() and time.monotonic() < deadline:
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                self.reset = True
                return
            self.feed(data)
            if not data:
                return

    def close(self) -> None:
        if self.ws.state is State.OPEN:
            self.ws.send_close(1000)
            self.flush()
        self.read_until(lambda: self.ws.state is State.CLOSED, 5)
        self.sock.close()


def test_a_viewer_seconds_behind_still_gets_the_result_on_daphne(redis_url):
    env = processes.child_env(
        str(connection.settings_dict["NAME"]),
        LIVEOPS_TEST_LAYER="pubsub",
        LIVEOPS_TEST_REDIS_URL=redis_url,
        LIVEOPS_TEST_REDIS_PREFIX=services.REDIS_PREFIX,
        LIVEOPS_TEST_CLOSE_GRACE=str(GRACE),
    )
    server = processes.daphne_server(env).start()
    worker = None
    try:
        op = Paced.objects.create(steps=60, delay=0.01)
        token = make_subscription_token(AnonymousUser(), op)
        host = f"127.0.0.1:{server.port}"
        reader = SlowReader(host, f"/asgi/notifications/?subscription_token={token}")
        reader.read_until(lambda: reader.frames)
        assert "Pending" in reader.frames[0]
        worker = processes.worker(env, op._meta.label, op.pk).start()
        assert worker.wait(30) == 0, worker.output()
        time.sleep(2.5)  # the viewer falls behind: autobahn gives a close one second
        assert GRACE > 2.5
        reader.read_until(lambda: "60 steps" in "".join(reader.frames))
        assert not reader.reset, "the server reset the connection under unread frames"
        assert "60 steps" in reader.frames[-1], f"{len(reader.frames)} frames, no result"
        reader.close()  # as the page does once the last frame swaps its socket element out
        assert reader.ws.close_rcvd is not None and reader.ws.close_rcvd.code == 1000
    finally:
        if worker is not None:
            worker.stop()
        server.stop()
