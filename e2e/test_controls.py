"""Cancel, run again, hand over (chain_to) and the live list: all in place, no reload."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from e2e.site import (
    TIMEOUT,
    Document,
    Op,
    Site,
    Sockets,
    cancel_quietly,
    percent_of,
    start,
    token_payload,
)


def test_cancel_shows_cancelling_then_cancelled(page: Page, site: Site) -> None:
    op = start(page, site, "long", records=600)
    try:
        op.wait_percent(1)
        document = Document(page)
        op.watch("state", f"#op-status-{op.pk} .liveop-status__state")

        op.part("controls").get_by_role("button", name="Cancel").click()

        expect(op.state).to_have_text("Cancelled", timeout=TIMEOUT)
        expect(op.part("result")).to_have_text("Cancelled.")
        expect(op.part("controls").get_by_role("button", name="Run again")).to_be_visible()
        states = op.seen("state")
        assert "Cancelling…" in states, f"states seen: {states}"
        assert states.index("Cancelling…") < states.index("Cancelled"), states
        document.assert_same()
    finally:
        cancel_quietly(page, site, op)


def test_run_again_swaps_in_a_new_live_run_and_keeps_the_finished_one(
    page: Page, site: Site
) -> None:
    sockets = Sockets(page)
    op = start(page, site, "quick", items=40)
    expect(op.part("result")).to_have_text("Counted 40 items.", timeout=TIMEOUT)
    sockets.wait_closed(sockets.opened[0])
    document = Document(page)
    # Watch whichever widget the page shows: the new run's replaces this one.
    op.watch("percent", "div.liveop .liveop-progress__percent")
    op.watch("state", "div.liveop .liveop-status__state")

    op.part("controls").get_by_role("button", name="Run again").click()

    live = sockets.wait_for_live_socket(after=1)
    again = Op(page, op.model, token_payload(live.url)["p"])
    assert again.pk != op.pk, "a new run; the finished one is kept"
    page.wait_for_url(f"**{again.path}", timeout=TIMEOUT)  # the address follows, no navigation
    expect(again.state).to_have_text("Succeeded", timeout=TIMEOUT)
    expect(again.part("result")).to_have_text("Counted 40 items.")
    states = op.seen("state")
    assert "Running" in states or "Pending" in states, f"states seen after Run again: {states}"
    percents = [percent_of(text) for text in op.seen("percent")]
    assert any(p is not None and p < 100 for p in percents[1:]), f"percents seen: {percents}"
    assert percents[-1] == 100
    document.assert_same()
    first = page.context.new_page()
    first.goto(site.url + op.path)
    expect(Op(first, op.model, op.pk).part("result")).to_have_text("Counted 40 items.")
    first.close()


def test_chain_replaces_the_widget_with_the_next_operation(page: Page, site: Site) -> None:
    sockets = Sockets(page)
    pipeline = start(page, site, "pipeline")
    document = Document(page)
    sockets.wait_for_count(1)
    first = sockets.opened[0]

    # The pipeline's widget gives way to the report's (another model, its own pk).
    report_root = page.locator("div.liveop[id^='op-root-']").filter(
        has=page.locator(".liveop-stages__item", has_text="Collect")
    )
    expect(report_root).to_have_count(1, timeout=TIMEOUT)
    report = Op(page, "ops.report", report_root.get_attribute("id").removeprefix("op-root-"))
    second = sockets.wait_for_live_socket(after=1)
    assert token_payload(first.url)["m"] == "ops.Pipeline"
    assert token_payload(first.url)["p"] == pipeline.pk
    assert token_payload(second.url)["m"] == "ops.Report"
    assert token_payload(second.url)["p"] == report.pk
    sockets.wait_closed(first)

    expect(report.part("result")).to_contain_text("Report of 12 rows is ready.", timeout=TIMEOUT)
    expect(page.locator("div.liveop")).to_have_count(1)
    expect(page.get_by_text("Preparing the data")).to_have_count(0)
    assert len(sockets.opened) == 2, sockets.urls
    document.assert_same()
    assert page.url.endswith(pipeline.path)  # the address still names the pipeline


def test_list_shows_a_new_operation_and_its_state_live(page: Page, site: Site) -> None:
    sockets = Sockets(page)
    page.goto(site.url + "/live/")
    sockets.wait_for_count(1)
    document = Document(page)
    rows = page.locator("ul#liveops-rows > li")
    before = rows.count()

    other = page.context.new_page()
    op = start(other, site, "quick", items=20)

    row = page.locator(f"li#liveop-row-ops-quick-{op.pk}")
    expect(row).to_be_visible(timeout=TIMEOUT)
    expect(rows.first).to_have_id(f"liveop-row-ops-quick-{op.pk}")
    expect(row.locator(".liveops-row__state")).to_have_text("Succeeded", timeout=TIMEOUT)
    expect(row).to_have_attribute("data-state", "succeeded")
    expect(rows).to_have_count(before + 1)
    document.assert_same()
    assert len(sockets.opened) == 1, sockets.urls
    assert not sockets.opened[0].is_closed()
