"""The API ``run(self, p)`` reports through.

:class:`Progress` is transport-neutral: it keeps the operation's live state,
coalesces bursts, and writes each flush in one UPDATE. :class:`WebProgress` also
renders the changed parts once and pushes them to the operation's viewers; it is
what the runners give ``run()``. :class:`OperationCancelled` is raised inside
``run()`` once a cancel was requested.

Text from workers is text: status, stage names, log lines, error messages, and the
label and unit of ``track()`` are escaped wherever they are shown, even when given
marked safe, and cut to ``TEXT_MAX`` characters.
"""

from liveops_htmx.workerside.pushing import WebProgress
from liveops_htmx.workerside.reporting import OperationCancelled, Progress

__all__ = ["OperationCancelled", "Progress", "WebProgress"]
