"""``skelar prepare TARGET ...``: turn raw datasets into prepared datasets.

Each target is one entry of the :data:`PREPARERS` registry: ``name -> Target(help, add_arguments(parser),
run(args) -> int)``. Adding a dataset means registering a target (from any module imported before the
command line is parsed); the work itself happens in the library.
"""

from __future__ import annotations

import argparse
import json
from typing import Callable, NamedTuple

from skelar.registry import Registry

__all__ = ["PREPARERS", "Target", "register"]


class Target(NamedTuple):
    """One ``skelar prepare`` target: its help line, its arguments, and what it runs."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# -- NTU RGB+D 60 / 120 ---------------------------------------------------------------------------

def _ntu_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--src", required=True, help="folder with the raw .skeleton files (searched recursively)")
    p.add_argument("--out", required=True, help="output folder of the prepared dataset")
    p.add_argument("--missing-list", metavar="FILE",
                   help="the NTU authors' list of samples with missing skeletons to exclude "
                        "(NTU_RGBD_samples_with_missing_skeletons.txt / NTU_RGBD120_...); default: exclude nothing")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--pipeline", default="sgn", choices=["sgn", "energy", "energy_2sagcn"],
                   help="preprocessing pipeline: sgn (denoised, SGN/CTR-GCN), energy (AS-GCN/LTSCL) or "
                        "energy_2sagcn (2s-AGCN, with null-frame padding); see docs/data.md (default sgn)")
    p.add_argument("--shard-size", type=int, default=1000, help="files per resumable shard (default 1000)")
    p.add_argument("--val-fraction", type=float, default=0.1,
                   help="fraction of training samples held out as validation, by subject (default 0.1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the validation draw (default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _ntu_runner(dataset: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from skelar.preprocess.ntu_prepare import prepare_ntu

        result = prepare_ntu(
            args.src, args.out, dataset, missing_list=args.missing_list, workers=args.workers,
            pipeline=args.pipeline, shard_size=args.shard_size, val_fraction=args.val_fraction, seed=args.seed,
            overwrite=args.overwrite, progress=not args.no_progress,
        )
        r = result.report
        skipped = sum(len(v) for v in r["failed"].values()) + len(r["no_body"])
        print(f"{result.out}: {result.num_samples} samples ({len(r['excluded_by_missing_list'])} excluded by the "
              f"missing list, {skipped} unusable files; see {result.out / 'prepare_report.json'})")
        return 0

    return run


# -- synthetic (written by skelar.data.synthetic) ------------------------------------------------

def _synthetic_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="output folder of the prepared dataset")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")


def _synthetic_run(args: argparse.Namespace) -> int:
    try:
        from skelar.data.synthetic import write_synthetic_dataset
    except ImportError as e:
        raise RuntimeError(f"the synthetic dataset generator is not available ({e})") from None
    write_synthetic_dataset(args.out, overwrite=args.overwrite, seed=args.seed)
    print(f"{args.out}: synthetic dataset written")
    return 0


# -- NW-UCLA, PYSKL pickles, plain folders ----------------------------------------------------------

def _common_arguments(p: argparse.ArgumentParser, src_help: str) -> None:
    p.add_argument("--src", required=True, help=src_help)
    p.add_argument("--out", required=True, help="output folder of the prepared dataset")
    p.add_argument("--seed", type=int, default=0, help="seed of the validation (and default test) draw (default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")


def _ucla_arguments(p: argparse.ArgumentParser) -> None:
    _common_arguments(p, "the NW-UCLA all_sqe/ folder of aAA_sSS_eEE_vVV.json files")
    p.add_argument("--val-fraction", type=float, default=0.1,
                   help="fraction of the training views held out as validation, by subject (default 0.1)")


def _ucla_run(args: argparse.Namespace) -> int:
    from skelar.preprocess.ucla import prepare_ucla

    ds = prepare_ucla(args.src, args.out, val_fraction=args.val_fraction, seed=args.seed, overwrite=args.overwrite)
    sizes = ", ".join(f"{p} {len(ds.split('xview', p))}" for p in ("train", "val", "test") if ds.has_split("xview", p))
    report = json.loads((ds.root / "prepare_report.json").read_text())
    failed = sum(len(v) for v in report["failed"].values())
    skipped = f"; {failed} unreadable file(s) skipped, listed in {ds.root / 'prepare_report.json'}" if failed else ""
    print(f"{args.out}: {len(ds)} NW-UCLA sequences (xview: {sizes}){skipped}")
    return 0


def _pyskl_arguments(p: argparse.ArgumentParser) -> None:
    _common_arguments(p, "a PYSKL / MMAction2 annotation .pkl file")
    p.add_argument("--layout", required=True, help="registered layout name (ntu25, coco17, ...) or a layout YAML file")
    p.add_argument("--trust-pickle", action="store_true",
                   help="required: pickles can run code when loaded (skelar uses a restricted unpickler, "
                        "but only read files from sources you trust)")
    p.add_argument("--classes", metavar="FILE", help="text file with one class name per line (default class_0, ...)")
    p.add_argument("--max-persons", type=int, help="keep at most this many persons per clip")
    p.add_argument("--no-score", action="store_true", help="2D: drop keypoint_score instead of storing it as a channel")
    p.add_argument("--normalize-2d", action="store_true", help="2D: map pixel coordinates to [-1, 1] using img_shape")
    p.add_argument("--val-fraction", type=float, default=0.1, help="validation fraction carved from train (default 0.1)")
    p.add_argument("--val-by", choices=("subject", "sample"), default="subject",
                   help="carve whole training subjects (default) or a class-stratified sample inside the training subjects")
    p.add_argument("--subject-pattern", metavar="REGEX",
                   help="regex with a group (?P<subject>...) matched in each frame_dir, e.g. '_(?P<subject>s\d+)_' "
                        "(default: an annotation's 'subject' key, or NTU-form names)")


def _pyskl_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from skelar.formats.pyskl import PICKLE_WARNING
    from skelar.preprocess.custom import prepare_pyskl

    if not args.trust_pickle:
        raise ValueError(f"{args.src}: add --trust-pickle to read a pickle file ({PICKLE_WARNING})")
    classes = None
    if args.classes:
        classes = [line.strip() for line in Path(args.classes).read_text().splitlines() if line.strip()]
    ds = prepare_pyskl(args.src, args.out, args.layout, trust_pickle=True, classes=classes, max_persons=args.max_persons,
                       use_score=not args.no_score, normalize_2d=args.normalize_2d, val_fraction=args.val_fraction,
                       seed=args.seed, overwrite=args.overwrite, val_by=args.val_by, subject_pattern=args.subject_pattern)
    print(f"{args.out}: {len(ds)} clips, {ds.num_classes} classes, protocols {', '.join(ds.protocols()) or 'none'}")
    for key, target in (ds.manifest.get("split_mapping") or {}).items():
        print(f"  split {key!r} -> {target}")
    _print_parts(ds)
    return 0


def _folder_arguments(p: argparse.ArgumentParser) -> None:
    _common_arguments(p, "a folder with dataset.yaml and .npy/.csv samples (see docs/data.md)")


def _folder_run(args: argparse.Namespace) -> int:
    from skelar.preprocess.custom import prepare_folder

    ds = prepare_folder(args.src, args.out, seed=args.seed, overwrite=args.overwrite)
    print(f"{args.out}: {len(ds)} samples, {ds.num_classes} classes, layout {ds.layout.name}, "
          f"protocols {', '.join(ds.protocols())}")
    _print_parts(ds)
    return 0


def _print_parts(ds) -> None:
    """One line per protocol: how many samples each stored part holds."""
    for proto in ds.protocols():
        sizes = ", ".join(f"{p} {len(ds.split(proto, p))}" for p in ("train", "val", "test") if ds.has_split(proto, p))
        print(f"  {proto}: {sizes}")


PREPARERS: Registry[Target] = Registry("dataset preparer", "preparers")
PREPARERS.register("ntu60", Target("NTU RGB+D 60 from raw .skeleton files", _ntu_arguments, _ntu_runner("ntu60")))
PREPARERS.register("ntu120", Target("NTU RGB+D 120 from raw .skeleton files", _ntu_arguments, _ntu_runner("ntu120")))
PREPARERS.register("synthetic", Target("a small synthetic dataset for smoke tests", _synthetic_arguments, _synthetic_run))
PREPARERS.register("ucla", Target("Northwestern-UCLA Multiview Action 3D (all_sqe JSON release)", _ucla_arguments, _ucla_run))
PREPARERS.register("pyskl", Target("a PYSKL / MMAction2 skeleton annotation pickle", _pyskl_arguments, _pyskl_run))
PREPARERS.register("folder", Target("a custom dataset in skelar's plain folder format (dataset.yaml + .npy/.csv)", _folder_arguments, _folder_run))


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``skelar prepare TARGET`` with one sub-parser per registered target (in registration order)."""
    parser = subparsers.add_parser("prepare", help="prepare a dataset for training",
                                   description="Convert a raw dataset into skelar's prepared format.")
    targets = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    for name in PREPARERS.in_order():
        target = PREPARERS.get(name)
        p = targets.add_parser(name, help=target.help, description=target.help)
        target.add_arguments(p)
        p.set_defaults(func=target.run)
