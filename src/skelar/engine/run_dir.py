"""The run directory: creation, atomic JSON/CSV/text writes, per-epoch metric tables, the log file."""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from skelar.store.atomic import publish, write_text_atomic
from skelar.store.names import check_path_name

__all__ = [
    "COMMAND_FILE",
    "record_command",
    "recorded_commands",
    "make_run_dir",
    "check_fresh_run_dir",
    "write_text_atomic",
    "write_json",
    "write_metrics",
    "log_to_file",
    "json_safe",
    "publish",
]


RUN_FILES = ("config.yaml", "command.txt", "train.log", "metrics.json", "metrics.csv", "report.json", "best.pt", "last.pt")


def check_fresh_run_dir(run_dir: str | Path) -> None:
    """Refuse to start a new run in a folder holding an earlier run's files (finished, interrupted, or
    crashed before its first checkpoint), which the new run would mix with its own."""
    run_dir = Path(run_dir)
    if (run_dir / "last.pt").exists():
        raise FileExistsError(f"{run_dir} already holds a run (last.pt); use --resume {run_dir} or another --run-dir")
    found = sorted(f for f in RUN_FILES if (run_dir / f).exists())
    if found:
        raise FileExistsError(f"{run_dir} holds files of an earlier run ({', '.join(found)}) that stopped before its "
                              "first checkpoint; remove them or use another --run-dir")


def make_run_dir(output_dir: str | Path, name: str) -> Path:
    """``output_dir/name-YYYYmmdd-HHMMSS`` (a numeric suffix keeps it unique); created."""
    base = Path(output_dir) / f"{check_path_name(name, 'run name')}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, i = base, 1
    while True:
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            i += 1
            path = base.with_name(f"{base.name}-{i}")


def json_safe(obj: Any) -> Any:
    """NaN/inf become ``null``; NumPy scalars/arrays become Python values."""
    import numpy as np

    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, np.generic):
        return json_safe(obj.item())
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented JSON (NaN/inf as ``null``), atomically."""
    write_text_atomic(path, json.dumps(json_safe(data), indent=2) + "\n")


def write_metrics(run_dir: str | Path, history: Sequence[dict[str, Any]]) -> None:
    """``metrics.json`` and ``metrics.csv``: one row per completed epoch (rewritten whole, atomically)."""
    run_dir = Path(run_dir)
    write_json(run_dir / "metrics.json", list(history))
    columns: list[str] = []
    for row in history:
        columns += [k for k in row if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns)
    writer.writeheader()
    for row in history:
        writer.writerow({k: ("" if v is None else v) for k, v in json_safe(row).items()})
    write_text_atomic(run_dir / "metrics.csv", buf.getvalue())


@contextmanager
def log_to_file(path: str | Path, logger_name: str = "skelar") -> Iterator[logging.Logger]:
    """Also send ``logger_name``'s records (INFO and up) to ``path`` (appending) while the block runs."""
    logger = logging.getLogger(logger_name)
    handler = logging.FileHandler(path, mode="a")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S"))
    old_level = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.setLevel(old_level)


COMMAND_FILE = "command.txt"


def record_command(run_dir: str | Path, command: str) -> None:
    """Append ``command`` (one line) to ``run_dir/command.txt``: the start of a run, then each resume."""
    with open(Path(run_dir) / COMMAND_FILE, "a", encoding="utf-8") as f:
        f.write(command.replace("\n", " ").strip() + "\n")


def recorded_commands(run_dir: str | Path) -> list[str]:
    """The command lines recorded for a run (first: the one that started it; then each resume)."""
    f = Path(run_dir) / COMMAND_FILE
    return [line for line in f.read_text(encoding="utf-8").splitlines() if line.strip()] if f.is_file() else []
