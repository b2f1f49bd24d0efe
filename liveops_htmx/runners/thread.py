"""The embedded default: worker threads in the serving process.

Live with the in-memory channel layer too: pushes from these threads are sent on the
event loop of the server that listens (see :mod:`liveops_htmx.workerside.publisher`).
Operations of a process that exits are marked lost by the heartbeat check.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time

from django.db import connections

from liveops_htmx.conf import conf
from liveops_htmx.control import reap_lost
from liveops_htmx.worker import run_by_label

logger = logging.getLogger("liveops_htmx.runners.thread")


class ThreadRunner:
    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._pid = os.getpid()

    def submit(self, label: str, pk: str) -> None:
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's threads are not ours
                self._threads, self._queue, self._pid = [], queue.SimpleQueue(), os.getpid()
            if not self._threads:
                reaper = threading.Thread(target=self._reap, name="liveops-reaper", daemon=True)
                reaper.start()
            if len(self._threads) < conf.THREAD_WORKERS:
                thread = threading.Thread(target=self._work, name="liveops-worker", daemon=True)
                self._threads.append(thread)
                thread.start()
        self._queue.put((label, pk))

    def _reap(self) -> None:
        """The runner's periodic check: operations of a worker that died are marked lost."""
        while True:
            time.sleep(conf.LOST_AFTER)
            try:
                reap_lost()
            except Exception as exc:
                logger.warning("Checking for lost operations failed: %r", exc)
            finally:
                connections.close_all()

    def _work(self) -> None:
        while True:
            label, pk = self._queue.get()
            try:
                run_by_label(label, pk)
            except Exception:  # run_by_label already ends every operation; this is a bug guard
                logger.exception("Worker thread failed on %s %s", label, pk)
            finally:
                connections.close_all()


runner = ThreadRunner()
