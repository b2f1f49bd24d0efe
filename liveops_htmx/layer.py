"""The channel layer live operations use, and which event loops listen on it.

Both sides of the flow meet here: the worker side publishes on the layer, the server
side subscribes to it. The in-memory layer keeps its queues on the loop of the
process that serves the sockets, so a worker thread must send on that loop: the
server side says which loops listen (:func:`listen`), the worker side asks
(:func:`listening_loops`).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Mapping
from typing import Any

from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from liveops_htmx.conf import conf


def configured_layer() -> BaseChannelLayer | None:
    """The layer named by ``LIVEOPS["CHANNEL_LAYER"]``, or None if there is none."""
    layer: BaseChannelLayer | None = get_channel_layer(conf.CHANNEL_LAYER)
    return layer


def require_layer() -> BaseChannelLayer:
    """The configured layer; a clear error where the project has none."""
    layer = configured_layer()
    if layer is None:
        raise ImproperlyConfigured(
            f"No channel layer {conf.CHANNEL_LAYER!r} in CHANNEL_LAYERS: "
            "live operations need one (the in-memory layer is enough for one process)."
        )
    return layer


def hosts_of(config: Mapping[str, Any]) -> list[Any]:
    """The Redis servers of a layer's ``CONFIG`` (channels_redis's default: one, local)."""
    hosts = config.get("hosts")
    return list(hosts) if isinstance(hosts, (list, tuple)) and hosts else ["redis://localhost:6379"]


def host_count(layer: BaseChannelLayer) -> int:
    """How many servers ``layer`` is sharded over: the ``hosts`` of its settings.

    Known for the configured layer only (read from ``CHANNEL_LAYERS``, not from the
    layer's internals); another layer counts as one server.
    """
    if layer is not configured_layer():
        return 1
    config = (getattr(settings, "CHANNEL_LAYERS", None) or {}).get(conf.CHANNEL_LAYER) or {}
    return len(hosts_of(config.get("CONFIG") or {}))


def loop_bound(layer: BaseChannelLayer) -> bool:
    """True for a layer whose queues live on the listening process's event loop."""
    return isinstance(layer, InMemoryChannelLayer)


_lock = threading.Lock()
_listeners: weakref.WeakKeyDictionary[BaseChannelLayer, set[asyncio.AbstractEventLoop]]
_listeners = weakref.WeakKeyDictionary()


def listen(layer: BaseChannelLayer, loop: asyncio.AbstractEventLoop) -> None:
    """Record that ``loop`` receives from loop-bound ``layer``."""
    with _lock:
        _listeners.setdefault(layer, set()).add(loop)


def unlisten(layer: BaseChannelLayer, loop: asyncio.AbstractEventLoop) -> None:
    with _lock:
        _listeners.get(layer, set()).discard(loop)


def listening_loops(layer: BaseChannelLayer) -> list[asyncio.AbstractEventLoop]:
    """The open loops that receive from loop-bound ``layer``."""
    with _lock:
        return [loop for loop in _listeners.get(layer, ()) if not loop.is_closed()]
