"""Helpers for testing your own operations (see "Testing your operations" in the README).

``CapturingChannelLayer`` records what ``group_send`` receives; ``ManualClock`` lets
a test decide when the flush interval has passed; :func:`run_operation` runs an
operation exactly as a runner would, against them. Fixtures for pytest live in
``liveops_htmx.pytest_plugin``.
"""

from __future__ import annotations

import threading
from typing import Any

from channels.layers import BaseChannelLayer

from liveops_htmx.execution import execute
from liveops_htmx.models import LiveOperation
from liveops_htmx.progress import WebProgress
from liveops_htmx.rendering.protocol import UPDATE
from liveops_htmx.workerside.publisher import get_publisher


class CapturingChannelLayer(BaseChannelLayer):  # type: ignore[misc]
    """A channel layer that keeps every ``group_send`` (and can be told to fail)."""

    extensions = ["groups"]

    def __init__(self, expiry: int = 60, capacity: int = 100, **kwargs: Any) -> None:
        super().__init__(expiry=expiry, capacity=capacity, **kwargs)
        self._lock = threading.Lock()
        self.sent: list[tuple[str, dict[str, Any]]] = []
        #: Set to an exception instance to make every group_send raise it.
        self.failure: BaseException | None = None

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        if self.failure is not None:
            raise self.failure
        with self._lock:
            self.sent.append((group, message))

    async def group_add(self, group: str, channel: str) -> None:
        return None

    async def group_discard(self, group: str, channel: str) -> None:
        return None

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        return None

    async def new_channel(self, prefix: str = "specific.") -> str:
        return f"{prefix}capturing"

    def messages(
        self, group: str | None = None, *, type: str = UPDATE, wait: float = 5.0
    ) -> list[dict[str, Any]]:
        """Messages sent so far (operation updates by default; ``type="liveop.row"``
        for list rows), to ``group`` if given, once queued pushes are out."""
        get_publisher().flush(wait)
        with self._lock:
            return [
                m for g, m in self.sent if (group is None or g == group) and m.get("type") == type
            ]

    def frames(self, group: str | None = None, *, can_control: bool = False) -> list[str]:
        """The HTML text of every operation update, as the browser would receive it.

        By default as a viewer who may only look gets it; ``can_control=True``: as a
        viewer who may cancel and restart the operation (the controls with buttons).
        """
        key = "controller_html" if can_control else "liveop_html"
        return [m.get(key) or m["liveop_html"] for m in self.messages(group)]

    def clear(self) -> None:
        get_publisher().flush()
        with self._lock:
            self.sent.clear()


class ManualClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def run_operation(
    op: LiveOperation,
    layer: BaseChannelLayer | None = None,
    clock: ManualClock | None = None,
) -> WebProgress:
    """Run ``op`` as a runner would (running, ``run()``, terminal state), then wait for pushes."""
    kwargs: dict[str, Any] = {} if clock is None else {"clock": clock}
    progress = WebProgress(op, layer, **kwargs)
    execute(op, progress)
    get_publisher().flush()
    return progress
