"""The progress region is a polite live region around a labelled native progress bar."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from e2e.site import Site, start


def test_progress_is_a_polite_live_region_with_a_labelled_bar(page: Page, site: Site) -> None:
    op = start(page, site, "report", rows=40)
    shown = op.wait_percent(10)
    region = op.part("progress")
    expect(region).to_have_attribute("aria-live", "polite")
    bar = region.get_by_role("progressbar", name="Rows")
    expect(bar).to_be_visible()
    expect(bar).to_have_id(f"op-bar-{op.pk}")
    snapshot = region.aria_snapshot()
    assert re.search(r'^- progressbar "Rows": \d+%$', snapshot, re.MULTILINE), snapshot

    # Updates swap the region's inside: the live region itself stays, so it announces.
    region.evaluate("el => { el.__e2eKept = true; }")
    op.wait_percent(shown + 10)
    assert region.evaluate("el => el.__e2eKept === true"), "the live region was replaced"
    expect(region).to_have_attribute("aria-live", "polite")
    expect(op.part("status")).to_have_attribute("role", "status")
