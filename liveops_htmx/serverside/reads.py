"""A hub's reads of the database: batched for viewers that join, coalesced for healing.

The reads of every hub of a loop go out together (:class:`Batcher`): viewers joining
several operations at once, or hubs healing after a burst of lost pushes, share one
thread hop and one database connection instead of one each.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from channels.db import database_sync_to_async
from django.db import close_old_connections

from liveops_htmx.security import CloseCode
from liveops_htmx.serverside.fanout import Fanout
from liveops_htmx.serverside.snapshots import shared_reads

logger = logging.getLogger("liveops_htmx.serverside")
T = TypeVar("T")

#: Seconds between two rereads when heals are asked for faster than that.
RESYNC_GAP = 0.1
#: The longest pause between rereads that find the row unchanged (pushes ahead of a
#: commit: a viewer that joined during a transaction waits for the commit).
RESYNC_GAP_MAX = 2.0


class Subject(Protocol):
    """What a hub follows: a group, and how to read its snapshot from the database."""

    @property
    def group(self) -> str: ...

    def load(self) -> Any: ...  # a snapshot, or None if the subject is gone (sync: DB)


class Batcher:
    """The database reads of one loop's hubs, run in batches."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._batch: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []
        self._task: asyncio.Task[None] | None = None

    async def read(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (sync, database) in a batch that starts after this call.

        Reads in one batch share a thread hop, a database connection and (through
        :func:`~.snapshots.shared_reads`) one read of each row. A batch under way when
        a read is asked for is not joined: a viewer's read must begin after it joined
        its hub, or a push between the two would fall through the gap.
        """
        future: asyncio.Future[T] = self.loop.create_future()
        self._batch.append((fn, future))
        if self._task is None:
            self._task = self.loop.create_task(self._run())
        return await future

    async def _run(self) -> None:
        try:
            while self._batch:
                batch, self._batch = self._batch, []
                outcomes = await database_sync_to_async(_run_batch)([fn for fn, _ in batch])
                for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():  # its reader went away meanwhile
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        except BaseException as exc:  # the loop is closing, or the thread pool failed
            for _, future in self._batch:
                if not future.done():
                    future.set_exception(RuntimeError(f"reading failed: {exc!r}"))
            raise
        finally:
            self._task = None


_batchers: dict[asyncio.AbstractEventLoop, Batcher] = {}


def batcher() -> Batcher:
    """The running loop's batcher."""
    loop = asyncio.get_running_loop()
    for closed in [known for known in _batchers if known.is_closed()]:
        del _batchers[closed]
    found = _batchers.get(loop)
    if found is None:
        found = _batchers[loop] = Batcher(loop)
    return found


class Reads:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        subject: Subject,
        fanout: Fanout,
        checked: Callable[[Any], None] | None = None,
    ) -> None:
        self.loop = loop
        self.subject = subject
        self.fanout = fanout
        self.checked = checked  # told each reread snapshot (the subscription checks itself)
        self._resync: asyncio.Task[None] | None = None
        self._again = False
        self._stopped = False

    async def read(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (sync, database) in the loop's next batch of reads."""
        return await batcher().read(fn)

    def request_resync(self) -> None:
        """Read the row once for every viewer that is behind (coalesced, rate-limited)."""
        if self._stopped:
            return
        if self._resync is not None:
            self._again = True
            return
        self._resync = self.loop.create_task(self._do_resync())

    async def _do_resync(self) -> None:
        pause, last = RESYNC_GAP, None
        try:
            while True:
                self._again = False
                snap = await batcher().read(self.subject.load)
                if self.checked is not None and snap is not None:
                    self.checked(snap)
                for viewer in [v for v in self.fanout.viewers if v.admitted]:
                    if snap is None:
                        await viewer.end(CloseCode.NOT_FOUND)
                    else:
                        viewer.offer_snapshot(snap)
                if not self._again or snap is None:
                    break
                seq = getattr(snap, "seq", None)
                pause = (
                    min(pause * 2, RESYNC_GAP_MAX)
                    if seq is not None and seq == last
                    else RESYNC_GAP
                )
                last = seq
                await asyncio.sleep(pause)
        except Exception as exc:
            logger.warning("Rereading %s failed: %r", self.subject.group, exc)
        finally:
            self._resync = None

    def stop(self) -> None:
        self._stopped = True
        if self._resync is not None:
            self._resync.cancel()


def _run_batch(calls: list[Callable[[], Any]]) -> list[tuple[bool, Any]]:
    outcomes: list[tuple[bool, Any]] = []
    with shared_reads():
        for fn in calls:
            try:
                outcomes.append((True, fn()))
            except Exception as exc:
                outcomes.append((False, exc))
    # Close here as well: the wrapper's own close missed this connection when many
    # viewers joined at once (seen on PostgreSQL: the test database stayed in use).
    close_old_connections()
    return outcomes
