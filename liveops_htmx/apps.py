from __future__ import annotations

from django.apps import AppConfig, apps
from django.utils.translation import gettext_lazy as _


class LiveopsHtmxConfig(AppConfig):
    name = "liveops_htmx"
    verbose_name = _("Live operations")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core.signals import setting_changed

        from liveops_htmx import checks  # noqa: F401  (registers the checks)
        from liveops_htmx.rendering import templates
        from liveops_htmx.serverside import snapshots

        setting_changed.connect(templates.clear_cache, dispatch_uid="liveops_htmx.templates")
        setting_changed.connect(snapshots.clear_cache, dispatch_uid="liveops_htmx.snapshots")
        if apps.is_installed("django.contrib.admin"):
            from liveops_htmx.admin import register_all

            register_all()
