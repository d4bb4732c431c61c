"""Reading one YAML file with a one-line error that names it (bottom floor: imports nothing from skelar)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["read_yaml"]


def read_yaml(path: str | Path) -> Any:
    """The parsed content of the YAML file ``path``; malformed YAML raises ``ValueError('PATH: invalid YAML: ...')``
    on one line. OSErrors (missing or unreadable file) pass through for the caller to word."""
    path = Path(path)
    text = path.read_text()
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: invalid YAML: {e}".replace("\n", " ")) from None
