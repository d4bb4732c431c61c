"""The prepared-dataset format: one directory, memory-mappable arrays, no pickle.

Layout of a prepared dataset directory::

    dataset.yaml   manifest: format version, name, joint layout, classes, channels, persons,
                   preprocessing (the pipeline and its parameters), split names, provenance
    frames.npy     float32 (total_frames, C, V, M): every sample's frames, concatenated
    offsets.npy    int64 (N + 1): sample i is frames[offsets[i]:offsets[i + 1]]
    labels.npy     int64 (N): 0-based class ids
    samples.npz    per-sample metadata columns: name (str), subject, view, setup, replication (int, -1 = unknown)
    splits.npz     index arrays named "<protocol>/<part>", part in {train, val, test}

A sample is read as the canonical ``(C, T, V, M)`` float32 array.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import yaml

from skelar.layouts import JointLayout, get_layout, layout_from_dict
from skelar.store.atomic import naming
from skelar.store.names import check_path_name
from skelar.store.npy import load_npy, load_npz
from skelar.yaml_file import read_yaml

__all__ = ["FORMAT_VERSION", "META_FIELDS", "SampleMeta", "PreparedDataset", "PreparedWriter", "is_prepared_dir"]

FORMAT_VERSION = 1
META_FIELDS = ("subject", "view", "setup", "replication")


@dataclass
class SampleMeta:
    """What is known about one recording; unknown integers are -1."""

    name: str
    label: int
    subject: int = -1
    view: int = -1
    setup: int = -1
    replication: int = -1


def _savez_reproducible(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Like ``np.savez`` but byte-for-byte reproducible (fixed zip timestamps), so that preparing the
    same data twice, or resuming an interrupted preparation, gives identical files."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, arr in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with zf.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(arr), allow_pickle=False)


def is_prepared_dir(path: str | os.PathLike) -> bool:
    """Whether ``path`` holds a prepared dataset (its ``dataset.yaml``)."""
    return (Path(path) / "dataset.yaml").is_file()


class PreparedDataset:
    """Read-only access to a prepared dataset directory (arrays are memory-mapped)."""

    def __init__(self, root: str | os.PathLike, mmap: bool = True):
        self.root = Path(root)
        manifest_path = self.root / "dataset.yaml"
        if not manifest_path.is_file():
            raise FileNotFoundError(f"{self.root}: not a prepared dataset (no dataset.yaml); run `skelar prepare` first")
        self.manifest: dict[str, Any] = read_yaml(manifest_path) or {}
        version = self.manifest.get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(f"{manifest_path}: format_version {version!r} is not supported (expected {FORMAT_VERSION})")
        self.frames = load_npy(self.root / "frames.npy", mmap=mmap)
        self.offsets = load_npy(self.root / "offsets.npy")
        self.labels = load_npy(self.root / "labels.npy")
        self.meta = load_npz(self.root / "samples.npz")
        self._splits = load_npz(self.root / "splits.npz")
        n = len(self.labels)
        if self.frames.ndim != 4 or self.offsets.ndim != 1 or self.labels.ndim != 1:
            raise ValueError(f"{self.root}: frames.npy must be (frames, C, V, M), offsets.npy and labels.npy 1-D (corrupt dataset)")
        if len(self.offsets) != n + 1 or self.offsets[-1] != len(self.frames):
            raise ValueError(f"{self.root}: offsets.npy does not match frames.npy/labels.npy (corrupt dataset)")
        self.layout: JointLayout = layout_from_dict(self.manifest["layout"], source=str(manifest_path))

    # -- description ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self.manifest.get("name", self.root.name))

    @property
    def classes(self) -> list[str]:
        return list(self.manifest.get("classes", []))

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def num_channels(self) -> int:
        return int(self.frames.shape[1])

    @property
    def num_persons(self) -> int:
        return int(self.frames.shape[3])

    @property
    def preprocessing(self) -> dict[str, Any]:
        return dict(self.manifest.get("preprocessing", {}))

    @property
    def names(self) -> np.ndarray:
        return self.meta["name"]

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __len__(self) -> int:
        return len(self.labels)

    # -- access --------------------------------------------------------------------------------
    def __getitem__(self, i: int) -> np.ndarray:
        """Sample ``i`` as a ``(C, T, V, M)`` float32 array (a copy)."""
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        return np.ascontiguousarray(self.frames[a:b].transpose(1, 0, 2, 3), dtype=np.float32)

    def sample_meta(self, i: int) -> SampleMeta:
        """What is known about sample ``i``: name, label, subject, view, setup, replication."""
        kw = {f: int(self.meta[f][i]) for f in META_FIELDS if f in self.meta}
        return SampleMeta(name=str(self.meta["name"][i]), label=int(self.labels[i]), **kw)

    def protocols(self) -> list[str]:
        """Sorted names of the protocols with at least one split."""
        return sorted({k.split("/")[0] for k in self._splits})

    def has_split(self, protocol: str, part: str) -> bool:
        """Whether ``protocol`` has a ``part`` (train/val/test) split."""
        return f"{protocol}/{part}" in self._splits

    def split(self, protocol: str, part: str) -> np.ndarray:
        """Indices of ``part`` (train/val/test) of ``protocol``."""
        key = f"{protocol}/{part}"
        if key not in self._splits:
            known = ", ".join(sorted(self._splits)) or "none"
            raise KeyError(f"{self.root}: no split {key!r} (known: {known})")
        return self._splits[key]

    def describe(self) -> dict[str, Any]:
        """A summary as plain values: name, root, layout, sample and class counts, channels, persons, preprocessing."""
        return {
            "name": self.name,
            "root": str(self.root),
            "layout": self.layout.name,
            "num_samples": len(self),
            "num_classes": self.num_classes,
            "channels": self.num_channels,
            "persons": self.num_persons,
            "preprocessing": self.preprocessing,
        }


OWNER_FILE = ".writer"  # in a temporary folder: "<pid> <host>" of the process writing it


def _owner_alive(tmp: Path) -> bool | None:
    """Whether the process that made temporary folder ``tmp`` still runs (None: unknown)."""
    try:
        pid, host = (tmp / OWNER_FILE).read_text().split()
        pid_n = int(pid)
    except (OSError, ValueError):
        return None
    if host != socket.gethostname():
        return None
    try:
        os.kill(pid_n, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_temporaries(root: str | os.PathLike) -> list[Path]:
    """Remove the temporary folders ``.<root name>.*`` that a killed preparation of ``root`` left beside it
    (their writing process is gone); folders of a live process, or of an unknown one, are kept."""
    root = Path(root)
    removed = []
    for tmp in root.parent.glob(f".{root.name}.*"):
        if tmp.is_dir() and (tmp / OWNER_FILE).is_file() and _owner_alive(tmp) is False:
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
    return removed


class PreparedWriter:
    """Streams samples into a new prepared dataset; nothing is visible until :meth:`close`.

    Frames go to a temporary raw file as they arrive, so memory stays bounded whatever the corpus
    size; ``close`` writes the ``.npy`` files and renames the directory into place atomically.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        layout: str | JointLayout,
        classes: Sequence[str],
        num_channels: int = 3,
        num_persons: int = 1,
        name: str | None = None,
        preprocessing: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
        overwrite: bool = False,
    ):
        self.root = Path(root)
        if self.root.exists() and not overwrite:
            raise FileExistsError(f"{self.root} already exists (use overwrite to replace it)")
        self.layout = get_layout(layout)
        self.classes = [str(c) for c in classes]
        self.C, self.M = int(num_channels), int(num_persons)
        self.name = check_path_name(name or self.root.name, "dataset name")
        self.preprocessing = dict(preprocessing or {})
        self.extra = dict(extra or {})
        self.overwrite = overwrite
        self.root.parent.mkdir(parents=True, exist_ok=True)
        sweep_stale_temporaries(self.root)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.root.name}.", dir=self.root.parent))
        try:
            (self._tmp / OWNER_FILE).write_text(f"{os.getpid()} {socket.gethostname()}\n")
            self._raw = open(self._tmp / "frames.raw", "wb")
        except BaseException:
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise
        self._lengths: list[int] = []
        self._labels: list[int] = []
        self._meta: dict[str, list] = {"name": [], **{f: [] for f in META_FIELDS}}
        self._splits: dict[str, np.ndarray] = {}
        self._closed = False

    def __len__(self) -> int:
        return len(self._labels)

    def add(self, data: np.ndarray, meta: SampleMeta) -> int:
        """Append one ``(C, T, V, M)`` sample (fewer persons are zero-padded); returns its index."""
        data = np.asarray(data, dtype=np.float32)
        if data.ndim != 4:
            raise ValueError(f"sample {meta.name!r}: expected (C, T, V, M), got shape {data.shape}")
        C, T, V, M = data.shape
        if C != self.C or V != self.layout.num_joints:
            raise ValueError(
                f"sample {meta.name!r}: shape {data.shape} does not match C={self.C}, V={self.layout.num_joints}"
            )
        if M > self.M:
            raise ValueError(f"sample {meta.name!r}: {M} persons but the dataset holds {self.M}")
        if not 0 <= meta.label < len(self.classes):
            raise ValueError(f"sample {meta.name!r}: label {meta.label} outside 0..{len(self.classes) - 1}")
        if M < self.M:
            data = np.concatenate([data, np.zeros((C, T, V, self.M - M), np.float32)], axis=3)
        with naming(self._tmp / "frames.raw"):
            self._raw.write(np.ascontiguousarray(data.transpose(1, 0, 2, 3)).tobytes())
        self._lengths.append(T)
        self._labels.append(int(meta.label))
        self._meta["name"].append(meta.name)
        for f in META_FIELDS:
            self._meta[f].append(int(getattr(meta, f)))
        return len(self._labels) - 1

    def set_split(self, protocol: str, part: str, indices: Iterable[int]) -> None:
        """Record ``indices`` as ``part`` (train/val/test) of ``protocol``."""
        check_path_name(protocol, "protocol name")
        if part not in ("train", "val", "test"):
            raise ValueError(f"split part must be train, val or test, not {part!r}")
        idx = np.asarray(list(indices), dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise ValueError(f"split {protocol}/{part}: index out of range")
        self._splits[f"{protocol}/{part}"] = idx

    def close(self, files: Mapping[str, str] | None = None) -> PreparedDataset:
        """Write the arrays, the manifest and ``files`` (name -> text, e.g. a preparation report) into the
        temporary folder, then publish it with one rename: readers see the whole dataset or none of it.
        Any failure removes the temporary folder (the previous dataset, if any, stays)."""
        if self._closed:
            raise RuntimeError("writer already closed")
        try:
            with naming(self._tmp):
                self._write_all(dict(files or {}))
            self._publish()
        except BaseException:
            self.abort()
            raise
        self._closed = True
        return PreparedDataset(self.root)

    def _write_all(self, files: dict[str, str]) -> None:
        with naming(self._tmp / "frames.raw"):
            self._raw.close()
        n = len(self._labels)
        total = int(sum(self._lengths))
        V = self.layout.num_joints
        # .npy header, then the raw frames streamed in file chunks (no memory map of the whole corpus)
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False, "shape": (total, self.C, V, self.M)}
        with open(self._tmp / "frames.npy", "wb") as out, open(self._tmp / "frames.raw", "rb") as raw:
            np.lib.format.write_array_header_1_0(out, header)
            shutil.copyfileobj(raw, out, length=16 << 20)
        os.remove(self._tmp / "frames.raw")
        np.save(self._tmp / "offsets.npy", np.concatenate([[0], np.cumsum(self._lengths, dtype=np.int64)]).astype(np.int64))
        np.save(self._tmp / "labels.npy", np.asarray(self._labels, dtype=np.int64))
        cols = {"name": np.asarray(self._meta["name"], dtype=str)}
        cols.update({f: np.asarray(self._meta[f], dtype=np.int64) for f in META_FIELDS})
        _savez_reproducible(self._tmp / "samples.npz", cols)
        _savez_reproducible(self._tmp / "splits.npz", self._splits)
        manifest = {
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "num_samples": n,
            "num_channels": self.C,
            "num_persons": self.M,
            "classes": self.classes,
            "layout": self.layout.to_dict(),
            "preprocessing": self.preprocessing,
            "splits": sorted(self._splits),
            **self.extra,
        }
        for name, text in files.items():
            (self._tmp / check_path_name(name, "file name")).write_text(text)
        (self._tmp / "dataset.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))  # last: marks a complete dataset
        os.remove(self._tmp / OWNER_FILE)

    def _publish(self) -> None:
        """Rename the finished folder into place; an existing dataset (``overwrite``) is moved aside first
        and removed only once the new one is in place."""
        old = None
        if self.root.exists():
            if not self.overwrite:
                raise FileExistsError(f"{self.root} appeared while writing")
            old = self.root.parent / f".{self.root.name}.replaced-{os.getpid()}"
            os.replace(self.root, old)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self._tmp, 0o777 & ~umask)  # mkdtemp makes it owner-only; give it normal directory permissions
        os.replace(self._tmp, self.root)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def abort(self) -> None:
        """Remove everything this writer made; never raises on the way (closing a file on a full disk can)."""
        if not self._closed:
            try:
                self._raw.close()
            except OSError:
                pass
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._closed = True

    def __enter__(self) -> "PreparedWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
        elif not self._closed:
            self.close()
