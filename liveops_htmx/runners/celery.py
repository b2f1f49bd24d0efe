"""Celery: a task runs the operation in a worker process (live through a shared layer).

Put ``liveops_htmx.runners.celery`` in your Celery app's imports (or let
``autodiscover_tasks`` find it), and schedule ``liveops_htmx.reap_lost`` with beat
(every ``LOST_AFTER`` seconds) to mark operations of dead workers lost.
"""

from __future__ import annotations

from celery import shared_task

from liveops_htmx.control import reap_lost as _reap_lost
from liveops_htmx.worker import run_by_label


@shared_task(name="liveops_htmx.run_operation", ignore_result=True)  # type: ignore[untyped-decorator]
def run_operation(label: str, pk: str) -> None:
    run_by_label(label, pk)


@shared_task(name="liveops_htmx.reap_lost", ignore_result=True)  # type: ignore[untyped-decorator]
def reap_lost() -> int:
    return _reap_lost()


class CeleryRunner:
    def submit(self, label: str, pk: str) -> None:
        run_operation.delay(label, pk)


runner = CeleryRunner()
