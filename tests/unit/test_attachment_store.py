"""The attachment store keeps bytes by their hash, from any stream of chunks."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jobs_domain.errors import InvalidInput
from storage.attachments import path_for, store

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 100


def files_under(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.is_file())


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_the_same_bytes_sent_in_any_chunks_are_stored_once_under_their_hash(
    tmp_path: Path,
) -> None:
    first = await store(
        chunks(PNG), root=tmp_path, max_bytes=1000, declared_type="image/png"
    )
    again = await store(
        chunks(PNG[:3], PNG[3:50], PNG[50:]),
        root=tmp_path,
        max_bytes=1000,
        declared_type="",
    )

    assert first == again
    assert first.sha256 == hashlib.sha256(PNG).hexdigest()
    assert (first.size, first.content_type) == (len(PNG), "image/png")
    assert path_for(tmp_path, first.sha256).read_bytes() == PNG
    assert files_under(tmp_path) == [first.sha256]


@pytest.mark.parametrize(
    ("content", "declared", "detail"),
    [
        (b"", "", "is empty"),
        (PNG, "image/png", "larger than 50 bytes"),
        (b"plain text, not a photo", "", "type not accepted"),
        (PNG[:40], "application/pdf", "declared application/pdf but the content is"),
    ],
)
async def test_a_refused_file_leaves_nothing_behind(
    tmp_path: Path, content: bytes, declared: str, detail: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await store(
            chunks(content), root=tmp_path, max_bytes=50, declared_type=declared
        )

    [problem] = refused.value.problems
    assert problem.pointer == "/file"
    assert problem.message.startswith(detail)
    assert files_under(tmp_path) == []
