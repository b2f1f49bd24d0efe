"""celery-progress 0.5: its ``ProgressRecorder`` writing task state to a Redis result backend."""

from __future__ import annotations

import uuid
from typing import Any

from celery_progress.backend import ProgressRecorder

from bench.kits import pacing
from bench.project.celery_app import app


class TaskState:
    """What ``ProgressRecorder`` needs of a bound task: ``update_state`` for one task id."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id

    def update_state(self, state: str, meta: dict[str, Any]) -> None:
        app.backend.store_result(self.task_id, meta, state)


class CeleryKit:
    def prepare(self, count: int, owned: bool = False) -> list[dict[str, Any]]:
        ids = [uuid.uuid4().hex for _ in range(count)]
        return [{"task_id": tid, "path": f"/celery-progress/{tid}/"} for tid in ids]

    def steady(self, target: dict[str, Any]) -> None:
        ProgressRecorder(TaskState(target["task_id"])).set_progress(0, 100, "Working steadily")

    def series(self, target: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
        task_id, n = target["task_id"], int(spec["n"])
        recorder = ProgressRecorder(TaskState(task_id))

        def publish(i: int, t: float) -> None:
            recorder.set_progress(i, n, description=pacing.stamp_text(t, i))

        def finish() -> None:
            app.backend.store_result(task_id, {"message": pacing.RESULT}, "SUCCESS")

        return pacing.run(publish, finish, spec)

    def track(self, n: int) -> dict[str, Any]:
        return {}

    def wire(self) -> dict[str, Any]:
        return {}


def build() -> CeleryKit:
    return CeleryKit()
