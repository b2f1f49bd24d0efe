"""``manage.py liveops_reap [--every SECONDS]``: mark operations of dead workers lost."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from liveops_htmx.control import reap_lost


class Command(BaseCommand):
    help = "Mark running operations whose worker stopped beating as lost."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=float, help="repeat every SECONDS (runs until killed)")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            lost = reap_lost()
            if lost or options["verbosity"] > 1:
                self.stdout.write(f"{lost} operation(s) marked lost")
            if not options["every"]:
                return
            time.sleep(options["every"])
