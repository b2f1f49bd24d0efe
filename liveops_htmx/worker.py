"""What every runner calls in its worker: load the operation and run it to the end."""

from __future__ import annotations

import logging

from django.db import close_old_connections
from django.utils import translation

from liveops_htmx.execution import execute
from liveops_htmx.registry import model_for
from liveops_htmx.workerside.heartbeat import get_heart

logger = logging.getLogger("liveops_htmx.worker")


def run_by_label(label: str, pk: str) -> None:
    """Run operation ``pk`` of model ``label`` ("app_label.ModelName"), if it still waits."""
    close_old_connections()
    try:
        op = model_for(label)._base_manager.get(pk=pk)
    except Exception:
        logger.exception("Cannot run %s %s", label, pk)
        return
    try:
        if op.is_finished:
            return
        with translation.override(op.language or None), get_heart().beating(op):
            execute(op)
    finally:
        close_old_connections()
