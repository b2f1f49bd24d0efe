"""The server restarts mid-run: the page reconnects by itself and catches up, no reload.

The scaled shape: the operation runs in ``db_worker`` and reports through Redis, so
it goes on while the ASGI server is down. The server is killed (its sockets end
without a closing handshake: 1006, which every htmx here retries) and started
again on the same port.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from e2e.servers import Htmx, Server
from e2e.site import Document, Site, Sockets, percent_of, start, token_payload

ROWS = 160  # about 13 s of reading rows: the server restarts well within them


def log_in_frames(sockets: Sockets, pk: str) -> list[str]:
    """Per frame after the first socket: "snapshot 1-15" or "append 16-16"."""
    found = []
    for ws in sockets.opened[1:]:
        for frame in sockets.received(ws):
            numbers = [int(n) for n in re.findall(r'<li value="(\d+)"', frame)]
            kind = "snapshot" if f'id="op-log-{pk}"' in frame else "append"
            if numbers:
                found.append(f"{kind} {numbers[0]}-{numbers[-1]}")
    return found


def test_page_reconnects_after_a_server_restart_and_catches_up(
    page: Page, scaled_server: Server, htmx: Htmx
) -> None:
    site = Site(scaled_server.url, htmx.major)
    sockets = Sockets(page)
    op = start(page, site, "report", rows=ROWS)
    document = Document(page)
    sockets.wait_for_count(1)
    before = op.wait_percent(8)

    scaled_server.kill()
    sockets.wait_closed(sockets.opened[0])
    lines_at_kill = op.log_lines.count()
    scaled_server.start()

    # htmx retries with a growing, jittered delay; attempts while the port was closed fail.
    live = sockets.wait_for_live_socket(after=1, timeout=30_000)
    assert token_payload(live.url) == token_payload(sockets.opened[0].url)
    # Its first frame is the snapshot read from the row: every part, with the progress
    # the worker made while the server was down.
    snapshot = sockets.received(live)[0]
    for part in ("status", "progress", "stages", "log", "result", "error", "controls"):
        assert f'id="op-{part}-{op.pk}"' in snapshot, part
    assert 'data-state="running"' in snapshot
    caught_up = percent_of(re.search(r'liveop-progress__percent">([^<]*)<', snapshot)[1])
    assert caught_up is not None and caught_up > before, f"{before}% then {caught_up}%"
    op.wait_percent(caught_up)
    expect(op.part("result")).to_contain_text(f"Report of {ROWS} rows is ready.", timeout=30_000)
    expect(op.state).to_have_text("Succeeded")

    lines = [int(v) for v in op.log_lines.evaluate_all("els => els.map(e => e.value)")]
    expected = len(range(0, ROWS, 4)) + 1  # "Read row n" every 4th row, "Found n patterns"
    assert lines == list(range(1, expected + 1)), (
        f"log line numbers on the page: {lines}; "
        f"log lines in the frames after the restart: {log_in_frames(sockets, op.pk)}"
    )
    assert lines_at_kill < expected
    expect(op.part("stages").locator("[data-state=done]")).to_have_count(3)
    document.assert_same()
    assert page.url.endswith(op.path)
