from __future__ import annotations

import datetime
import decimal
import uuid

import pytest
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


# -- result values that would become code ---------------------------------------------

BAD_URLS = [
    "javascript:alert(1)",
    " JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "\x01javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "mailto:someone@example.com",
    mark_safe("javascript:alert(1)"),
]
GOOD_URLS = [
    "https://example.com/a?b=c&d=e",
    "HTTP://example.com/",
    "/files/report.pdf",
    "files/report.pdf",
    "?page=2",
    "#top",
    "//cdn.example.com/x.pdf",
    "/a:b",
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_only_http_and_relative_urls_may_be_links(url):
    assert values.link_url(url) == ""


@pytest.mark.parametrize("url", GOOD_URLS)
def test_http_and_relative_urls_stay_as_they_are(url):
    assert values.link_url(url) == url


def test_a_link_is_plain_text_even_if_marked_safe():
    assert not isinstance(values.link_url(mark_safe("/a?b=1&c=2")), SafeData)
    assert values.link_url(None) == values.link_url(42) == ""


@pytest.mark.parametrize(
    "result",
    [
        {"chained_to": {"widget": "https://evil.example/"}},
        {"message": "ok", "data": {values.SAFE_MARK: "<script>alert(1)</script>"}},
        {"rows": [1, {"x": [{values.SAFE_MARK: "<img src=x onerror=alert(1)>"}]}]},
    ],
)
def test_names_the_kit_uses_itself_are_refused_naming_the_key(result):
    key = "chained_to" if "chained_to" in result else values.SAFE_MARK
    with pytest.raises(values.ResultKeyError, match=key):
        values.check_result(result)
    assert issubclass(values.ResultKeyError, ValueError)


def test_safe_values_and_ordinary_keys_pass():
    values.check_result({"message": mark_safe("<b>ok</b>"), "url": "/x", "n": [1, {"a": 2}]})
