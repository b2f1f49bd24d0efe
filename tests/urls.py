from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from liveops_htmx.views import LiveOperationCreateView
from tests import views
from tests.testapp.models import Report

urlpatterns = [
    path("admin/", admin.site.urls),
    path("op/<int:pk>/", views.show, name="show"),
    path("live/", include("liveops_htmx.urls")),
    path(
        "new/report/",
        LiveOperationCreateView.as_view(
            model=Report, fields=["title", "steps"], template_name="new_report.html"
        ),
        name="new-report",
    ),
]
