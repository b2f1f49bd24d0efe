"""The wire protocol: group names, and which messages a waiting push may merge with."""

from __future__ import annotations

from liveops_htmx.rendering import protocol


def update(seq, parts, log=(), *, milestone=False, base=None, **extra):
    parts = dict(parts)
    log = list(log)
    return {
        "type": protocol.UPDATE,
        protocol.GROUP: "liveop.testapp.report.1",
        "seq": seq,
        "base": seq - 1 if base is None else base,
        "parts": parts,
        "log": log,
        "liveop_html": "".join(parts.values()) + "".join(c[2] for c in log),
        "lifecycle": milestone,
        "milestone": milestone,
        "terminal": False,
        **extra,
    }


def test_two_writes_in_a_row_merge_newest_part_wins_and_log_appends_add_up():
    first = update(5, {"status": "<s5>", "progress": "<p5>"}, [(3, 3, "<l3>")])
    second = update(6, {"progress": "<p6>"}, [(4, 5, "<l4-5>")])
    merged = protocol.merge(first, second)
    assert merged["seq"] == 6 and merged["base"] == 4
    assert merged["parts"] == {"status": "<s5>", "progress": "<p6>"}
    assert merged["log"] == [(3, 3, "<l3>"), (4, 5, "<l4-5>")]
    assert merged["liveop_html"] == "<s5><p6><l3><l4-5>"


def test_a_milestone_is_never_merged_past_and_a_chain_must_be_unbroken():
    stage = update(5, {"stages": "<st5>"}, milestone=True)
    assert protocol.merge(stage, update(6, {"progress": "<p6>"})) is None
    assert protocol.merge(update(5, {"a": "1"}), update(7, {"a": "2"}, base=6)) is None
    # A milestone may land on what waits: it closes the merged push.
    merged = protocol.merge(
        update(5, {"progress": "<p5>"}), update(6, {"stages": "<s>"}, milestone=True)
    )
    assert merged["milestone"] and merged["lifecycle"]


def test_resets_and_half_full_pairs_stay_apart_and_full_pairs_keep_the_newest_whole():
    plain, full = update(5, {"a": "1"}), update(6, {"a": "2"}, full={"parts": {"a": "2"}})
    assert protocol.merge(plain, full) is None
    reset = update(6, {"a": "2"}, reset=True, last_line=0)
    assert protocol.merge(plain, reset) is None
    both = protocol.merge(update(5, {"a": "1"}, full={"parts": {"a": "1"}}), full)
    assert both["full"] == {"parts": {"a": "2"}}


def test_controllers_parts_merge_and_their_frame_is_recomposed():
    first = update(5, {"controls": "<c>"}, controller_parts={"controls": "<C>"})
    merged = protocol.merge(first, update(6, {"progress": "<p6>"}))
    assert merged[protocol.CONTROLLER_PARTS] == {"controls": "<C>"}
    assert merged[protocol.CONTROLLER_HTML] == "<C><p6>"


def test_rows_merge_only_with_a_rendering_of_the_same_row():
    row = {"type": protocol.ROW, protocol.GROUP: "liveops.user.1", "key": "a-b-1", "seq": 3}
    newer = {**row, "seq": 4}
    assert protocol.merge(row, newer) is newer
    assert protocol.merge(newer, row) is newer  # queued out of order: the newer stays
    assert protocol.merge(row, {**newer, "key": "a-b-2"}) is None
    assert protocol.merge(row, update(4, {})) is None
