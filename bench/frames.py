"""What a client reads out of a frame: the newest update number it carries, or the result."""

from __future__ import annotations

import json
import re

RESULT_SEQ = 1_000_000_000  # a result supersedes every update
NONE = -1
_STATUS = re.compile(r"\bi=(\d+)")
_PERCENT = re.compile(r'<progress [^>]*value="([\d.]+)"')


def seq_of(text: str, parse: str, marker: str, percent_n: int = 100) -> int:
    if marker in text:
        return RESULT_SEQ
    if parse == "percent":
        found = _PERCENT.search(text)
        return round(float(found.group(1)) * percent_n / 100) if found else NONE
    numbers = _STATUS.findall(text)
    return max(map(int, numbers)) if numbers else NONE


def poll_seq(body: bytes, marker: str) -> int:
    """The update a celery-progress poll shows (its description), or the result."""
    info = json.loads(body)
    if info.get("state") == "SUCCESS":
        return RESULT_SEQ
    progress = info.get("progress") or {}
    found = _STATUS.search(str(progress.get("description", "")))
    return int(found.group(1)) if found else NONE
