from __future__ import annotations

import datetime
import decimal
import uuid

from django.utils.safestring import SafeData, mark_safe

from liveops_htmx import values


def test_a_context_round_trips_through_json_types():
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    stored = values.dump(
        {"when": when, "amount": decimal.Decimal("1.50"), "id": uuid.UUID(int=1), "rows": (1, 2)}
    )
    assert stored == {
        "when": "2026-01-02T03:04:05Z",
        "amount": "1.50",
        "id": "00000000-0000-0000-0000-000000000001",
        "rows": [1, 2],
    }
    assert values.load(stored) == stored


def test_safe_strings_stay_safe_at_any_depth():
    stored = values.dump({"a": mark_safe("<b>"), "b": [mark_safe("<i>"), "<u>"], "c": "<s>"})
    assert stored["a"] == {values.SAFE_MARK: "<b>"}
    loaded = values.load(stored)
    assert isinstance(loaded["a"], SafeData)
    assert isinstance(loaded["b"][0], SafeData)
    assert not isinstance(loaded["b"][1], SafeData)
    assert not isinstance(loaded["c"], SafeData)


def test_a_dict_that_merely_contains_the_mark_is_not_safe():
    stored = {values.SAFE_MARK: "<b>", "other": 1}
    assert not isinstance(values.load(stored)[values.SAFE_MARK], SafeData)
