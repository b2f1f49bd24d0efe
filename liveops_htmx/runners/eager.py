"""Run inline, in the caller. Snapshot-only: the page sees the end, not the way there."""

from __future__ import annotations

from liveops_htmx.worker import run_by_label


class EagerRunner:
    def submit(self, label: str, pk: str) -> None:
        run_by_label(label, pk)


runner = EagerRunner()
