"""The Celery app of the tier-3 tests (broker: the test Redis, under the test prefix)."""

from __future__ import annotations

import os

import django
from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

app = Celery("liveops_tests")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.imports = ["liveops_htmx.runners.celery"]
