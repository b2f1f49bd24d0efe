"""Tiny helpers to pick elements out of frames (our markup is regular enough)."""

from __future__ import annotations

import re


def element(html: str, dom_id: str) -> str:
    """The outer HTML of the element whose id is ``dom_id`` (raises if absent)."""
    start_match = re.search(rf'<(\w+)[^>]*\bid="{re.escape(dom_id)}"[^>]*>', html)
    if start_match is None:
        raise LookupError(dom_id)
    tag = start_match.group(1)
    depth, pos = 0, start_match.start()
    pattern = re.compile(rf"<(/?){tag}\b[^>]*>")
    for m in pattern.finditer(html, pos):
        depth += -1 if m.group(1) else 1
        if depth == 0:
            return html[start_match.start() : m.end()]
    raise ValueError(f"unclosed <{tag}> for {dom_id}")


def ids(html: str) -> list[str]:
    """Ids of the top-level out-of-band elements of a frame, in order."""
    return re.findall(r'<\w+ hx-swap-oob="[^"]*" id="([^"]+)"|<\w+ id="([^"]+)" hx-swap-oob', html)
