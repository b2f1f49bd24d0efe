"""An operation reports to its page live, and a page rendered later starts from the truth."""

from __future__ import annotations

from itertools import pairwise

from playwright.sync_api import Page, expect

from demo import htmx_release
from e2e.servers import Htmx
from e2e.site import TIMEOUT, Document, Op, Site, Sockets, percent_of, start
from liveops_htmx.conf import DEFAULTS


def increasing_run(values: list[int]) -> int:
    """Length of the longest run of strictly increasing consecutive values."""
    best = run = 1 if values else 0
    for before, after in pairwise(values):
        run = run + 1 if after > before else 1
        best = max(best, run)
    return best


def test_the_page_runs_the_htmx_of_its_variant(page: Page, site: Site, htmx: Htmx) -> None:
    page.goto(site.url + "/")
    srcs = page.locator("head script[src]").evaluate_all("els => els.map(e => e.src)")
    scripts = [src.removeprefix(site.url + "/static/") for src in srcs]
    version = page.evaluate("() => htmx.version")
    if htmx.release:
        assert version == htmx_release.fetched_version()
        assert scripts == list(htmx_release.SCRIPTS)
    else:
        assert version.startswith(f"{htmx.major}."), version
        n = htmx.major  # then django-htmx's own script, with DEBUG
        assert scripts[:2] == [f"django_htmx/htmx-{n}.min.js", f"django_htmx/ext/hx-ws-{n}.min.js"]


def test_progress_advances_and_result_appears_in_place(page: Page, site: Site) -> None:
    sockets = Sockets(page)
    op = start(page, site, "report", rows=40)
    document = Document(page)
    op.watch("percent", op.percent_selector)
    op.watch("log", f"#op-log-lines-{op.pk}")

    expect(op.part("result")).to_contain_text("Report of 40 rows is ready.", timeout=TIMEOUT)
    expect(op.state).to_have_text("Succeeded")

    percents = [p for p in map(percent_of, op.seen("percent")) if p is not None]
    # Each track counts up on its own: the rows' loop alone shows several steps.
    assert increasing_run(percents) >= 3, f"percent texts seen: {op.seen('percent')}"
    assert percents[-1] == 100
    # Log lines arrived one flush at a time, not all with the result.
    assert len(op.seen("log")) >= 3, f"log texts seen: {op.seen('log')}"
    expect(op.log_lines).to_have_count(11)  # "Read row 1, 5, ... 37" and "Found n patterns"
    numbers = [int(v) for v in op.log_lines.evaluate_all("els => els.map(e => e.value)")]
    assert numbers == list(range(1, 12))
    expect(op.log_lines.first).to_have_text("Read row 1")
    expect(op.part("progress").get_by_role("progressbar")).to_have_attribute("value", "100.0")
    document.assert_same()
    assert len(sockets.opened) == 1, sockets.urls
    # The last frame swapped the socket element out, so htmx closed the socket; the
    # server would have waited CLOSE_GRACE for that before closing it itself.
    sockets.wait_closed(sockets.opened[0], timeout=DEFAULTS["CLOSE_GRACE"] * 1000 / 2)


def test_progress_inside_one_transaction_rises_on_the_page(page: Page, site: Site) -> None:
    """run() does all its work in one atomic() block: the page still sees it move."""
    op = start(page, site, "atomic", records=60)
    op.watch("percent", op.percent_selector)
    expect(op.part("result")).to_contain_text("Imported 60 records.", timeout=TIMEOUT)
    percents = [p for p in map(percent_of, op.seen("percent")) if p is not None]
    before_the_end = [p for p in percents if 0 < p < 100]
    assert len(before_the_end) >= 3, f"percent texts seen: {op.seen('percent')}"
    assert increasing_run(percents) >= 3


def test_finished_operation_shows_result_and_opens_no_socket(page: Page, site: Site) -> None:
    op = start(page, site, "quick", items=10)
    expect(op.part("result")).to_contain_text("Counted 10 items.", timeout=TIMEOUT)

    viewer = page.context.new_page()
    sockets = Sockets(viewer)
    with viewer.expect_response(site.url + op.path) as response:
        viewer.goto(site.url + op.path)
    html = response.value.text()
    assert "ws-connect" not in html and "hx-ws:connect" not in html
    viewer.wait_for_function("() => window.htmx !== undefined")
    viewer.wait_for_load_state("networkidle")

    again = Op(viewer, op.model, op.pk)
    expect(again.part("result")).to_have_text("Counted 10 items.")
    expect(again.state).to_have_text("Succeeded")
    assert again.percent() == 100
    expect(viewer.locator("[ws-connect], [hx-ws\\:connect]")).to_have_count(0)
    expect(again.part("socket")).to_have_count(0)
    assert sockets.opened == [], sockets.urls


def test_viewer_arriving_mid_run_sees_the_real_percent_at_once(page: Page, site: Site) -> None:
    op = start(page, site, "report", rows=40)
    shown = op.wait_percent(20)

    viewer = page.context.new_page()
    # Runs before the page's scripts: the DOM as the server rendered it, before any frame.
    viewer.add_init_script(
        """document.addEventListener("DOMContentLoaded", () => {
            const el = document.querySelector(".liveop-progress__percent");
            const bar = document.querySelector("progress.liveop-progress__bar");
            window.__e2eFirst = {
                text: el ? el.textContent.trim() : null,
                value: bar ? bar.getAttribute("value") : null,
            };
        });"""
    )
    with viewer.expect_response(site.url + op.path) as response:
        viewer.goto(site.url + op.path)
    first = viewer.evaluate("() => window.__e2eFirst")
    served = percent_of(first["text"])
    assert served is not None and served > 0, f"first rendering: {first}"
    assert served >= shown, f"the page showed {shown}% before; a new viewer got {served}%"
    assert float(first["value"]) >= shown
    assert f">{served}%</span>" in response.value.text()

    # From there it goes on live.
    again = Op(viewer, op.model, op.pk)
    again.wait_percent(served + 10)
