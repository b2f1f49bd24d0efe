from __future__ import annotations

from typing import Any

from liveops.models import LiveOperation


class BenchOp(LiveOperation):
    """A django-liveops operation the bench worker reports on by hand."""

    stages = ["Prepare", "Work"]

    def run(self, p: Any) -> None:
        raise NotImplementedError("the bench drives WebProgress directly")
