"""DataLoaders whose batches depend only on (seed, epoch): exact resume, any worker count.

Training order comes from a generator seeded by ``(seed, epoch)``; the sampler hands ``(epoch, i)``
keys to the dataset, so workers (persistent or not) always apply the augmentation of the right epoch.
Evaluation loaders keep every sample (no ``drop_last``) in dataset order.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from skelar.data import SkeletonDataset, collate_clips

__all__ = ["EpochSampler", "EpochKeyedDataset", "train_loader", "eval_loader"]


class EpochSampler(Sampler):
    """Yields ``(epoch, i)``: a permutation of ``range(n)`` drawn from ``(seed, epoch)`` (or in order)."""

    def __init__(self, n: int, seed: int, shuffle: bool = True):
        self.n, self.seed, self.shuffle = int(n), int(seed), shuffle
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def order(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self.n)
        return np.random.default_rng([self.seed, self.epoch, 0x5EED]).permutation(self.n)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        e = self.epoch
        return iter([(e, int(i)) for i in self.order()])

    def __len__(self) -> int:
        return self.n


class EpochKeyedDataset(Dataset):
    """Wraps a :class:`SkeletonDataset` so that ``ds[(epoch, i)]`` sets the epoch before reading item ``i``."""

    def __init__(self, base: SkeletonDataset):
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, key: tuple[int, int]):
        epoch, i = key
        self.base.set_epoch(epoch)
        return self.base[i]


def _common(num_workers: int, seed: int, device: torch.device) -> dict:
    return dict(
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        pin_memory=device.type == "cuda",
        collate_fn=collate_clips,
        # a private generator: creating iterators never draws from torch's global RNG
        generator=torch.Generator().manual_seed(int(seed)),
    )


def train_loader(dataset: SkeletonDataset, batch_size: int, seed: int, num_workers: int, device: torch.device) -> tuple[DataLoader, EpochSampler]:
    """Shuffled per (seed, epoch), ``drop_last`` (BatchNorm needs full batches); call ``sampler.set_epoch``."""
    if len(dataset) < batch_size:
        raise ValueError(
            f"data.batch_size: {batch_size} is larger than the training set ({len(dataset)} samples); lower it"
        )
    sampler = EpochSampler(len(dataset), seed, shuffle=True)
    loader = DataLoader(EpochKeyedDataset(dataset), batch_size=batch_size, sampler=sampler, drop_last=True, **_common(num_workers, seed, device))
    return loader, sampler


def eval_loader(dataset: SkeletonDataset, batch_size: int, num_workers: int, device: torch.device, seed: int = 0) -> DataLoader:
    """Every sample once, in order, last partial batch included."""
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, drop_last=False, **_common(num_workers, seed, device))
