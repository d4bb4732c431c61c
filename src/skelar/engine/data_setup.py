"""From the ``data`` config section to datasets: open the source, pick splits, build transforms.

Honest evaluation starts here: validation indices come from the training part only (a stored
``val`` split or one carved from training subjects), and any overlap with the test part is an error.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from skelar.data import PreparedDataset, SkeletonDataset, carve_validation, is_prepared_dir
from skelar.layouts import adopt_layout
from skelar.store.splits import describe_carve
from skelar.transforms import Compose, build_transforms

__all__ = [
    "DataBundle",
    "synthetic_spec_dict",
    "open_source",
    "synthetic_cache_path",
    "resolve_splits",
    "build_data",
    "probe_shape",
    "with_stream",
]

log = logging.getLogger("skelar.data")


@dataclass
class DataBundle:
    """Everything the trainer needs from the data side."""

    source: PreparedDataset
    protocol: str
    train_idx: np.ndarray
    val_idx: np.ndarray
    test_idx: np.ndarray
    train_transform: Compose
    test_transform: Compose
    sample_shape: tuple[int, int, int, int]
    train_specs: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # the pipelines as run (data.stream included)
    test_specs: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    train_repeat: int = 1

    def train_set(self, seed: int) -> SkeletonDataset:
        """The training samples, each ``train_repeat`` times per epoch (every copy augmented differently)."""
        return SkeletonDataset(self.source, self.train_idx, self.train_transform, num_clips=1, seed=seed, repeat=self.train_repeat)

    def eval_set(self, part: str, clips: int, seed: int) -> SkeletonDataset:
        """The ``part`` split (val/test/train) with the test pipeline and ``clips`` clips per sample."""
        idx = {"val": self.val_idx, "test": self.test_idx, "train": self.train_idx}[part]
        return SkeletonDataset(self.source, idx, self.test_transform, num_clips=clips, seed=seed)


def synthetic_spec_dict(params: Mapping[str, Any]) -> dict[str, Any]:
    """The full synthetic spec (defaults included), so the cache key changes when defaults change."""
    from skelar.data import synthetic

    known = [f.name for f in dataclasses.fields(synthetic.SyntheticSpec)]
    for key in params:
        if key not in known:
            raise ValueError(f"data.synthetic.{key}: unknown key (known: {', '.join(known)})")
    try:
        spec = synthetic.SyntheticSpec(**dict(params))
    except (TypeError, ValueError) as e:
        raise ValueError(f"data.synthetic: {e}") from None
    return dataclasses.asdict(spec)


def _generator_fingerprint() -> str:
    """Hash of the generator's source files, so a changed generator never reuses a stale cache."""
    from skelar.data import synthetic

    h = hashlib.sha1()
    for f in sorted(Path(synthetic.__file__).parent.glob("synthetic*.py")):
        h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()


def synthetic_cache_path(params: Mapping[str, Any], cache_dir: str | Path) -> Path:
    """``cache_dir/synthetic-<hash of the resolved spec and of the generator code>``."""
    spec = synthetic_spec_dict(params)
    key = json.dumps({"spec": spec, "generator": _generator_fingerprint()}, sort_keys=True, default=str)
    return Path(cache_dir) / f"synthetic-{hashlib.sha1(key.encode()).hexdigest()[:12]}"


def open_source(source: str, synthetic: Mapping[str, Any] | None = None, cache_dir: str | Path = "runs/.cache", progress: bool = True) -> PreparedDataset:
    """``"synthetic"`` (generated once into the cache, then reused) or a prepared-dataset directory."""
    if source == "synthetic":
        from skelar.data.synthetic import write_synthetic_dataset

        path = synthetic_cache_path(synthetic or {}, cache_dir)
        if is_prepared_dir(path):
            log.info("synthetic dataset: reusing %s", path)
            return PreparedDataset(path)
        log.info("synthetic dataset: generating into %s", path)
        try:
            return write_synthetic_dataset(path, progress=progress, **dict(synthetic or {}))
        except FileExistsError:  # another process finished it first
            return PreparedDataset(path)
    path = Path(os.path.expanduser(source))
    if not path.exists():
        raise FileNotFoundError(f"data.source: {path} does not exist (prepare it with `skelar prepare ...`, or use 'synthetic')")
    if not is_prepared_dir(path):
        raise ValueError(f"data.source: {path} is not a prepared dataset (no dataset.yaml); run `skelar prepare` first")
    return PreparedDataset(path)


def resolve_splits(ds: PreparedDataset, protocol: str, mode: str, fraction: float = 0.1, by: str = "subject", seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(train, val, test)`` indices for ``protocol``; ``mode`` is ``split`` | ``carve`` | ``none``.

    ``split`` uses the stored ``<protocol>/val``; ``carve`` holds out part of the training data
    (``<protocol>/train`` plus any stored val; whole subjects by default); ``none`` trains on all of it
    and has no validation set.
    """
    if protocol not in ds.protocols():
        raise KeyError(f"data.protocol: {ds.root} has no protocol {protocol!r} (known: {', '.join(ds.protocols()) or 'none'})")
    train = np.asarray(ds.split(protocol, "train"), np.int64)
    test = np.asarray(ds.split(protocol, "test"), np.int64)
    stored_val = np.asarray(ds.split(protocol, "val"), np.int64) if ds.has_split(protocol, "val") else np.zeros(0, np.int64)
    if mode == "split":
        if not ds.has_split(protocol, "val"):
            raise KeyError(f"data.val.mode: 'split' but {ds.root} has no stored split '{protocol}/val' (use mode: carve)")
        val = stored_val
    elif mode == "carve":
        pool = np.sort(np.concatenate([train, stored_val]))
        train, val = carve_validation(pool, ds.labels, ds.meta.get("subject"), fraction=fraction, seed=seed, by=by)
        message, off = describe_carve(pool, val, ds.meta.get("subject"), fraction, seed=seed, by=by)
        (log.warning if off else log.info)("data.val (carve): %s", message.replace("with by: sample", "with data.val.by: sample"))
    elif mode == "none":
        train, val = np.sort(np.concatenate([train, stored_val])), np.zeros(0, np.int64)
    else:
        raise ValueError(f"data.val.mode: unknown mode {mode!r} (use split, carve or none)")
    for name, part in (("train", train), ("val", val)):
        overlap = np.intersect1d(part, test)
        if overlap.size:
            raise ValueError(f"{ds.root}: {overlap.size} sample(s) of {protocol}/test are also in the {name} data; refusing to evaluate dishonestly")
    if np.intersect1d(train, val).size:
        raise ValueError(f"{ds.root}: {protocol}/train and the validation set overlap")
    if len(train) == 0 or len(test) == 0:
        raise ValueError(f"{ds.root}: protocol {protocol!r} has {len(train)} training and {len(test)} test samples")
    return train, val, test


def with_stream(specs: list[dict[str, Any]], stream: str) -> list[dict[str, Any]]:
    """``specs`` followed by the ``stream`` transform for ``stream`` (unchanged for ``"joint"``).

    The stream comes last, after sampling and augmentation, as in CTR-GCN's feeders; like every
    transform it is built with the dataset's own layout.
    """
    if stream == "joint":
        return list(specs)
    return [*specs, {"name": "stream", "stream": stream}]


def probe_shape(ds: PreparedDataset, index: int, transform: Compose, seed: int = 0) -> tuple[int, int, int, int]:
    """Shape ``(C, T, V, M)`` that ``transform`` makes of sample ``index``."""
    x = transform(ds[int(index)], np.random.default_rng([seed, 0, int(index), 0]))
    if x.ndim != 4:
        raise ValueError(f"the transforms produce a {x.ndim}-d array {x.shape}; expected (C, T, V, M)")
    return tuple(int(s) for s in x.shape)  # type: ignore[return-value]


def build_data(cfg, progress: bool = True) -> DataBundle:
    """Open ``cfg.data.source`` and resolve splits and transform pipelines (``cfg`` is a :class:`Config`)."""
    d = cfg.data
    cache = d.cache_dir or os.environ.get("SKELAR_CACHE") or str(Path(cfg.output_dir) / ".cache")
    ds = open_source(d.source, d.synthetic, cache, progress=progress)
    train, val, test = resolve_splits(ds, d.protocol, d.val.mode, d.val.fraction, d.val.by, d.val.seed)
    layout = adopt_layout(ds.layout, f"data.source {ds.root}")  # usable by name from here on (model kwargs, ...)
    train_specs = with_stream(d.train_transforms, d.stream)
    test_specs = with_stream(d.test_transforms, d.stream)
    train_t = build_transforms(train_specs, where="data.train_transforms", layout=layout)
    test_t = build_transforms(test_specs, where="data.test_transforms", layout=layout)
    shape = probe_shape(ds, train[0], test_t, cfg.seed)
    train_shape = probe_shape(ds, train[0], train_t, cfg.seed)
    if train_shape != shape:
        raise ValueError(
            f"data.train_transforms produce {train_shape} but data.test_transforms produce {shape}; "
            "the model needs the same input shape in training and testing"
        )
    log.info(
        "data: %s (%d classes), protocol %s: %d train%s / %d val (%s) / %d test, %s stream, sample shape %s",
        ds.name, ds.num_classes, d.protocol, len(train), f" x{d.train_repeat} per epoch" if d.train_repeat > 1 else "",
        len(val), d.val.mode, len(test), d.stream, shape,
    )
    return DataBundle(ds, d.protocol, train, val, test, train_t, test_t, shape, train_specs, test_specs, d.train_repeat)
