"""Atomic file writes: a temporary file in the target's folder, then one rename onto the target."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["publish", "write_text_atomic"]


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def publish(tmp: str | Path, path: str | Path) -> None:
    """Give a finished temporary file normal permissions and rename it onto ``path`` (atomic)."""
    os.chmod(tmp, 0o666 & ~_UMASK)
    os.replace(tmp, path)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one, never a part."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
