"""DataLoaders whose batches depend only on (seed, epoch): exact resume, any worker count.

Training order comes from a generator seeded by ``(seed, epoch)``; the sampler hands ``(epoch, i)``
keys to the dataset, so workers (persistent or not) always apply the augmentation of the right epoch.
Evaluation loaders keep every sample (no ``drop_last``) in dataset order.

Data-parallel runs (``world_size`` > 1) split every global batch of ``batch_size`` samples into equal
per-process slices, so the processes together see exactly the batches of a single-process run; each
evaluation process scores positions ``rank, rank + world_size, ...`` (no padding, no sample twice).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, Subset

from skelar.data import SkeletonDataset, collate_clips

__all__ = ["EpochSampler", "EpochKeyedDataset", "train_loader", "eval_loader", "eval_positions"]


class EpochSampler(Sampler):
    """Yields ``(epoch, i)``: a permutation of ``range(n)`` drawn from ``(seed, epoch)`` (or in order).

    With ``world_size`` > 1 it yields only this ``rank``'s share: for every full global batch of
    ``batch_size`` consecutive permuted samples, the ``rank``-th of ``world_size`` equal slices (the
    incomplete last batch is dropped, as single-process training does).
    """

    def __init__(self, n: int, seed: int, shuffle: bool = True, rank: int = 0, world_size: int = 1, batch_size: int | None = None):
        self.n, self.seed, self.shuffle = int(n), int(seed), shuffle
        self.rank, self.world_size = int(rank), int(world_size)
        if self.world_size > 1 and (batch_size is None or batch_size % self.world_size):
            raise ValueError(f"data.batch_size: {batch_size} does not split evenly over {self.world_size} processes")
        self.batch_size = batch_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose order the next iteration yields."""
        self.epoch = int(epoch)

    def order(self) -> np.ndarray:
        """This process's indices for the current epoch: a permutation drawn from ``(seed, epoch)``, split by rank."""
        full = np.random.default_rng([self.seed, self.epoch, 0x5EED]).permutation(self.n) if self.shuffle else np.arange(self.n)
        if self.world_size == 1:
            return full
        assert self.batch_size is not None
        steps, per = self.n // self.batch_size, self.batch_size // self.world_size
        return full[: steps * self.batch_size].reshape(steps, self.world_size, per)[:, self.rank].reshape(-1)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        e = self.epoch
        return iter([(e, int(i)) for i in self.order()])

    def __len__(self) -> int:
        if self.world_size == 1:
            return self.n
        assert self.batch_size is not None
        return (self.n // self.batch_size) * (self.batch_size // self.world_size)


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


def train_loader(
    dataset: SkeletonDataset, batch_size: int, seed: int, num_workers: int, device: torch.device, rank: int = 0, world_size: int = 1,
) -> tuple[DataLoader, EpochSampler]:
    """Shuffled per (seed, epoch), ``drop_last`` (BatchNorm needs full batches); call ``sampler.set_epoch``.

    ``batch_size`` is the global batch; each of ``world_size`` processes loads ``batch_size / world_size``.
    """
    if len(dataset) < batch_size:
        raise ValueError(
            f"data.batch_size: {batch_size} is larger than the training set ({len(dataset)} samples); lower it"
        )
    sampler = EpochSampler(len(dataset), seed, shuffle=True, rank=rank, world_size=world_size, batch_size=batch_size)
    per_process = batch_size // world_size
    loader = DataLoader(EpochKeyedDataset(dataset), batch_size=per_process, sampler=sampler, drop_last=True, **_common(num_workers, seed, device))
    return loader, sampler


def eval_positions(n: int, rank: int = 0, world_size: int = 1) -> np.ndarray:
    """The positions of an ``n``-sample evaluation set that process ``rank`` scores."""
    return np.arange(rank, n, world_size, dtype=np.int64)


def eval_loader(
    dataset: SkeletonDataset, batch_size: int, num_workers: int, device: torch.device, seed: int = 0, rank: int = 0, world_size: int = 1,
) -> DataLoader:
    """Every sample once, in order, last partial batch included (this process's :func:`eval_positions` when distributed)."""
    if world_size > 1:
        dataset = Subset(dataset, eval_positions(len(dataset), rank, world_size).tolist())
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, drop_last=False, **_common(num_workers, seed, device))
