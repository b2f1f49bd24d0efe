"""``manage.py run_liveop app_label.ModelName --field=value ...``: run an operation here."""

from __future__ import annotations

import argparse
import sys
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Field

from liveops_htmx.execution import execute
from liveops_htmx.models import BOOKKEEPING_FIELDS, LIVE_FIELDS, LiveOperation, State
from liveops_htmx.registry import model_for
from liveops_htmx.text import TextProgress

EXIT_CODES = {State.SUCCEEDED: 0, State.FAILED: 1, State.LOST: 1, State.CANCELLED: 130}
# The live state belongs to the run, not to the command line.
_STATE_FIELDS = {*LIVE_FIELDS, *BOOKKEEPING_FIELDS}
_DJANGO_OPTIONS = {"settings", "pythonpath", "traceback", "no-color", "force-color", "verbosity"}


def parse_assignments(words: list[str]) -> dict[str, str]:
    """``--a=1 --b 2`` to ``{"a": "1", "b": "2"}``; Django's own options are left out."""
    values: dict[str, str] = {}
    it = iter(words)
    for word in it:
        if not word.startswith("--"):
            raise CommandError(f"Expected --field=value, got {word!r}.")
        if word == "--no-bar":
            values["no-bar"] = "1"
            continue
        name, sep, value = word[2:].partition("=")
        if not sep:
            value = next(it, None)  # type: ignore[assignment]
            if value is None:
                raise CommandError(f"--{name} needs a value.")
        if name not in _DJANGO_OPTIONS:
            values[name] = value
    return values


class Command(BaseCommand):
    help = "Run a live operation in this terminal; its state is stored as on the web."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("model", help="app_label.ModelName of a LiveOperation")
        parser.add_argument("--owner", help="username of the owner")
        parser.add_argument("--no-bar", action="store_true", help="plain lines, no tqdm bar")
        parser.add_argument("fields", nargs=argparse.REMAINDER, help="--field=value ...")

    def handle(self, *args: Any, **options: Any) -> None:
        model = self._model(options["model"])
        op = model()
        assignments = parse_assignments(options["fields"])
        owner = assignments.pop("owner", None) or options["owner"]
        no_bar = bool(assignments.pop("no-bar", None)) or options["no_bar"]
        for name, raw in assignments.items():
            try:
                field = model._meta.get_field(name)
            except FieldDoesNotExist:
                field = None
            if not isinstance(field, Field) or name in _STATE_FIELDS:
                raise CommandError(f"{model.__name__} has no field {name!r} to set.")
            try:
                setattr(op, field.attname, field.to_python(raw))
            except ValidationError as exc:
                raise CommandError(f"--{name}: {'; '.join(exc.messages)}") from None
        if owner:
            users = get_user_model()._default_manager
            try:
                op.owner = users.get_by_natural_key(owner)
            except Exception:
                raise CommandError(f"No user {owner!r}.") from None
        op.full_clean(exclude=["owner"])
        op.save()
        # The raw stream (call_command(stdout=...) or the process's), not the wrapper
        # that adds a newline to each write: the bar needs isatty() and bare writes.
        stream: IO[str] = options.get("stdout") or sys.stdout
        progress = TextProgress(op, stream, bar=False if no_bar else None)
        try:
            execute(op, progress)
        except KeyboardInterrupt:
            if not progress.finished:
                progress.cancelled()
        sys.exit(EXIT_CODES.get(State(op.state), 1))

    def _model(self, label: str) -> type[LiveOperation]:
        try:
            return model_for(label)
        except LookupError:
            raise CommandError(
                f"{label!r} is not a live operation model; use app_label.ModelName."
            ) from None
