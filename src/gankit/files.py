"""Writing files so that a crash never leaves half of one: results a run took minutes or hours
to make are replaced whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomically(path: Path, content: bytes | str) -> None:
    """Write ``content`` to ``path`` so that a crash leaves either the old file or the new one.

    The bytes go to a temporary file beside ``path``, reach the disk (fsync), and are renamed
    over ``path`` in one step; the folder is synced too, so that the rename itself lasts.
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
