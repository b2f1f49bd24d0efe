from __future__ import annotations

from liveops_htmx.serverside.outbox import Offer, Outbox, Snapshot
from tests.helpers import push, snap, synced


def test_pushes_before_the_first_snapshot_are_held_then_filtered():
    box = Outbox()
    assert box.offer(push(3)) is Offer.HELD
    assert box.offer(push(4)) is Offer.HELD
    assert box.offer_snapshot(snap(3)) == [Offer.STALE, Offer.QUEUED]
    frame = box.pop()
    assert frame.text() == "<s3><p4>"  # the held push merged into the snapshot frame
    assert box.pop() is None


def test_a_push_that_skips_ahead_is_a_gap_and_waits_for_a_snapshot():
    box = synced(1)
    assert box.offer(push(3)) is Offer.GAP
    assert box.offer(push(4)) is Offer.HELD
    assert box.offer_snapshot(snap(3)) == [Offer.STALE, Offer.QUEUED]
    assert box.pop().text() == "<s3><p4>"


def test_a_stale_snapshot_keeps_newer_frames():
    box = synced(5)
    box.offer(push(6))
    assert box.offer_snapshot(snap(4)) == []
    assert box.pop().text() == "<p6>"


def test_a_busy_socket_gets_the_latest_part_not_a_backlog():
    box = synced(1)
    for seq in range(2, 12):
        assert box.offer(push(seq)) is Offer.QUEUED
    assert len(box.frames) == 1
    frame = box.pop()
    assert frame.seq == 11
    assert frame.text() == "<p11>"


def test_a_single_push_is_sent_as_it_came():
    box = synced(1)
    msg = push(2)
    msg["liveop_html"] = "exact text"
    box.offer(msg)
    assert box.pop().text() == "exact text"


def test_log_appends_are_merged_never_dropped_nor_repeated():
    box = synced(1, last_line=2)
    box.offer(push(2, log=[(1, 3, "<l1-3>")]))  # overlaps what the snapshot held
    box.offer(push(3, log=[(4, 5, "<l4-5>")]))
    frame = box.pop()
    assert [tuple(chunk[:2]) for chunk in frame.log] == [(1, 3), (4, 5)]
    assert frame.text().endswith("<l1-3><l4-5>")
    assert box.last_line == 5
    box.offer(push(4, log=[(3, 5, "<again>")]))  # already held: filtered out
    assert "<again>" not in box.pop().text()


def test_a_lifecycle_push_is_never_overwritten_before_it_is_sent():
    box = synced(1)
    box.offer(push(2, {"status": "<running>"}, lifecycle=True))
    box.offer(push(3, {"status": "<later>"}))
    first, second = box.pop(), box.pop()
    assert first.text() == "<running>"
    assert second.text() == "<later>"


def test_a_status_text_is_superseded_by_the_next_but_never_merged_past_a_milestone():
    box = synced(1)
    box.offer(push(2, {"status": "<a>"}, lifecycle=True, milestone=False))
    box.offer(push(3, {"status": "<b>"}, lifecycle=True, milestone=False))
    box.offer(push(4, {"stages": "<stage B>"}, lifecycle=True, milestone=True))
    box.offer(push(5, {"status": "<c>"}, lifecycle=True, milestone=False))
    box.offer(push(6, {"status": "<d>"}, lifecycle=True, milestone=False))
    assert [f.text() for f in box.frames] == ["<b><stage B>", "<d>"]


def test_progress_merges_into_a_waiting_lifecycle_frame_only_before_it():
    box = synced(1)
    box.offer(push(2, {"progress": "<10%>"}))
    box.offer(push(3, {"stages": "<stage B>"}, lifecycle=True))
    box.offer(push(4, {"progress": "<90%>"}))
    assert [f.text() for f in box.frames] == ["<10%><stage B>", "<90%>"]


def test_the_terminal_push_closes_its_frame():
    box = synced(1)
    box.offer(push(2))
    box.offer(push(3, {"result": "<done>"}, terminal=True))
    frame = box.pop()
    assert frame.terminal
    assert frame.text() == "<p2><done>"
    assert box.offer(push(3)) is Offer.STALE


def test_a_snapshot_frame_is_composed_with_the_socket_closer_last():
    box = Outbox()
    parts = {"socket": "<closer>", "status": "<s>"}
    box.offer_snapshot(Snapshot(seq=7, parts=parts, last_line=0, terminal=True))
    frame = box.pop()
    assert frame.terminal
    assert frame.text() == "<s><closer>"


def row(key, seq, html=None):
    return {"type": "liveop.row", "key": key, "seq": seq, "html": html or f"<li id={key}-{seq}>"}


def test_a_list_inserts_new_rows_and_updates_known_ones_in_place():
    from liveops_htmx.serverside.outbox import ListSnapshot, RowOutbox

    box = RowOutbox()
    assert box.offer(row("a", 1)) is Offer.HELD
    box.offer_snapshot(ListSnapshot(html="<ul>", rows={"a": 2}))
    assert box.pop().text() == "<ul>"  # the held row was older than the list
    assert box.offer(row("b", 1)) is Offer.QUEUED
    assert box.offer(row("b", 2)) is Offer.QUEUED  # still an insert: b never reached the page
    assert box.offer(row("a", 3)) is Offer.QUEUED
    assert box.offer(row("a", 3)) is Offer.STALE
    text = box.pop().text()
    assert text == '<div hx-swap-oob="afterbegin:#liveops-rows"><li id=b-2></div>' + (
        '<li hx-swap-oob="outerHTML" id=a-3>'
    )
    assert box.pop() is None


def test_a_periodic_list_check_that_finds_nothing_new_sends_nothing():
    from liveops_htmx.serverside.outbox import ListSnapshot, RowOutbox

    box = RowOutbox()
    box.offer_snapshot(ListSnapshot(html="<ul>", rows={"a": 2}))
    box.pop()
    assert box.offer_snapshot(ListSnapshot(html="<ul>", rows={"a": 2})) == []
    assert not box.ready()
    box.offer_snapshot(ListSnapshot(html="<ul2>", rows={"a": 3}))
    assert box.pop().text() == "<ul2>"


def test_log_appends_never_share_a_frame_with_a_whole_log():
    # htmx 4 resolves all targets of a frame first: the append would hit the old list.
    box = Outbox()
    box.offer(push(2, {"status": "<s2>"}, log=[(4, 4, "<l4>")]))
    box.offer(push(3, {"progress": "<p3>"}))
    box.offer_snapshot(
        Snapshot(seq=1, parts={"log": "<whole log 1-3>"}, last_line=3, terminal=False)
    )
    first, second = box.pop(), box.pop()
    assert first.text() == "<whole log 1-3>"
    assert second.text() == "<s2><p3><l4>"
    assert box.pop() is None


def test_a_push_whose_row_lags_is_taken_whole_by_a_viewer_behind_it():
    box = synced(3)
    lagging = push(9, {"progress": "<p9>"}, base=8)  # written in a transaction not yet committed
    lagging["full"] = {"parts": {"status": "<s9>", "progress": "<p9>"}, "last_line": 4}
    assert box.offer(lagging) is Offer.QUEUED
    assert box.pop().text() == "<s9><p9>"
    assert (box.last_seq, box.last_line) == (9, 4)
    assert box.offer(push(10)) is Offer.QUEUED  # and builds on it from then on


def test_a_viewer_in_step_takes_only_the_change_of_a_lagging_push():
    box = synced(8)
    lagging = push(9, {"progress": "<p9>"}, base=8)
    lagging["full"] = {"parts": {"status": "<s9>", "progress": "<p9>"}, "last_line": 0}
    box.offer(lagging)
    assert box.pop().text() == "<p9>"


def test_a_reset_replaces_whatever_a_viewer_holds_when_it_is_newer():
    box = synced(12, last_line=7)  # pushes that a rollback took back
    reset = push(13, {"status": "<s13>", "log": "<log 1-2>"}, base=5)
    reset.update(reset=True, last_line=2)
    assert box.offer(reset) is Offer.QUEUED
    assert box.pop().text() == "<s13><log 1-2>"
    assert (box.last_seq, box.last_line) == (13, 2)
    stale = push(13, base=5)
    stale.update(reset=True, last_line=2)
    assert box.offer(stale) is Offer.STALE


def test_a_controller_gets_the_controllers_rendering_of_the_controls_others_never_do():
    msg = push(2, {"status": "<s2>", "controls": "<c-look>"})
    msg["liveop_html"] = "<s2><c-look>"
    msg["controller_parts"] = {"controls": "<c-button>"}
    msg["controller_html"] = "<s2><c-button>"
    later = push(4, {"controls": "<c3-look>"})
    later["controller_parts"] = {"controls": "<c3-button>"}
    texts = {}
    for can_control in (False, True):
        box = synced(1)
        box.can_control = can_control
        box.offer(msg)
        exact = box.pop()
        assert exact.html is not None  # the push's own text, not composed per viewer
        box.offer(push(3, {"progress": "<p3>"}))
        box.offer(later)  # merges into the waiting frame
        texts[can_control] = (exact.text(), box.pop().text())
    assert texts[False] == ("<s2><c-look>", "<p3><c3-look>")
    assert texts[True] == ("<s2><c-button>", "<p3><c3-button>")


def test_a_snapshot_gives_each_audience_its_controls():
    snap = Snapshot(
        seq=4,
        parts={"status": "<s>", "controls": "<c-look>"},
        last_line=0,
        terminal=False,
        controller_parts={"controls": "<c-button>"},
    )
    for can_control, expected in ((False, "<s><c-look>"), (True, "<s><c-button>")):
        box = Outbox()
        box.can_control = can_control
        box.offer_snapshot(snap)
        assert box.pop().text() == expected
