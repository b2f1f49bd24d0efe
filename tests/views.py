from __future__ import annotations

from django.shortcuts import get_object_or_404, render

from tests.testapp.models import Report


def show(request, pk):
    op = get_object_or_404(Report, pk=pk)
    return render(request, "show.html", {"op": op, "htmx": int(request.GET.get("htmx", 2))})
