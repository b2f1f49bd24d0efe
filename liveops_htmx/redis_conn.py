"""A connection of the layer's own pool, held for the publisher's or the inbox's commands.

redis-py's client takes a connection from its pool for every command, records pool
metrics, and bounds the write with ``asyncio.wait_for`` (a task of its own before
Python 3.12) and the read with a timeout context: a PING after an idle pause cost
0.38 ms through the client and 0.19 ms on a connection held apart (measured alone;
a push's end-to-end latency showed no difference beyond noise, bench/README.md).
The group sender and the inbox send one command at a time on a loop, so each holds
a connection taken from the layer's pool for that loop (same host, password, TLS
and database; closed with the pool when the layer flushes or the loop closes) and
bounds each whole command with its own timeout instead of the socket's. Holding it
also lets a command that finds it broken (Redis restarted) go out again on a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError


async def hold(client: Any) -> Any:
    """A connection of ``client``'s pool, connected, for the caller to keep."""
    pool = client.connection_pool
    try:
        conn = await pool.get_connection()
    except TypeError:  # pragma: no cover - redis-py before 5.3 wants a command name
        conn = await pool.get_connection("PING")
    # The caller bounds each command; a socket timeout would add a task per write and
    # a timer per read.
    conn.socket_timeout = None
    return conn


async def give_back(client: Any, conn: Any) -> None:
    """Close ``conn`` (it may hold an unread reply) and return it to ``client``'s pool."""
    # Also called from a reading task's cleanup as its loop shuts down.
    with contextlib.suppress(Exception):
        await conn.disconnect(nowait=True)
        await client.connection_pool.release(conn)


class Line:
    """One held connection of ``layer``'s pool on the running loop; one command at a time.

    ``client`` returns the running loop's redis-py client of the layer; by default
    that of a ``RedisChannelLayer`` (``layer.connection(0)``).
    """

    def __init__(self, layer: Any, client: Callable[[], Any] | None = None) -> None:
        self.layer = layer
        self._client_of = client or (lambda: layer.connection(0))
        self._client: Any = None
        self._conn: Any = None
        self._lock = asyncio.Lock()

    async def _connection(self) -> Any:
        client = self._client_of()
        if client is not self._client:  # first use, or the layer flushed its pools
            self._client, self._conn = client, await hold(client)
        return self._conn

    async def call(self, *args: Any, retry: bool = True) -> Any:
        """Send one command and return its reply (a Redis error reply is raised).

        With ``retry``, a connection found broken (Redis restarted since the last
        command) is reopened and the command sent once more: our commands may run twice.
        """
        async with self._lock:
            conn = await self._connection()
            try:
                return await self._roundtrip(conn, args)
            except (RedisConnectionError, OSError):
                if not retry:
                    raise
                await conn.disconnect(nowait=True)
                return await self._roundtrip(conn, args)

    @staticmethod
    async def _roundtrip(conn: Any, args: tuple[Any, ...]) -> Any:
        # On any failure (a timeout's cancel too) redis-py closes the connection; the
        # next command opens it again.
        await conn.send_packed_command(conn.pack_command(*args), check_health=False)
        return await conn.read_response()

    async def close(self) -> None:
        """Give the connection back to its pool."""
        client, conn = self._client, self._conn
        self._client = self._conn = None
        if conn is not None:
            await give_back(client, conn)
