"""Descriptor images per second: adjkamel/imdar's ``create_descriptors`` vs skelar's ``descriptors``, side by side.

Both make the five NW-UCLA descriptor images (GD, JDD, ADD, LAD, FDD; 112x112) of the same sequences in one
process, at 1 and 2 threads. The reference writes PNG files (that is its only output), so skelar is timed
twice: images in memory (how training uses them) and with the same PNG files written.

    python benchmarks/bench_descriptors.py --reference /path/to/imdar [--data data/ucla] [--samples 40]

``--reference`` is a local checkout of adjkamel/imdar (never part of skelar). Its modules import a few
packages its descriptor code never calls (``natsort``, ``einops``); empty stand-ins are used when those are
not installed. Without ``--data`` the sequences are random walks of NW-UCLA's length (20 joints, 40-120 frames).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import torch

from skelar.transforms.descriptors import DESCRIPTORS, Descriptors, save_pngs

NAMES = ("GD", "FDD", "JDD", "ADD", "LAD")


def load_reference(path: Path):
    """``skels2desc_ucla.create_descriptors`` from a local checkout (its argparse sees no arguments)."""
    if not (path / "skels2desc_ucla.py").is_file():
        raise SystemExit(f"--reference {path}: no skels2desc_ucla.py there (expected a checkout of adjkamel/imdar)")
    for name in ("natsort", "einops"):
        try:
            importlib.import_module(name)
        except ImportError:
            stub = types.ModuleType(name)
            stub.natsorted = sorted  # type: ignore[attr-defined]
            stub.rearrange = stub.repeat = None  # type: ignore[attr-defined]
            sys.modules[name] = stub
    argv, sys.argv = sys.argv, [sys.argv[0]]
    sys.path.insert(0, str(path))
    try:
        module = importlib.import_module("skels2desc_ucla")
    finally:
        sys.argv = argv
        sys.path.remove(str(path))
    return module.create_descriptors


def sequences(data: str | None, n: int) -> list[np.ndarray]:
    """``n`` sequences as ``(T, 20, 3)`` float64 (the reference's input)."""
    if data:
        from skelar.data import PreparedDataset

        ds = PreparedDataset(data)
        return [ds[i][:3, :, :, 0].transpose(1, 2, 0).astype(np.float64) for i in range(min(n, len(ds)))]
    rng = np.random.default_rng(0)
    return [np.cumsum(rng.normal(0, 0.02, (int(t), 20, 3)), axis=0) + rng.normal(0, 0.3, (1, 20, 3)) for t in rng.integers(40, 121, n)]


def time_reference(create, seqs: list[np.ndarray], out: Path, write: bool = True) -> float:
    """Seconds for ``create_descriptors`` on ``seqs``; ``write=False`` turns its PNG writes into no-ops."""
    from PIL import Image

    dirs = [out / d for d in ("gd", "fdd", "jdd", "add", "lad")]
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    copies = [s.copy() for s in seqs]  # the reference centres its inputs in place
    save = Image.Image.save
    if not write:
        Image.Image.save = lambda self, *a, **k: None  # type: ignore[method-assign]
    try:
        t0 = time.perf_counter()
        create(copies, [1] * len(copies), *(f"{d}/" for d in dirs), 112)
        return time.perf_counter() - t0
    finally:
        Image.Image.save = save  # type: ignore[method-assign]


def time_skelar(seqs: list[np.ndarray], out: Path | None) -> float:
    t = Descriptors("ucla20", descriptors=list(DESCRIPTORS), mode="faithful")
    xs = [s.transpose(2, 0, 1)[..., None] for s in seqs]  # (3, T, 20, 1)
    t0 = time.perf_counter()
    for i, x in enumerate(xs):
        images = t.images(x)
        if out is not None:
            save_pngs(images, out, str(i))
    return time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--reference", type=Path, required=True, help="local checkout of adjkamel/imdar")
    p.add_argument("--data", help="a prepared NW-UCLA dataset (default: random-walk sequences)")
    p.add_argument("--samples", type=int, default=40)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = p.parse_args()
    create = load_reference(args.reference.resolve())
    seqs = sequences(args.data, args.samples)
    n_img = 5 * len(seqs)
    frames = sum(len(s) for s in seqs)
    print(f"{len(seqs)} sequences ({frames} frames), {n_img} images each run; torch {torch.__version__}")
    print("images in memory: the reference with its PNG writes made no-ops vs skelar's transform;")
    print("with PNG files: the reference as released vs skelar + save_pngs (same five files per sequence)")
    print(f"{'threads':>7} | {'in memory: reference':>20} {'skelar':>8} {'ratio':>6} | {'PNG files: reference':>20} {'skelar':>8} {'ratio':>6}  (images/s)")
    for n in args.threads:
        torch.set_num_threads(n)
        with tempfile.TemporaryDirectory() as tmp:
            time_skelar(seqs[:2], None)  # warm-up
            ref_mem = time_reference(create, seqs, Path(tmp) / "ref", write=False)
            ours = time_skelar(seqs, None)
            ref_png = time_reference(create, seqs, Path(tmp) / "ref")
            ours_png = time_skelar(seqs, Path(tmp) / "skelar")
        print(
            f"{n:>7} | {n_img / ref_mem:>20.1f} {n_img / ours:>8.1f} {ref_mem / ours:>5.0f}x |"
            f" {n_img / ref_png:>20.1f} {n_img / ours_png:>8.1f} {ref_png / ours_png:>5.0f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
