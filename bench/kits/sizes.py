"""Byte counts of a frame: as sent, and as one permessage-deflate message."""

from __future__ import annotations

import zlib


def deflated(text: str) -> int:
    """Bytes of ``text`` as one permessage-deflate message without context takeover."""
    packer = zlib.compressobj(wbits=-15)
    return len(packer.compress(text.encode()) + packer.flush(zlib.Z_SYNC_FLUSH)) - 4
