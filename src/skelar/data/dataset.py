"""PyTorch view of a prepared dataset: indices + transforms -> ``(K, C, T, V, M)`` clips per sample."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from skelar.store.prepared import PreparedDataset

__all__ = ["SkeletonDataset", "collate_clips"]


class SkeletonDataset(Dataset):
    """Samples ``indices`` of a :class:`PreparedDataset` through ``transform``.

    Each item is ``(clips, label, index)`` where ``clips`` is a float32 tensor ``(K, C, T, V, M)``:
    the transform pipeline is run ``num_clips`` times, each with its own generator seeded from
    ``(seed, epoch, index, clip)``. Results therefore do not depend on worker count or order, and a
    resumed run sees exactly the same augmentations.

    ``repeat > 1`` lists every sample ``repeat`` times (CTR-GCN's NW-UCLA ``repeat``): item
    ``r * len(indices) + j`` is sample ``indices[j]`` drawn with epoch key ``epoch * repeat + r``, so
    the copies get different augmentations (``repeat=1`` keeps the plain ``epoch`` key).
    """

    def __init__(
        self,
        source: PreparedDataset,
        indices: Sequence[int] | np.ndarray,
        transform: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
        num_clips: int = 1,
        seed: int = 0,
        repeat: int = 1,
    ):
        if num_clips < 1:
            raise ValueError(f"num_clips must be >= 1, got {num_clips}")
        if repeat < 1:
            raise ValueError(f"repeat must be >= 1, got {repeat}")
        self.source = source
        self.indices = np.asarray(indices, dtype=np.int64)
        self.transform = transform
        self.num_clips = int(num_clips)
        self.seed = int(seed)
        self.repeat = int(repeat)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Epoch whose per-sample augmentation seeds the next reads use."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.indices) * self.repeat

    @property
    def labels(self) -> np.ndarray:
        return np.tile(self.source.labels[self.indices], self.repeat)

    def __getitem__(self, i: int):
        r, j = divmod(int(i), len(self.indices)) if self.repeat > 1 else (0, int(i))
        if not 0 <= r < self.repeat:
            raise IndexError(f"item {i} out of range for {len(self)} items")
        idx = int(self.indices[j])
        epoch_key = self.epoch * self.repeat + r
        x = self.source[idx]
        clips = []
        for k in range(self.num_clips):
            rng = np.random.default_rng([self.seed, epoch_key, idx, k])
            clips.append(self.transform(x, rng) if self.transform is not None else x)
        shapes = {c.shape for c in clips}
        if len(shapes) != 1:
            raise ValueError(f"sample {idx}: clips have different shapes {sorted(shapes)}; add a fixed-length sampler")
        return torch.from_numpy(np.stack(clips).astype(np.float32, copy=False)), int(self.source.labels[idx]), idx


def collate_clips(batch):
    """Stack items into ``(N, K, C, T, V, M)`` clips, ``(N,)`` labels and ``(N,)`` dataset indices."""
    clips, labels, idx = zip(*batch)
    shapes = {c.shape for c in clips}
    if len(shapes) != 1:
        raise ValueError(f"cannot batch samples of different shapes {sorted(shapes)}; add a fixed-length sampler")
    return torch.stack(clips), torch.tensor(labels, dtype=torch.long), torch.tensor(idx, dtype=torch.long)
