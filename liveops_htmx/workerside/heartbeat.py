"""Heartbeats of the operations a worker process is running.

One daemon thread per process refreshes ``heartbeat_at`` of every operation the
process runs, every ``LIVEOPS["LOST_AFTER"] / 4`` seconds, whether or not ``run()``
reports anything. A running row whose heartbeat is older than ``LOST_AFTER``
belongs to a worker that died: :func:`liveops_htmx.control.reap_lost` marks it lost.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from django.db import close_old_connections
from django.utils import timezone

from liveops_htmx.conf import conf
from liveops_htmx.states import State

if TYPE_CHECKING:
    from liveops_htmx.models import LiveOperation

logger = logging.getLogger("liveops_htmx.workerside.heartbeat")

Key = tuple[type["LiveOperation"], str]


class Heart:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._beating: Counter[Key] = Counter()
        self._thread: threading.Thread | None = None

    @contextmanager
    def beating(self, op: LiveOperation) -> Iterator[None]:
        """Keep ``op``'s heartbeat fresh while the block runs."""
        key: Key = (type(op), str(op.pk))
        with self._lock:
            self._beating[key] += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="liveops-heartbeat", daemon=True
                )
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._beating[key] -= 1
                if self._beating[key] <= 0:
                    del self._beating[key]

    def _run(self) -> None:
        while True:
            time.sleep(conf.HEARTBEAT_INTERVAL)
            try:
                self.beat()
            except Exception as exc:  # a missed beat is not worth a dead thread
                logger.warning("Heartbeat failed: %r", exc)
            finally:
                close_old_connections()

    def beat(self) -> int:
        """Refresh every running operation of this process now; return how many rows."""
        with self._lock:
            keys = list(self._beating)
        by_model: dict[type[LiveOperation], list[str]] = {}
        for model, pk in keys:
            by_model.setdefault(model, []).append(pk)
        now = timezone.now()
        return sum(
            model._base_manager.filter(pk__in=pks, state=State.RUNNING).update(heartbeat_at=now)
            for model, pks in by_model.items()
        )


_heart: Heart | None = None
_heart_lock = threading.Lock()


def get_heart() -> Heart:
    global _heart
    with _heart_lock:
        if _heart is None:
            _heart = Heart()
        return _heart


def _forget_after_fork() -> None:
    global _heart, _heart_lock
    _heart = None
    _heart_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)
