"""The Celery app celery-progress reads results through: a Redis result backend."""

from __future__ import annotations

from celery import Celery
from django.conf import settings

app = Celery("bench")
app.conf.result_backend = settings.CELERY_RESULT_BACKEND
app.conf.result_backend_transport_options = {"global_keyprefix": settings.CELERY_RESULT_PREFIX}
app.conf.result_extended = False
