"""``skelar prepare TARGET ...``: turn raw datasets into prepared datasets.

Each target is one entry in :data:`TARGETS`: ``name -> (help, add_arguments(parser), run(args) -> int)``.
Adding a dataset means adding an entry; the work itself happens in the library.
"""

from __future__ import annotations

import argparse
from typing import Callable, NamedTuple

__all__ = ["TARGETS", "Target", "register"]


class Target(NamedTuple):
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
    p.add_argument("--pipeline", default="sgn", choices=["sgn"], help="preprocessing pipeline (default sgn)")
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


TARGETS: dict[str, Target] = {
    "ntu60": Target("NTU RGB+D 60 from raw .skeleton files", _ntu_arguments, _ntu_runner("ntu60")),
    "ntu120": Target("NTU RGB+D 120 from raw .skeleton files", _ntu_arguments, _ntu_runner("ntu120")),
    "synthetic": Target("a small synthetic dataset for smoke tests", _synthetic_arguments, _synthetic_run),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("prepare", help="prepare a dataset for training",
                                   description="Convert a raw dataset into skelar's prepared format.")
    targets = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    for name, target in TARGETS.items():
        p = targets.add_parser(name, help=target.help, description=target.help)
        target.add_arguments(p)
        p.set_defaults(func=target.run)
