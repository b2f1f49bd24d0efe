from __future__ import annotations

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
