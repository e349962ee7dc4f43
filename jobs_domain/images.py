"""Images sent by the app (report photos, reserve photos, signatures).

An upload is base64 (optionally a ``data:`` URL); its type is sniffed from the
magic number, never taken from the client. Domain objects refer to a stored image
by content hash (:class:`ImageRef`); the bytes live in storage.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Final

from jobs_domain.errors import invalid
from jobs_domain.filetypes import SNIFF_BYTES, sniff

# The default photo limit, the same as an upload's (CREWTRACK_MAX_ATTACHMENT_BYTES):
# a photo is a photo whether it arrives as multipart or inside JSON. Callers
# pass the configured limit; this is what a caller without settings gets.
MAX_IMAGE_BYTES: Final = 25 * 1024 * 1024


@dataclass(frozen=True)
class ImageRef:
    """A stored image: its content hash, type and size; the bytes live in storage."""

    sha256: str
    content_type: str
    size: int


@dataclass(frozen=True)
class Image:
    """A decoded image upload: bytes plus the type sniffed from its magic number."""

    data: bytes
    content_type: str

    @property
    def ref(self) -> ImageRef:
        return ImageRef(
            sha256=hashlib.sha256(self.data).hexdigest(),
            content_type=self.content_type,
            size=len(self.data),
        )


IMAGE_TYPES: Final = ("image/png", "image/jpeg", "image/webp")


def decode_image(
    value: object, pointer: str, *, max_bytes: int = MAX_IMAGE_BYTES
) -> Image:
    """Decode a base64 image (optionally a ``data:`` URL); PNG, JPEG or WebP only,
    at most ``max_bytes`` decoded."""
    if not isinstance(value, str) or not value:
        raise invalid(pointer, "must be a base64-encoded PNG, JPEG or WebP image")
    payload = value
    if payload.startswith("data:"):
        _, _, payload = payload.partition(",")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise invalid(pointer, "is not valid base64") from exc
    if len(data) > max_bytes:
        raise invalid(pointer, f"image is larger than {max_bytes} bytes")
    content_type = sniff(data[:SNIFF_BYTES])
    if content_type not in IMAGE_TYPES:
        raise invalid(pointer, "must be a PNG, JPEG or WebP image")
    return Image(data=data, content_type=content_type)


# --- templates ------------------------------------------------------------------
