"""Count database statements (by verb) while a block runs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection


@contextmanager
def statements() -> Iterator[Counter[str]]:
    seen: Counter[str] = Counter()

    def wrapper(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        seen[sql.lstrip().split(" ", 1)[0].upper()] += 1
        return execute(sql, *args)

    with connection.execute_wrapper(wrapper):
        yield seen
