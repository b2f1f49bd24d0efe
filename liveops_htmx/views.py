"""Pages: an operation, the user's list, and the htmx POSTs that cancel and restart.

Include ``liveops_htmx.urls`` (namespace ``liveops_htmx``). Every view asks
``op.user_can_view(request.user)``; an operation the user may not see is a 404, so
its existence does not leak. Cancel and restart also ask
``op.user_can_control(request.user)``: a user who may only look gets a 403.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import transaction
from django.forms import ModelForm
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template import Context, Template
from django.template.response import TemplateResponse
from django.utils import translation
from django.utils.html import format_html
from django.views import View
from django.views.generic import CreateView, TemplateView

from liveops_htmx import control
from liveops_htmx.conf import conf
from liveops_htmx.models import LiveOperation
from liveops_htmx.registry import model_for


def template_for(model: type[LiveOperation]) -> str:
    """``<app_label>/<model_name>.html`` for ``model`` (``LongImport`` -> ``longimport``).

    Django's own naming, as for the partials (``<app_label>/<model_name>_liveop.html``).
    """
    return f"{model._meta.app_label}/{model._meta.model_name}.html"


BUNDLED_PAGE = "liveops_htmx/operation.html"


def get_operation(
    request: HttpRequest, model: str, pk: str, *, control: bool = False
) -> LiveOperation:
    """The operation ``request.user`` may see (404 otherwise); with ``control``, also
    one they may cancel and restart (403 if they may see it but not control it)."""
    try:
        model_class = model_for(model)
    except LookupError:
        raise Http404("No such operation.") from None
    try:
        op = model_class._default_manager.get(pk=pk)
    except (ObjectDoesNotExist, ValidationError, ValueError):
        raise Http404("No such operation.") from None
    if not op.user_can_view(request.user):
        raise Http404("No such operation.")
    if control and not op.user_can_control(request.user):
        raise PermissionDenied("You may not control this operation.")
    return op


class OperationView(View):
    """The operation's page: ``<app_label>/<model_name>.html``, else the bundled one."""

    def get(self, request: HttpRequest, model: str, pk: str) -> HttpResponse:
        op = get_operation(request, model, pk)
        names = [template_for(type(op)), BUNDLED_PAGE]
        return TemplateResponse(request, names, {"op": op, "base_template": conf.BASE_TEMPLATE})


_WIDGET = Template("{% load liveops_htmx %}{% liveop op %}")


class WidgetView(View):
    """Just the widget: what a chain or a restart swaps in (with this viewer's own token)."""

    def get(self, request: HttpRequest, model: str, pk: str) -> HttpResponse:
        op = get_operation(request, model, pk)
        html = _WIDGET.render(Context({"op": op, "request": request}))
        if _on_bundled_page(request):  # a chain or a run again: the heading names the new one
            html += format_html('<h1 id="{}" hx-swap-oob="true">{}</h1>', HEADING, op)
        return HttpResponse(html)


#: The id of the bundled operation page's heading.
HEADING = "liveop-heading"


def _on_bundled_page(request: HttpRequest) -> bool:
    """True when htmx asks from an operation page that renders the bundled template."""
    from django.template.loader import select_template
    from django.urls import Resolver404, resolve

    current = request.headers.get("HX-Current-URL")
    if not current:
        return False
    try:
        match = resolve(urlsplit(current).path)
    except Resolver404:
        return False
    if match.view_name != "liveops_htmx:operation":
        return False
    try:
        model = model_for(match.kwargs["model"])
    except LookupError:
        return False
    page = select_template([template_for(model), BUNDLED_PAGE])
    return bool(page.origin.template_name == BUNDLED_PAGE)


def _back(request: HttpRequest, op: LiveOperation) -> HttpResponse:
    if request.headers.get("HX-Request"):
        return HttpResponse(status=204)
    return HttpResponseRedirect(op.get_absolute_url())


class CancelView(View):
    """POST: ask the operation to stop; the page shows "Cancelling…", then "Cancelled"."""

    def post(self, request: HttpRequest, model: str, pk: str) -> HttpResponse:
        op = get_operation(request, model, pk, control=True)
        control.request_cancel(op)
        return _back(request, op)


class RestartView(View):
    """POST: run a finished operation again, as a new one; htmx swaps in its live widget.

    The finished run stays as it was (its page, its row in the list). On the
    operation's own page the address moves to the new run's.
    """

    def post(self, request: HttpRequest, model: str, pk: str) -> HttpResponse:
        op = get_operation(request, model, pk, control=True)
        again = control.run_again(op) or op  # a run still under way is shown as it is
        if not request.headers.get("HX-Request"):
            return HttpResponseRedirect(again.get_absolute_url())
        response = WidgetView().get(request, again._meta.label_lower, str(again.pk))
        current = request.headers.get("HX-Current-URL", "")
        if again is not op and urlsplit(current).path == op.get_absolute_url():
            response["HX-Push-Url"] = again.get_absolute_url()
        return response


class OperationListView(LoginRequiredMixin, TemplateView):
    """The user's operations, newest first; rows update live over one socket."""

    template_name = "liveops_htmx/operation_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "base_template": conf.BASE_TEMPLATE}


class LiveOperationCreateMixin:
    """For a ``CreateView`` of an operation model: save, start, go to its page.

    The owner is the signed-in user and the language the active one; the
    operation starts on the configured runner when the transaction commits.
    """

    request: HttpRequest
    object: LiveOperation

    def form_valid(self, form: ModelForm[Any]) -> HttpResponse:
        op = form.save(commit=False)
        if self.request.user.is_authenticated:
            op.owner = self.request.user
        op.language = op.language or translation.get_language() or ""
        with transaction.atomic():
            op.save()
            form.save_m2m()
            op.start()
        self.object = op
        return redirect(op.get_absolute_url())


class LiveOperationCreateView(LiveOperationCreateMixin, CreateView):  # type: ignore[misc,type-arg]
    """``LiveOperationCreateView.as_view(model=MyOp, fields=[...])``."""
