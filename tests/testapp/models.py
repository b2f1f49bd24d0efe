from __future__ import annotations

import uuid

from django.db import models

from liveops_htmx.models import LiveOperation


class Report(LiveOperation):
    """A plain operation the tests drive by hand or through run()."""

    stages = ("Collect", "Render")
    title = models.CharField(max_length=100, blank=True)
    steps = models.PositiveIntegerField(default=3)

    def run(self, p):
        with p.stage("Collect"):
            for i in p.track(range(self.steps), label="Collecting"):
                p.log(f"row {i}")
        with p.stage("Render"):
            p.status("Rendering")
        p.result(message=f"{self.steps} rows", url="/reports/1/")


class Failing(LiveOperation):
    def run(self, p):
        p.status("About to fail")
        raise RuntimeError("secret <internal> detail")


class Sleepy(LiveOperation):
    """Waits to be cancelled, checking as it goes."""

    def run(self, p):
        import time

        for _ in p.track(range(10_000), label="Waiting"):
            time.sleep(0.001)
            p.check_cancelled()


class Paced(LiveOperation):
    """Reports at a steady pace: statuses, log lines and progress, for live tests.

    Public: the live tests follow operations without owner as anonymous viewers.
    """

    public = True
    stages = ("Warm up", "Work")
    steps = models.PositiveIntegerField(default=5)
    delay = models.FloatField(default=0.05)
    lines_every = models.PositiveIntegerField(default=1)
    atomic_finish = models.BooleanField(default=False)

    def run(self, p):
        import time

        from django.db import transaction

        with p.stage("Warm up"):
            p.status("Warming up")
        with p.stage("Work"):
            for i in p.track(range(self.steps), label="Steps"):
                if i % self.lines_every == 0:
                    p.log(f"line {i // self.lines_every + 1}")
                if self.delay:
                    time.sleep(self.delay)
        if self.atomic_finish:
            with transaction.atomic():
                p.result(message="committed")
                time.sleep(0.5)  # a viewer must not see the result before this commits
        else:
            p.result(message=f"{self.steps} steps")


class Keyed(LiveOperation):
    """A UUID primary key and a table name of its own: the worker's UPDATE must follow both."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)

    class Meta:
        db_table = "keyed_operations"

    def run(self, p):
        p.status("Keyed")
        p.result(message="done")
