"""The demo's operations: one of each kind a newcomer wants to see."""

from __future__ import annotations

import random
import time

from django.db import models, transaction
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from liveops_htmx.models import LiveOperation
from liveops_htmx.progress import Progress


class Quick(LiveOperation):
    """Counts through a few items: done in a couple of seconds."""

    items = models.PositiveIntegerField(_("items"), default=30)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("quick count")

    def run(self, p: Progress) -> None:
        if self.note:
            p.status(self.note)
            p.log(self.note)
        for _item in p.track(range(self.items), label=gettext("Counting"), unit=gettext("items")):
            time.sleep(0.05)
        p.result(message=self.note or gettext("Counted %(n)d items.") % {"n": self.items})


class Report(LiveOperation):
    """Slow, with stages and a log."""

    stages = (_("Collect"), _("Analyse"), _("Render"))
    rows = models.PositiveIntegerField(_("rows"), default=40)

    class Meta:
        verbose_name = _("report")

    def run(self, p: Progress) -> None:
        with p.stage(gettext("Collect")):
            p.status(gettext("Reading the rows"))
            for i in p.track(range(self.rows), label=gettext("Rows"), unit=gettext("rows")):
                if i % 4 == 0:
                    p.log(gettext("Read row %(n)d") % {"n": i + 1})
                time.sleep(0.08)
        with p.stage(gettext("Analyse")):
            p.status(gettext("Looking for patterns"))
            for _step in p.track(range(20), label=gettext("Analysis")):
                time.sleep(0.05)
            p.log(gettext("Found %(n)d patterns") % {"n": random.randint(2, 9)})
        with p.stage(gettext("Render")):
            p.status(gettext("Writing the report"))
            time.sleep(0.5)
        p.result(message=gettext("Report of %(n)d rows is ready.") % {"n": self.rows}, url="/live/")


class Flaky(LiveOperation):
    """Always fails half-way: shows the failed state."""

    class Meta:
        verbose_name = _("flaky job")

    def run(self, p: Progress) -> None:
        p.status(gettext("Connecting to the remote service"))
        for _step in p.track(range(20), label=gettext("Handshake")):
            time.sleep(0.05)
        p.log(gettext("The remote service answered 503."))
        raise ConnectionError("remote service unavailable (503)")


class LongImport(LiveOperation):
    """Takes a minute: worth cancelling."""

    records = models.PositiveIntegerField(_("records"), default=600)

    class Meta:
        verbose_name = _("long import")

    def run(self, p: Progress) -> None:
        p.status(gettext("Importing; cancel whenever you like"))
        for i in p.track(range(self.records), label=gettext("Records"), unit=gettext("records")):
            if i % 50 == 0:
                p.log(gettext("Imported %(n)d records") % {"n": i})
            time.sleep(0.1)
            p.check_cancelled()
        p.result(message=gettext("Imported %(n)d records.") % {"n": self.records})


class Pipeline(LiveOperation):
    """Prepares, then hands over to a report in place (chain_to)."""

    class Meta:
        verbose_name = _("pipeline")

    def run(self, p: Progress) -> None:
        p.status(gettext("Preparing the data"))
        for _step in p.track(range(20), label=gettext("Preparing")):
            time.sleep(0.05)
        p.log(gettext("Handing over to the report"))
        p.chain_to(Report(rows=12))


class AtomicImport(LiveOperation):
    """Imports all its records in one transaction: all or nothing, and live all along."""

    records = models.PositiveIntegerField(_("records"), default=120)

    class Meta:
        verbose_name = _("all-or-nothing import")

    def run(self, p: Progress) -> None:
        p.status(gettext("Importing in one transaction"))
        with transaction.atomic():
            label, unit = gettext("Records"), gettext("records")
            for i in p.track(range(self.records), label=label, unit=unit):
                ImportedRecord.objects.create(operation=self, number=i + 1)
                if i % 40 == 0:
                    p.log(gettext("Imported %(n)d records") % {"n": i + 1})
                time.sleep(0.05)
        p.result(message=gettext("Imported %(n)d records.") % {"n": self.records})


class ImportedRecord(models.Model):
    """A record an :class:`AtomicImport` writes inside its transaction."""

    operation = models.ForeignKey(AtomicImport, on_delete=models.CASCADE, related_name="+")
    number = models.PositiveIntegerField()

    class Meta:
        ordering = ["number"]
        verbose_name = _("imported record")

    def __str__(self) -> str:
        return f"#{self.number}"
