"""``path("live/", include("liveops_htmx.urls"))``: pages, controls and HTTP transports."""

from __future__ import annotations

from django.urls import path

from liveops_htmx import transport_views, views

app_name = "liveops_htmx"

urlpatterns = [
    path("", views.OperationListView.as_view(), name="list"),
    path("events/", transport_views.events, name="list-events"),
    path("poll/", transport_views.poll, name="list-poll"),
    path("fallback/", transport_views.fallback, name="list-fallback"),
    path("<str:model>/<str:pk>/", views.OperationView.as_view(), name="operation"),
    path("<str:model>/<str:pk>/widget/", views.WidgetView.as_view(), name="widget"),
    path("<str:model>/<str:pk>/cancel/", views.CancelView.as_view(), name="cancel"),
    path("<str:model>/<str:pk>/restart/", views.RestartView.as_view(), name="restart"),
    path("<str:model>/<str:pk>/events/", transport_views.events, name="events"),
    path("<str:model>/<str:pk>/poll/", transport_views.poll, name="poll"),
    path("<str:model>/<str:pk>/fallback/", transport_views.fallback, name="fallback"),
]
