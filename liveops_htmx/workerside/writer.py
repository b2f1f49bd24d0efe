"""Where a flush of one operation is written, and whether its push may go out at once.

Outside a transaction a flush is written on the operation's connection and pushed
as soon as it is written. Inside the caller's ``transaction.atomic()``:

- ``result()``, ``error()`` and anything after them in that transaction are written
  in it and pushed at its commit (a rollback pushes nothing);
- progress (status, percent, track, stage, log, regions) is written on the side
  connection where there is one (:mod:`.side`): committed and pushed at once;
- where there is none, or once it failed in this transaction, progress is written in
  the transaction and pushed at once: viewers see it live, the row has it at the commit.
  Such a push also carries every part (``full``): a viewer that joined since, from a
  row that does not have these writes yet, takes it whole.

After a rollback, the operation's next write finds its row behind what it wrote
(:class:`~.persist.RolledBack`); the caller puts the operation back to what the row
holds and writes it whole, and viewers get that as a reset. A finish rolled back
(with its transaction, or a savepoint) no longer holds back the writes after it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import DatabaseError, transaction

from liveops_htmx.workerside import persist
from liveops_htmx.workerside.side import forget, side_connection

if TYPE_CHECKING:
    from liveops_htmx.models import LiveOperation

logger = logging.getLogger("liveops_htmx.workerside")


@dataclass(frozen=True)
class Written:
    base: int
    seq: int
    #: True when the push may go out now; False: once the transaction commits.
    at_once: bool
    #: False while the write waits for the caller's commit: others read the row without it.
    committed: bool = True


class Writer:
    """The writes of one operation's flushes, and the transaction they meet."""

    def __init__(self, op: LiveOperation) -> None:
        self.alias = persist.db_for(op)
        self._deferring = False  # a terminal write waits for the commit: so does the rest
        self._main_only = False  # the side connection failed in this transaction

    def write(
        self,
        op: LiveOperation,
        fields: Iterable[str],
        *,
        terminal: bool,
        seq_above: int | None = None,
    ) -> Written:
        fields = frozenset(fields)
        if transaction.get_autocommit(using=self.alias):
            self._deferring = self._main_only = False
            return Written(*persist.write(op, fields, seq_above=seq_above), at_once=False)
        if terminal or self._deferring:
            self._mark("_deferring")
            try:
                return Written(*persist.write(op, fields, seq_above=seq_above), at_once=False)
            except persist.RolledBack:
                # The row is not finished (else: Ended): the terminal write this
                # transaction waited for was rolled back, and the rest is progress again.
                self._deferring = False
                raise
        if not self._main_only:
            side = side_connection(self.alias)
            if side is not None:
                try:
                    base, seq = persist.write(op, fields, connection=side, seq_above=seq_above)
                except persist.Conflict:
                    pass  # locked or not visible outside the transaction: write in it
                except DatabaseError as exc:
                    logger.debug("Side write of %s failed, writing in the transaction: %r", op, exc)
                    if side.connection is None or not side.is_usable():
                        forget(self.alias)
                else:
                    return Written(base, seq, at_once=True)
            self._mark("_main_only")
        base, seq = persist.write(op, fields, seq_above=seq_above)
        return Written(base, seq, at_once=True, committed=False)

    def _mark(self, flag: str) -> None:
        if not getattr(self, flag):
            setattr(self, flag, True)
            transaction.on_commit(lambda: setattr(self, flag, False), using=self.alias)
