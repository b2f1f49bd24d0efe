"""Runners: where ``op.start()`` runs an operation.

A runner is an object with ``submit(label, pk)``; the worker side of every runner
calls :func:`liveops_htmx.worker.run_by_label`. ``LIVEOPS["RUNNER"]`` names one of
:data:`RUNNERS` or gives the dotted path of your own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from django.db import router, transaction
from django.utils.module_loading import import_string

from liveops_htmx.conf import conf
from liveops_htmx.layer import configured_layer
from liveops_htmx.workerside.rows import publish_row

if TYPE_CHECKING:
    from liveops_htmx.models import LiveOperation

RUNNERS = {
    "thread": "liveops_htmx.runners.thread.runner",
    "eager": "liveops_htmx.runners.eager.runner",
    "celery": "liveops_htmx.runners.celery.runner",
    "django_tasks": "liveops_htmx.runners.django_tasks.runner",
}
#: Runners whose workers live in another process: live only through a shared layer.
OUT_OF_PROCESS = frozenset({"celery", "django_tasks"})


class Runner(Protocol):
    def submit(self, label: str, pk: str) -> None: ...


def get_runner(name: str | None = None) -> Runner:
    name = name or conf.RUNNER
    runner: Runner = import_string(RUNNERS.get(name, name))
    return runner


def start(op: LiveOperation, runner: str | None = None) -> None:
    """Hand ``op`` to its runner once the current transaction commits (so the worker sees it)."""
    if op.pk is None:
        raise ValueError("Save the operation before starting it.")
    chosen = get_runner(runner)
    label, pk = op._meta.label, str(op.pk)
    db = router.db_for_write(type(op), instance=op)
    if op.owner_id is not None:  # the owner's list shows it at once, before it runs
        publish_row(op, configured_layer())
    transaction.on_commit(lambda: chosen.submit(label, pk), using=db)
