"""Reading ``.npy`` / ``.npz`` files that may be hostile or damaged: sizes checked before allocating.

A ``.npy`` header declares a shape; NumPy allocates that much memory before reading the data, so a
header of a few bytes can ask for terabytes, and a truncated file fails deep in ``mmap``. Here the
declared size is compared with the bytes the file (or the ``.npz`` member) really holds first, object
arrays are refused (no pickle), and every error is one line naming the file.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["load_npy", "load_npz"]


def _header(fp: IO[bytes], where: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from the header at the start of ``fp`` (left at the first data byte)."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fp)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, _, dtype = fmt.read_array_header_2_0(fp)
        else:
            shape, _, dtype = fmt._read_array_header(fp, version)  # 3.0: 2.0 with a UTF-8 header
    except (ValueError, OSError, EOFError, SyntaxError) as e:
        raise ValueError(f"{where}: not a .npy array ({' '.join(str(e).split())})") from None
    if dtype.hasobject:
        raise ValueError(f"{where}: holds Python objects (dtype {dtype}); only plain numeric arrays are read (no pickle)")
    return tuple(int(d) for d in shape), dtype


def _check_size(shape: tuple[int, ...], dtype: np.dtype, available: int, where: str) -> None:
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if declared > available:
        raise ValueError(f"{where}: the header declares shape {shape} of {dtype} ({declared} bytes) but the file "
                         f"holds {available} bytes of data (truncated or corrupt)")


def load_npy(path: str | os.PathLike, mmap: bool = False) -> np.ndarray:
    """The array in ``path`` (memory-mapped read-only with ``mmap``), after checking the declared size."""
    path = Path(path)
    with open(path, "rb") as f:
        shape, dtype = _header(f, str(path))
        _check_size(shape, dtype, os.fstat(f.fileno()).st_size - f.tell(), str(path))
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ValueError(f"{path}: not a readable .npy array ({' '.join(str(e).split())})") from None


def load_npz(path: str | os.PathLike) -> dict[str, Any]:
    """Every array of the ``.npz`` archive ``path`` by name, each member's declared size checked first."""
    path = Path(path)
    out: dict[str, Any] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                name = info.filename.removesuffix(".npy")
                where = f"{path} (member {info.filename})"
                with zf.open(info) as f:
                    shape, dtype = _header(f, where)
                    header_len = f.tell()
                _check_size(shape, dtype, info.file_size - header_len, where)
                with zf.open(info) as f:
                    try:
                        out[name] = np.lib.format.read_array(f, allow_pickle=False)
                    except (ValueError, OSError, EOFError) as e:
                        raise ValueError(f"{where}: not a readable .npy array ({' '.join(str(e).split())})") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as e:
        raise ValueError(f"{path}: not a readable .npz archive ({e})") from None
    return out
