"""Test clips of one sample, seeded by the sample itself so its result does not depend on the other inputs."""

from __future__ import annotations

import hashlib

import numpy as np

from skelar.transforms import Compose

__all__ = ["sample_seed", "array_name", "fit_persons", "make_clips"]


def sample_seed(name: str) -> int:
    """A stable 64-bit integer from a sample's name (the same in every process and Python version)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")


def array_name(x: np.ndarray) -> str:
    """A name for an unnamed in-memory array, from its content: equal arrays get equal names (and seeds)."""
    a = np.ascontiguousarray(x)
    h = hashlib.sha256(str((a.dtype.str, a.shape)).encode() + a.tobytes()).hexdigest()
    return f"array-{h[:12]}"


def fit_persons(x: np.ndarray, num_persons: int, where: str) -> np.ndarray:
    """``(C, T, V, M)`` with ``M`` zero-padded to ``num_persons``; more persons than that is an error."""
    m = x.shape[3]
    if m > num_persons:
        # trailing all-zero person slots (e.g. an absent second actor) can be dropped safely
        keep = [i for i in range(m) if np.any(x[..., i])] or [0]
        if len(keep) > num_persons:
            raise ValueError(f"{where}: {len(keep)} persons but the model takes at most {num_persons}")
        x = x[..., keep]
    if x.shape[3] < num_persons:
        x = np.concatenate([x, np.zeros(x.shape[:3] + (num_persons - x.shape[3],), x.dtype)], axis=3)
    return np.ascontiguousarray(x, dtype=np.float32)


def make_clips(x: np.ndarray, transform: Compose, clips: int, seed: int, name: str, where: str = "") -> np.ndarray:
    """``(K, C, T', V, M')`` float32: ``transform`` applied ``clips`` times with ``rng([seed, sample_seed(name), k])``."""
    key = sample_seed(name)
    out = [transform(x, np.random.default_rng([seed, key, k])) for k in range(clips)]
    try:
        return np.stack(out).astype(np.float32, copy=False)
    except ValueError:
        raise ValueError(f"{where or name}: test clips differ in shape; the test transforms need a fixed-length sampler") from None
