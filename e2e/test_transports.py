"""Live without WebSockets: where upgrades are refused, a run reports over Server-Sent
Events; where event streams fail as well, by polling; after the result, nothing more.
The list of operations stays live the same ways.

The demo here refuses every WebSocket upgrade with a 403, as a proxy that does not
pass them does; Playwright makes the event streams fail where a test says so. That
nothing is asked after the result is watched over polls of another page, which
follows a long import by polling (eight polls: four seconds, longer than Chromium
waits before an ``EventSource`` reconnects).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import pairwise

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from e2e.site import (
    TIMEOUT,
    Document,
    Op,
    Site,
    Traffic,
    cancel_quietly,
    percent_of,
    refuse_streams,
    start,
)

ROWS = 60  # about 6 s of run: long enough to watch its percent rise
QUIET_POLLS = 8


def increasing_run(values: list[int]) -> int:
    best = run = 1 if values else 0
    for before, after in pairwise(values):
        run = run + 1 if after > before else 1
        best = max(best, run)
    return best


class PollClock:
    """Another page that polls (its streams fail): each of its polls marks time."""

    def __init__(self, context: BrowserContext, site: Site) -> None:
        self.site = site
        self.page = context.new_page()
        refuse_streams(self.page)
        self.traffic = Traffic(self.page)
        self.op = start(self.page, site, "long", records=600)
        self.traffic.wait_count("poll", 1)

    def wait_polls(self, n: int) -> None:
        self.traffic.wait_count("poll", self.traffic.count("poll") + n)

    def close(self) -> None:
        cancel_quietly(self.page, self.site, self.op)
        self.page.close()


@pytest.fixture
def clock(page: Page, no_websocket_site: Site) -> Iterator[PollClock]:
    clock = PollClock(page.context, no_websocket_site)
    try:
        yield clock
    finally:
        clock.close()


def inert(op: Op) -> bool:
    """The transport element is there and opens nothing (no URL in any attribute)."""
    names = op.part("socket").evaluate("el => el.getAttributeNames()")
    return set(names) <= {"id", "hidden"}


def runs_live(page: Page, site: Site, traffic: Traffic, attribute: str) -> Op:
    """Start a report; see its percent rise on ``attribute``'s transport, then its result."""
    op = start(page, site, "report", rows=ROWS)
    document = Document(page)
    op.watch("percent", op.percent_selector)
    expect(op.part("socket")).to_have_attribute(attribute, re.compile("."), timeout=TIMEOUT)
    expect(op.part("result")).to_contain_text(f"Report of {ROWS} rows is ready.", timeout=TIMEOUT)
    expect(op.state).to_have_text("Succeeded")
    percents = [p for p in map(percent_of, op.seen("percent")) if p is not None]
    assert increasing_run(percents) >= 3, f"percent texts seen: {op.seen('percent')}"
    assert percents[-1] == 100
    numbers = [int(v) for v in op.log_lines.evaluate_all("els => els.map(e => e.value)")]
    assert numbers == list(range(1, len(range(0, ROWS, 4)) + 2))
    assert inert(op)
    document.assert_same()
    return op


def test_refused_websockets_fall_back_to_server_sent_events(
    page: Page, no_websocket_site: Site, clock: PollClock
) -> None:
    site = no_websocket_site
    traffic = Traffic(page)
    runs_live(page, site, traffic, "hx-sse:connect" if site.htmx == 4 else "sse-connect")
    assert traffic.sockets >= 1  # the WebSocket was tried first
    assert traffic.count("fallback?to=sse") == 1, traffic.requests
    assert traffic.count("events") == 1, traffic.requests
    assert traffic.count("poll") == 0 and traffic.count("fallback?to=poll") == 0

    seen = list(traffic.requests)
    clock.wait_polls(QUIET_POLLS)
    assert traffic.requests == seen, "requests after the result"


def test_where_streams_fail_too_polling_keeps_the_page_live(
    page: Page, no_websocket_site: Site, clock: PollClock
) -> None:
    site = no_websocket_site
    refuse_streams(page)
    traffic = Traffic(page)
    runs_live(page, site, traffic, "hx-get")
    assert traffic.count("fallback?to=sse") == 1, traffic.requests
    assert traffic.count("fallback?to=poll") == 1, traffic.requests
    assert traffic.count("events") >= 1
    assert traffic.count("poll") >= 5, traffic.requests  # every 0.5 s over a 6 s run

    seen = list(traffic.requests)
    clock.wait_polls(QUIET_POLLS)
    assert traffic.requests == seen, "requests after the result"


@pytest.mark.parametrize("over", ["events", "poll"])
def test_the_list_stays_live_without_websockets(
    page: Page, no_websocket_site: Site, over: str
) -> None:
    site = no_websocket_site
    if over == "poll":
        refuse_streams(page)
    traffic = Traffic(page)
    page.goto(site.url + "/live/")
    traffic.wait_count(over, 1)
    document = Document(page)
    rows = page.locator("ul#liveops-rows > li")
    before = rows.count()

    other = page.context.new_page()
    op = start(other, site, "quick", items=20)

    row = page.locator(f"li#liveop-row-ops-quick-{op.pk}")
    expect(row).to_be_visible(timeout=TIMEOUT)
    expect(rows.first).to_have_id(f"liveop-row-ops-quick-{op.pk}")
    expect(row.locator(".liveops-row__state")).to_have_text("Succeeded", timeout=TIMEOUT)
    expect(rows).to_have_count(before + 1)
    document.assert_same()
    assert traffic.count("fallback?to=sse") == 1, traffic.requests
    if over == "events":
        assert traffic.count("events") == 1 and traffic.count("poll") == 0, traffic.requests
    else:
        assert traffic.count("fallback?to=poll") == 1, traffic.requests
