"""``skelar cv``: k-fold cross-validation by training subject (the test part is never scored)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "cv",
        help="k-fold cross-validation by training subject, for recipe and weight choices on small datasets",
        description="Train CONFIG once per fold: fold i validates on the i-th group of training subjects (sorted, dealt "
        "round-robin into K groups) and trains on the others; the test part is never scored. Writes OUT/fold<i>/ run "
        "directories (resumable: rerun the same command) and OUT/cv_report.json with each fold's and the mean "
        "validation top-1 (last epoch and best epoch).",
    )
    p.add_argument("-c", "--config", required=True, help="YAML config (its data.val is replaced by the folds)")
    p.add_argument("--folds", type=int, default=5, help="number of folds K (default 5)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, value parsed as YAML (repeatable)")
    p.add_argument("--out", required=True, help="output folder for the fold runs and cv_report.json")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import shlex

    from skelar.engine.config import load_config
    from skelar.engine.cv import cross_validate

    cfg = load_config(args.config, args.overrides)
    command = shlex.join(getattr(args, "command_line", ["skelar", "cv"]))
    summary = cross_validate(cfg, args.out, folds=args.folds, progress=not args.quiet, command=command)
    for row in summary["per_fold"]:
        last = row["last_val_top1"]
        print(f"fold {row['fold']}: {row['val_samples']} validation samples, last-epoch top-1 "
              + (f"{100 * last:.2f}%" if last is not None else "n/a"))
    if summary["last_val_top1"]:
        m = summary["last_val_top1"]
        print(f"mean last-epoch validation top-1 over {summary['folds']} folds: {100 * m['mean']:.2f}% (std {100 * m['std']:.2f})")
    print(f"report: {args.out}/cv_report.json")
    return 0
