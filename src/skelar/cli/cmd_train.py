"""``skelar train``: train a model from a YAML config, select on validation, test once."""

from __future__ import annotations

import argparse

from skelar.cli.weights_args import add_import_argument, import_plugins


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``skelar train`` to the command's sub-parsers."""
    p = subparsers.add_parser(
        "train",
        help="train a model from a config (validation-based selection, one final test)",
        description="Train per CONFIG; the run directory gets config.yaml, metrics, checkpoints, plots and report.json.",
    )
    p.add_argument("-c", "--config", help="YAML config (see docs/engine.md); not needed with --resume")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, value parsed as YAML (repeatable), e.g. --set optim.lr=5e-4")
    p.add_argument("--resume", metavar="RUN_DIR_OR_LAST_PT", help="continue an interrupted run exactly (uses the run's config.yaml)")
    p.add_argument("--run-dir", help="run directory (default: OUTPUT_DIR/NAME-YYYYmmdd-HHMMSS)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    add_import_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``skelar train`` with the parsed ``args``; returns the exit code."""
    import shlex

    from skelar.engine.config import load_config
    from skelar.engine.trainer import resume_config, train

    import_plugins(args)
    command = shlex.join(getattr(args, "command_line", ["skelar", "train"]))
    if args.resume:
        if args.config:
            raise ValueError("--resume continues a run with its own config.yaml; drop -c (use --set to extend, e.g. train.epochs)")
        if args.run_dir:
            raise ValueError("--resume writes into the checkpoint's run directory; drop --run-dir")
        cfg, run_dir, ckpt = resume_config(args.resume, args.overrides)
        result = train(cfg, run_dir=run_dir, resume=ckpt, progress=not args.quiet, command=command)
    else:
        if not args.config:
            raise ValueError("train needs -c CONFIG.yaml (or --resume RUN_DIR)")
        cfg = load_config(args.config, args.overrides)
        result = train(cfg, run_dir=args.run_dir, progress=not args.quiet, command=command)
    if result.rank != 0:  # data-parallel run: rank 0 reports
        return 0
    test = result.report["test"]
    print(
        f"test top-1: {100 * test['top1']:.2f}%  top-5: {100 * test['top5']:.2f}%  "
        f"({test['num_samples']} samples, {test['clips']} clip(s); checkpoint: {result.report['selection']})"
    )
    print(f"run directory: {result.run_dir}")
    return 0
