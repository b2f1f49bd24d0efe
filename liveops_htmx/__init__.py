"""Live operations for Django pages, pushed as htmx out-of-band fragments."""

from __future__ import annotations

__version__ = "0.1.0.dev0"
