"""``path("live/", include("liveops_htmx.urls"))``: pages and controls of live operations."""

from __future__ import annotations

from django.urls import path

from liveops_htmx import views

app_name = "liveops_htmx"

urlpatterns = [
    path("", views.OperationListView.as_view(), name="list"),
    path("<str:model>/<str:pk>/", views.OperationView.as_view(), name="operation"),
    path("<str:model>/<str:pk>/widget/", views.WidgetView.as_view(), name="widget"),
    path("<str:model>/<str:pk>/cancel/", views.CancelView.as_view(), name="cancel"),
    path("<str:model>/<str:pk>/restart/", views.RestartView.as_view(), name="restart"),
]
