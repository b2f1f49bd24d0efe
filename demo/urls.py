from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from demo.ops import views

urlpatterns = [
    path("", views.home, name="home"),
    path("start/<str:kind>/", views.start, name="start"),
    path("live/", include("liveops_htmx.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
