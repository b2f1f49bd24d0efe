from __future__ import annotations

from typing import Any

from liveops_htmx.models import LiveOperation


class BenchOp(LiveOperation):
    """An operation the bench worker reports on by hand (``run`` is never called).

    Public: the bench's viewers follow it without signing in.
    """

    public = True
    stages = ("Prepare", "Work")

    def run(self, p: Any) -> None:
        raise NotImplementedError("the bench drives WebProgress directly")
