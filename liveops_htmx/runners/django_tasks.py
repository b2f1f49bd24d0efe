"""Django's Tasks framework (``django.tasks`` on 6.x, the django-tasks backport before).

Any backend that runs tasks in a worker process works, e.g. django-tasks-db's
``db_worker``. Enqueue ``reap_lost`` periodically to mark operations of dead workers lost.
"""

from __future__ import annotations

from liveops_htmx._compat import tasks_module
from liveops_htmx.control import reap_lost as _reap_lost
from liveops_htmx.worker import run_by_label

task = tasks_module().task


@task()  # type: ignore[untyped-decorator]
def run_operation(label: str, pk: str) -> None:
    run_by_label(label, pk)


@task()  # type: ignore[untyped-decorator]
def reap_lost() -> int:
    return _reap_lost()


class DjangoTasksRunner:
    def submit(self, label: str, pk: str) -> None:
        run_operation.enqueue(label, pk)


runner = DjangoTasksRunner()
