"""Admin for operation models: list with a state filter, live fields read-only, cancel action.

The cancel action only touches the operations the admin user may control
(``op.user_can_control``) and says how many it skipped.

Every concrete operation model not registered by its own app is registered with
:class:`LiveOperationAdmin` when the app registry is ready (list ``liveops_htmx``
after ``django.contrib.admin``). Subclass it to register your own.
"""

from __future__ import annotations

import math
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from liveops_htmx.control import request_cancel
from liveops_htmx.models import BOOKKEEPING_FIELDS, LIVE_FIELDS, LiveOperation
from liveops_htmx.registry import operation_models


class LiveOperationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "__str__",
        "owner",
        "state",
        "current_status",
        "progress_percent",
        "created_at",
        "finished_at",
    )
    list_filter = ("state",)
    readonly_fields = LIVE_FIELDS + BOOKKEEPING_FIELDS
    search_fields = ("status", "error")
    date_hierarchy = "created_at"
    actions = ["cancel_selected"]

    @admin.display(description=_("status"), ordering="status")
    def current_status(self, op: LiveOperation) -> str:
        """What the page shows: a finished operation's last status text is not news."""
        return "" if op.is_finished else op.status

    @admin.display(description=_("progress"), ordering="percent")
    def progress_percent(self, op: LiveOperation) -> str:
        percent = 100.0 if op.state == "succeeded" else op.percent
        return "" if percent is None else f"{math.floor(percent):d}%"

    @admin.action(description=_("Cancel the selected operations"))
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        allowed = [op for op in queryset if op.user_can_control(request.user)]
        skipped = len(queryset) - len(allowed)
        cancelled = sum(request_cancel(op) for op in allowed)
        self.message_user(
            request,
            ngettext(
                "Asked %(count)d operation to stop.",
                "Asked %(count)d operations to stop.",
                cancelled,
            )
            % {"count": cancelled},
            messages.SUCCESS if cancelled else messages.WARNING,
        )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "Skipped %(count)d operation you may not control.",
                    "Skipped %(count)d operations you may not control.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )


def register_all(site: admin.AdminSite = admin.site) -> list[type[LiveOperation]]:
    """Register every concrete operation model its own app did not register."""
    added = [m for m in operation_models() if not site.is_registered(m)]
    for model in added:
        site.register(model, LiveOperationAdmin)
    return added
