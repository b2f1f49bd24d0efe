from __future__ import annotations

import pytest

from liveops_htmx.progress import WebProgress
from liveops_htmx.rendering import fragments
from tests.markup import element
from tests.testapp.models import Paced, Report

pytestmark = pytest.mark.django_db(transaction=True)


class Chaining(Report):
    class Meta:
        proxy = True
        app_label = "testapp"

    def run(self, p):
        p.status("first part")
        p.chain_to(Paced(steps=1, delay=0))


def test_chain_to_finishes_here_and_starts_the_next_in_place(report, layer, settings):
    settings.LIVEOPS = {"RUNNER": "eager"}
    from liveops_htmx.testing import run_operation

    op = Chaining.objects.get(pk=report.pk)
    run_operation(op, layer)
    op.refresh_from_db()
    nxt = Paced.objects.get()
    assert op.state == "succeeded"
    assert nxt.owner == op.owner and nxt.state == "succeeded"
    chain = op.result_context["chained_to"]
    assert chain == {
        "model": "testapp.paced",
        "pk": str(nxt.pk),
        "operation": f"/live/testapp.paced/{nxt.pk}/",
        "widget": f"/live/testapp.paced/{nxt.pk}/widget/",
    }
    final = layer.messages(WebProgress(op, layer).group)[-1]["liveop_html"]
    loader = element(final, f"op-root-{op.pk}")
    assert 'hx-swap-oob="outerHTML"' in loader
    assert f'hx-get="/live/testapp.paced/{nxt.pk}/widget/" hx-trigger="load"' in loader
    assert "op-socket" not in final  # the old widget, socket element and all, is replaced


def test_a_chained_operation_renders_as_the_loader_everywhere(report):
    report.state = "succeeded"
    report.result_context = {"chained_to": {"widget": "/w/", "model": "x", "pk": "1"}}
    assert 'hx-get="/w/"' in fragments.widget(report, "")
    assert 'hx-get="/w/"' in fragments.snapshot(report)
    report.result_context = {"chained_to": {"model": "x", "pk": "1"}}  # no urls included
    assert fragments.snapshot(report).endswith("hidden></div>")
