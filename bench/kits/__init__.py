"""Worker-side drivers, one per compared system; loaded inside a Django-configured process."""

from __future__ import annotations

import importlib
from typing import Any, Protocol


class Kit(Protocol):
    def prepare(self, count: int, owned: bool = False) -> list[dict[str, Any]]: ...

    def series(self, target: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]: ...

    def steady(self, target: dict[str, Any]) -> None: ...

    def track(self, n: int) -> dict[str, Any]: ...

    def wire(self) -> dict[str, Any]: ...


def load(system: str) -> Kit:
    module = importlib.import_module(f"bench.kits.{system}")
    kit: Kit = module.build()
    return kit
