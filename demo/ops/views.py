from __future__ import annotations

from django.apps import apps
from django.forms import modelform_factory
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from demo.ops.forms import KINDS
from liveops_htmx.views import LiveOperationCreateView


def _form_class(kind: str):
    try:
        model_name, fields = KINDS[kind]
    except KeyError:
        raise Http404(kind) from None
    return apps.get_model("ops", model_name), modelform_factory(
        apps.get_model("ops", model_name), fields=fields
    )


def home(request: HttpRequest) -> HttpResponse:
    kinds = []
    for kind in KINDS:
        model, form = _form_class(kind)
        kinds.append({"kind": kind, "title": model._meta.verbose_name, "form": form(prefix=kind)})
    return render(request, "ops/home.html", {"kinds": kinds})


def start(request: HttpRequest, kind: str) -> HttpResponse:
    model, form = _form_class(kind)

    class Start(LiveOperationCreateView):
        form_class = form
        template_name = "ops/home.html"

        def get_form_kwargs(self):
            return {**super().get_form_kwargs(), "prefix": kind}

    return Start.as_view(model=model)(request)
