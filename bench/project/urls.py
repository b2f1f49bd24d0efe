"""HTTP routes: the kit's control URLs (so fragments carry them) or celery-progress's view."""

from __future__ import annotations

from django.conf import settings
from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = []

if settings.BENCH_SYSTEM == "htmx":
    urlpatterns.append(path("live/", include("liveops_htmx.urls")))
elif settings.BENCH_SYSTEM == "celery":
    from bench.project.celery_app import app

    app.set_default()
    urlpatterns.append(path("celery-progress/", include("celery_progress.urls")))
