"""A URLconf without liveops_htmx.urls: the HTTP transports have no route."""

from __future__ import annotations

from django.urls import path

from tests import views

urlpatterns = [path("op/<int:pk>/", views.show, name="show")]
