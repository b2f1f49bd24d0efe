"""The same ``run()`` in a terminal: plain lines, or a tqdm bar with the ``cli`` extra.

The row is kept as the web path keeps it (status, progress, log tail, terminal state),
so a run started from the shell shows up in the operations list; nothing is pushed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from typing import IO, TYPE_CHECKING, Any, TypeVar

from liveops_htmx.progress import Progress
from liveops_htmx.workerside import persist

if TYPE_CHECKING:
    from liveops_htmx.models import LiveOperation
    from liveops_htmx.workerside.reporting import Flush

T = TypeVar("T")

_MARKS = {"succeeded": "✓", "failed": "✗", "cancelled": "■", "lost": "?"}


def _tqdm() -> Any:
    try:
        from tqdm import tqdm
    except ImportError:  # the cli extra is not installed
        return None
    return tqdm


class TextProgress(Progress):
    def __init__(
        self,
        op: LiveOperation,
        stream: IO[str] | None = None,
        *,
        bar: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        interval: float | None = None,
    ) -> None:
        super().__init__(op, clock=clock, interval=interval)
        self.stream = stream if stream is not None else sys.stdout
        self.bar_class = _tqdm() if bar is not False else None
        if bar is None and not self.stream.isatty():
            self.bar_class = None
        self._bar: Any = None
        self._printed_step: int | None = None

    def swap(
        self, selector: str, name: str | None = None, template: str | None = None, **context: Any
    ) -> None:
        raise NotImplementedError("swap() needs a page: text mode has none (run it on the web).")

    def html(self, selector: str, html: str) -> None:
        raise NotImplementedError("html() needs a page: text mode has none (run it on the web).")

    def track(
        self,
        iterable: Iterable[T],
        total: int | None = None,
        label: str | None = None,
        unit: str = "it",
    ) -> Iterator[T]:
        if self.bar_class is None:
            yield from super().track(iterable, total, label, unit)
            return
        if total is None and isinstance(iterable, Sized):
            total = len(iterable)
        self._bar = self.bar_class(total=total, desc=label, unit=unit, file=self.stream)
        try:
            for item in super().track(iterable, total, label, unit):
                yield item
                self._bar.update(1)
        finally:
            self._bar.close()
            self._bar = None

    def _print(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def emit(self, flush: Flush) -> None:
        _written, lines, _reset = self.save(flush)
        kinds, terminal = flush.kinds, flush.terminal
        op = self.op
        if "status" in kinds and op.status and not terminal:
            self._print(f"[{op.status_level}] {op.status}")
        if "stages" in kinds and op.stage:
            self._print(f"== {op.stage}")
        for number, text in lines:
            self._print(f"{number:>5} | {text}")
        if "progress" in kinds and self._bar is None and op.percent is not None:
            step = int(op.percent // 10)  # plain lines: one per ten percent
            if step != self._printed_step:
                self._printed_step = step
                self._print(f"{op.percent:5.1f}%")
        if terminal:
            self.finished = True
            outcome = op.get_state_display()
            detail = op.error or (op.result_context or {}).get("message", "")
            mark = _MARKS.get(op.state, "")
            self._print(f"{mark} {outcome}" + (f": {detail}" if detail else ""))

    def _poll_cancel(self) -> bool:
        return persist.cancel_requested(self.op)
