"""Names that become parts of file paths (dataset, protocol, run and sample names, tags): one safe component each."""

from __future__ import annotations

__all__ = ["check_path_name"]

_SEPARATORS = ("/", "\\", "\0")


def check_path_name(value: object, what: str) -> str:
    """``value`` as a name usable as one path component; a one-line ValueError naming ``what`` otherwise.

    Refused: empty names, path separators (``/``, ``\\``), NUL and ``..`` anywhere (so a name can never
    leave the folder it is joined to), and names starting with ``.`` (hidden; ``.`` itself)."""
    name = str(value)
    bad = next((s for s in _SEPARATORS if s in name), None)
    if not name.strip():
        reason = "is empty"
    elif bad is not None:
        reason = f"contains {bad!r}"
    elif ".." in name:
        reason = "contains '..'"
    elif name.startswith("."):
        reason = "starts with '.'"
    else:
        return name
    raise ValueError(f"{what}: {name[:80]!r} {reason}; it becomes part of a file path, so use letters, digits, '_', '-', '.' (no separators or '..')")
