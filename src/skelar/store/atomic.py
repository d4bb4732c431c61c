"""Atomic file writes: a temporary file in the target's folder, then one rename onto the target."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

__all__ = ["publish", "write_text_atomic", "naming", "temporary_beside", "sweep_stale_files"]


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def publish(tmp: str | Path, path: str | Path) -> None:
    """Give a finished temporary file normal permissions and rename it onto ``path`` (atomic)."""
    os.chmod(tmp, 0o666 & ~_UMASK)
    os.replace(tmp, path)


@contextlib.contextmanager
def naming(path: str | Path) -> Iterator[None]:
    """Give OS errors raised inside the block without a file name (a failed ``write`` on a full disk) ``path``,
    so the one-line error says which file could not be written."""
    try:
        yield
    except OSError as e:
        if e.filename is None and e.errno:
            raise OSError(e.errno, e.strerror or os.strerror(e.errno), str(path)) from None
        raise


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_files(path: str | Path) -> list[Path]:
    """Remove the temporary files ``.<name>.<pid>.*.tmp`` beside ``path`` whose writing process is gone
    (left by a write into ``path`` that was killed); those of live processes are kept."""
    path = Path(path)
    removed = []
    for tmp in path.parent.glob(f".{glob_escape(path.name)}.*.tmp"):
        pid = tmp.name[len(path.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def temporary_beside(path: str | Path) -> tuple[int, str]:
    """``(fd, name)`` of a new temporary file ``.<name>.<pid>.XXXX.tmp`` in ``path``'s folder; stale ones of
    killed writers of the same file are swept first."""
    path = Path(path)
    sweep_stale_files(path)
    return tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one, never a part."""
    path = Path(path)
    fd, tmp = temporary_beside(path)
    try:
        with naming(path), os.fdopen(fd, "w") as f:
            f.write(text)
        publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
