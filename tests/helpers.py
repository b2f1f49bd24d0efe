"""What the test modules share: driving sockets and workers, and building pushes."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from liveops_htmx.consumers import LiveOperationConsumer
from liveops_htmx.progress import WebProgress
from liveops_htmx.security import make_subscription_token
from liveops_htmx.serverside.outbox import Outbox, Snapshot

# -- sockets and workers -------------------------------------------------------------

TIMEOUT = 3


def socket(token, user):
    path = "/asgi/notifications/"
    if token is not None:
        path += f"?subscription_token={token}"
    comm = WebsocketCommunicator(LiveOperationConsumer.as_asgi(), path)
    comm.scope["user"] = user
    return comm


async def follow(op, user, token_user=None):
    token = await sync_to_async(make_subscription_token)(token_user or user, op)
    comm = socket(token, user)
    connected, _ = await comm.connect(timeout=TIMEOUT)
    assert connected
    return comm


async def closed_with(comm):
    """Read frames until the close; return (frames, code)."""
    frames = []
    while True:
        out = await comm.receive_output(timeout=TIMEOUT)
        if out["type"] == "websocket.close":
            return frames, out.get("code")
        frames.append(out["text"])


class worker:  # reads as a verb at the call sites
    """A WebProgress driven from a thread, as a worker would."""

    def __init__(self, op):
        self.p = WebProgress(op)

    def __call__(self, name, *args, **kwargs):
        return database_sync_to_async(getattr(self.p, name))(*args, **kwargs)


class HttpStream:
    """A GET to the test project's ASGI application, read as the server writes it.

    For event streams: :meth:`events` parses what came so far into the data of each
    message (comments left out); :meth:`disconnect` is the client going away.
    :meth:`close_all` ends every one a test opened (a fixture's teardown).
    """

    opened: list[HttpStream] = []

    def __init__(self, path, cookie=""):
        from urllib.parse import urlsplit

        from asgiref.testing import ApplicationCommunicator

        from tests.asgi import application

        url = urlsplit(path)
        headers = [(b"host", b"testserver")]
        if cookie:
            headers.append((b"cookie", cookie.encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": url.path,
            "raw_path": url.path.encode(),
            "query_string": url.query.encode(),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        self.comm = ApplicationCommunicator(application, scope)
        self.status = None
        self.headers = {}
        self.body = ""
        self.ended = False

    async def open(self):
        await self.comm.send_input({"type": "http.request", "body": b"", "more_body": False})
        start = await self.comm.receive_output(TIMEOUT)
        assert start["type"] == "http.response.start", start
        self.status = start["status"]
        self.headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
        HttpStream.opened.append(self)
        return self

    async def read(self, timeout=TIMEOUT):
        """Wait for the next piece of the body; False once the response has ended."""
        if self.ended:
            return False
        out = await self.comm.receive_output(timeout)
        self.body += out.get("body", b"").decode()
        self.ended = not out.get("more_body", False)
        return not self.ended

    async def read_until_end(self, timeout=TIMEOUT):
        while await self.read(timeout):
            pass
        await self.comm.wait(timeout)  # the application finishes the request
        return self.events()

    async def read_events(self, count, timeout=TIMEOUT):
        """Read until at least ``count`` messages came; return all of them."""
        while len(self.events()) < count and await self.read(timeout):
            pass
        return self.events()

    def events(self):
        messages = []
        for block in self.body.split("\n\n")[:-1]:
            lines = [line for line in block.split("\n") if line.startswith("data:")]
            data = [line[5:].removeprefix(" ") for line in lines]
            if data:
                messages.append("\n".join(data))
        return messages

    async def disconnect(self):
        await self.comm.send_input({"type": "http.disconnect"})
        await self.comm.wait(TIMEOUT)
        self.ended = True

    async def close(self):
        if self.ended:
            await self.comm.wait(TIMEOUT)
        else:
            await self.disconnect()

    @classmethod
    async def close_all(cls):
        while cls.opened:
            await cls.opened.pop().close()


async def session_cookie(user):
    """The cookie of a session signed in as ``user``."""
    from django.test import AsyncClient

    client = AsyncClient()
    await client.aforce_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


# -- pushes and outboxes ---------------------------------------------------------------


def push(seq, parts=None, log=(), *, lifecycle=False, terminal=False, base=None, milestone=None):
    parts = parts if parts is not None else {"progress": f"<p{seq}>"}
    html = "".join(parts.values()) + "".join(c[2] for c in log)
    return {
        "type": "liveop.update",
        "seq": seq,
        "base": seq - 1 if base is None else base,
        "parts": parts,
        "log": list(log),
        "liveop_html": html,
        "lifecycle": lifecycle,
        **({} if milestone is None else {"milestone": milestone}),
        "terminal": terminal,
    }


def snap(seq, last_line=0, terminal=False):
    return Snapshot(seq=seq, parts={"status": f"<s{seq}>"}, last_line=last_line, terminal=terminal)


def synced(seq=1, last_line=0):
    box = Outbox()
    box.offer_snapshot(snap(seq, last_line))
    box.pop()
    return box


# -- waiting for conditions, never for a fixed time --------------------------------------


def wait_until(condition, timeout=10.0, what="the condition"):
    """Poll ``condition`` until it is true; fail after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


async def eventually(condition, timeout=10.0, what="the condition"):
    """``wait_until`` for a test running on the event loop."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
