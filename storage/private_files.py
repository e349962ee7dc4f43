"""Files only their owner may read (secrets under the home, server configs)."""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``, readable by the owner only (0600) from the
    first byte: the file is created with that mode, never chmod-ed after the
    secret is already in it, and swapped in atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # a leftover tmp file keeps its old mode otherwise
        with os.fdopen(fd, "w") as out:
            fd = -1
            out.write(text)
    finally:
        if fd != -1:
            os.close(fd)
    tmp.replace(path)
