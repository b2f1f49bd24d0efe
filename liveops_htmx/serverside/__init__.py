"""The server side: following operations for the sockets of one serving process.

A :class:`~.hub.Hub` per followed group holds the process's one subscription to it
(:mod:`.subscription`, received through the loop's :mod:`.inbox`), its viewers and
their rounds of sends (:mod:`.fanout`, :mod:`.outbox`) and its reads of the row
(:mod:`.reads`, :mod:`.snapshots`, :mod:`.lists`). It uses
:mod:`liveops_htmx.rendering`; the consumer uses it.
"""
