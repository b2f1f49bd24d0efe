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
