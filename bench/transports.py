"""Latency and fan-out per transport of liveops-htmx: WebSocket, and the HTTP ones if present.

One operation, ``viewers`` viewers in client processes, ``rate`` updates a second for
``seconds``, then the result (as :mod:`bench.many` measures it): staleness p50/p99,
server CPU per delivered frame, every viewer's result. The WebSocket path always
runs. Server-Sent Events (``…/events/``) and polling (``…/poll/``) run when the
installed package serves them (``liveops_htmx.transport_views``); until then their
rows say so.

Their viewers: :mod:`bench.sseclient` reads the event stream, :mod:`bench.poller`
polls every ``POLL_INTERVAL`` (2 s, its default) with the ``since=`` of the last answer.

TODO: the HTTP transports are not in this branch's ``liveops_htmx/urls.py`` yet. Their
rows run by themselves once they are; until then the clients were tried against the
branch that has them, outside this repository's history.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from bench import many
from bench.systems import Live

#: transport -> the client module of its viewers
CLIENTS = {"websocket": "bench.wsclient", "sse": "bench.sseclient", "poll": "bench.poller"}


def served() -> bool:
    """True when the installed liveops_htmx has the HTTP transports' views."""
    return importlib.util.find_spec("liveops_htmx.transport_views") is not None


def measure(
    live: Live,
    viewers: int,
    rate: float,
    seconds: float,
    *,
    procs: int,
    size: int = 0,
    around: Callable[[], AbstractContextManager[Any]] = nullcontext,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for transport, client in CLIENTS.items():
        if transport != "websocket" and not served():
            rows.append({"transport": transport, "skipped": "not in this liveops_htmx"})
            continue
        res = many.measure(
            live,
            1,
            viewers,
            rate,
            seconds,
            workers=1,
            procs=procs,
            size=size,
            client=client,
            transport=transport,
            around=around,
        )
        rows.append({"transport": transport, **res})
    return rows
