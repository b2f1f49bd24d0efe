"""The abstract model every live operation subclasses, and the fields the kit owns on it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from liveops_htmx.states import ACTIVE_STATES, TERMINAL_STATES, Level, State

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

    from liveops_htmx.progress import Progress

__all__ = [
    "ACTIVE_STATES",
    "BOOKKEEPING_FIELDS",
    "CHANGES",
    "LIVE_FIELDS",
    "TERMINAL_STATES",
    "Level",
    "LiveOperation",
    "State",
]

#: The live field set: what the kit writes as an operation lives (a run, a cancel,
#: a lost mark), and what a restart puts back to each field's default.
LIVE_FIELDS: tuple[str, ...] = (
    "state",
    "status",
    "status_level",
    "percent",
    "progress",
    "stage",
    "stage_states",
    "log_tail",
    "log_count",
    "regions",
    "result_context",
    "error",
    "error_detail",
    "cancel_requested",
    "started_at",
    "finished_at",
    "heartbeat_at",
)
#: Bookkeeping beside the live fields; nobody but the kit sets them either.
BOOKKEEPING_FIELDS: tuple[str, ...] = ("seq", "created_at")

#: Which live fields each kind of change a worker flushes writes.
CHANGES: dict[str, tuple[str, ...]] = {
    "status": ("status", "status_level"),
    "progress": ("percent", "progress"),
    "stages": ("stage", "stage_states"),
    "log": ("log_tail", "log_count"),
    "regions": ("regions",),
    "state": (
        "state",
        "status",
        "status_level",
        "percent",
        "progress",
        "stage",
        "stage_states",
        "result_context",
        "error",
        "error_detail",
        "started_at",
        "finished_at",
    ),
}


class LiveOperation(models.Model):
    """A long-running operation whose state is persisted and pushed to its viewers.

    Subclass it, add your own fields and implement :meth:`run`.
    """

    #: Optional ordered stage names, shown as a checklist before they start.
    stages: ClassVar[Sequence[str]] = ()
    #: Whether an operation *without owner* may be seen by anyone who has its page or
    #: its socket's token. Off: only users with the model's ``view`` permission see
    #: it. It opens nothing else: the controls stay with :meth:`user_can_control`.
    public: ClassVar[bool] = False

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("owner"),
    )
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.PENDING, db_index=True
    )
    status = models.CharField(_("status"), max_length=1000, blank=True)
    status_level = models.CharField(
        _("status level"), max_length=16, choices=Level.choices, default=Level.INFO
    )
    percent = models.FloatField(_("percent"), null=True, blank=True)
    progress = models.JSONField(_("progress detail"), default=dict, blank=True)
    stage = models.CharField(_("stage"), max_length=200, blank=True)
    stage_states = models.JSONField(_("stage states"), default=dict, blank=True)
    log_tail = models.JSONField(_("log tail"), default=list, blank=True)
    log_count = models.PositiveIntegerField(_("log lines"), default=0)
    regions = models.JSONField(_("custom regions"), default=dict, blank=True)
    result_context = models.JSONField(
        _("result context"), null=True, blank=True, encoder=DjangoJSONEncoder
    )
    error = models.TextField(_("error"), blank=True)
    error_detail = models.TextField(_("error detail"), blank=True)
    cancel_requested = models.BooleanField(_("cancel requested"), default=False)
    language = models.CharField(_("language"), max_length=16, blank=True)
    seq = models.PositiveBigIntegerField(_("sequence"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{capfirst(self._meta.verbose_name)} #{self.pk}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse(
            "liveops_htmx:operation", kwargs={"model": self._meta.label_lower, "pk": self.pk}
        )

    def run(self, p: Progress) -> Any:
        """Do the work, reporting through ``p``."""
        raise NotImplementedError(f"{type(self).__name__} must implement run(self, p).")

    def start(self, runner: str | None = None) -> None:
        """Run this operation on the configured runner, once the current transaction commits."""
        from liveops_htmx.runners import start

        start(self, runner)

    def copy_inputs(self) -> LiveOperation:
        """Return an unsaved operation with this one's inputs: what "Run again" starts.

        Copies the model's own fields, owner and language; the live fields start
        over. Override it to leave out (or derive) fields a new run must not share.
        """
        copy = type(self)()
        kit_owned = {*LIVE_FIELDS, *BOOKKEEPING_FIELDS}
        for field in self._meta.concrete_fields:
            parent_link = field.one_to_one and getattr(field.remote_field, "parent_link", False)
            if field.primary_key or parent_link or field.name in kit_owned:
                continue
            if isinstance(field, models.AutoField):  # a parent model's key
                continue
            setattr(copy, field.attname, getattr(self, field.attname))
        return copy

    @property
    def is_finished(self) -> bool:
        return self.state in TERMINAL_STATES

    def user_can_view(self, user: AbstractBaseUser | AnonymousUser) -> bool:
        """Say whether ``user`` may see this operation (page, widget, list row and socket).

        The owner may, and so may users with the model's ``view`` permission
        (superusers have every permission). An operation without owner is visible to
        those users only, unless the model sets ``public = True``: then anyone who
        has its page (or its socket's token) may see it. Override to change.
        """
        if self.owner_id is None and self.public:
            return True
        return self._is_owner(user) or _has_model_perm(user, self, "view")

    def user_can_control(self, user: AbstractBaseUser | AnonymousUser) -> bool:
        """Say whether ``user`` may cancel this operation and run it again.

        The owner may, and so may users with the model's ``change`` permission
        (superusers have every permission). Being able to see an operation is not
        enough, and ``public`` does not open its controls. The views ask
        :meth:`user_can_view` first: a user who may control but not see gets a 404.
        Override to change.
        """
        return self._is_owner(user) or _has_model_perm(user, self, "change")

    def _is_owner(self, user: AbstractBaseUser | AnonymousUser) -> bool:
        return bool(
            self.owner_id is not None and user.is_authenticated and user.pk == self.owner_id
        )


def _has_model_perm(user: AbstractBaseUser | AnonymousUser, op: LiveOperation, action: str) -> bool:
    opts = op._meta
    has_perm = getattr(user, "has_perm", None)
    return bool(has_perm and has_perm(f"{opts.app_label}.{action}_{opts.model_name}"))
