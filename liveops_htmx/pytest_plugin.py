"""pytest fixtures for testing operations: ``pytest_plugins = ["liveops_htmx.pytest_plugin"]``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from liveops_htmx.testing import CapturingChannelLayer, ManualClock


@pytest.fixture
def liveops_layer() -> Iterator[CapturingChannelLayer]:
    """A capturing channel layer; pass it to ``WebProgress`` or ``run_operation``."""
    layer = CapturingChannelLayer()
    yield layer
    layer.clear()


@pytest.fixture
def liveops_clock() -> ManualClock:
    """A clock the test advances by hand, to step over the flush interval."""
    return ManualClock()
