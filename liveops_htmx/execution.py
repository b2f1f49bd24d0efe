"""Running one operation: the part every runner shares."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from typing import TYPE_CHECKING

from django.utils.translation import gettext

from liveops_htmx import values
from liveops_htmx.progress import OperationCancelled, Progress, WebProgress
from liveops_htmx.values import ResultKeyError
from liveops_htmx.workerside import side

if TYPE_CHECKING:
    from liveops_htmx.models import LiveOperation

logger = logging.getLogger("liveops_htmx.execution")


def execute(op: LiveOperation, progress: Progress | None = None) -> Progress:
    """Run ``op`` to a terminal state, whatever ``run()`` does.

    ``OperationCancelled`` becomes *cancelled*; any other exception becomes *failed*
    with a message safe to show (the traceback is kept in ``error_detail``). A
    ``run()`` that returns without finishing succeeds, with its returned mapping (if
    any) as the result context.
    """
    try:
        return _execute(op, progress if progress is not None else WebProgress(op))
    finally:
        side.close_all()  # a side connection is per run: let no test or worker keep one


def _execute(op: LiveOperation, p: Progress) -> Progress:
    if p.finished:  # cancelled while it waited for a worker
        return p
    if p.cancel_seen:
        p.cancelled()
        return p
    try:
        p.start()
    except OperationCancelled:  # cancelled (or deleted) between its loading and its start
        return p
    try:
        returned = op.run(p)
    except OperationCancelled:
        if not p.finished:
            p.cancelled()
    except Exception:
        logger.exception("%s failed", op)
        if not p.finished:
            op.error_detail = values.storable(traceback.format_exc())
            p.error(gettext("The operation failed unexpectedly."))
    else:
        if not p.finished:
            try:
                p.result(returned if isinstance(returned, Mapping) else None)
            except ResultKeyError:  # what run() returned uses a name the kit keeps
                logger.exception("%s returned a result the kit cannot keep", op)
                op.error_detail = traceback.format_exc()
                p.error(gettext("The operation failed unexpectedly."))
    return p
