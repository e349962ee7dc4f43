"""What a file is, judged by its first bytes - never by its name or declared type."""

from __future__ import annotations

from typing import Final

SNIFF_BYTES: Final = 16  # enough for every signature below
_PREFIXES: Final = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)
_HEIC_BRANDS: Final = (b"ftypheic", b"ftypheix", b"ftypmif1")


def sniff(head: bytes) -> str | None:
    """The content type of a file starting with ``head``, if it is one we know."""
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:12] in _HEIC_BRANDS:
        return "image/heic"
    for prefix, content_type in _PREFIXES:
        if head.startswith(prefix):
            return content_type
    return None
