"""``skelar test``: evaluate a checkpoint on a dataset split and write a report."""

from __future__ import annotations

import argparse

from skelar.cli.weights_args import add_checkpoint_arguments, import_plugins, resolve_checkpoint


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``skelar test`` to the command's sub-parsers."""
    p = subparsers.add_parser(
        "test",
        help="evaluate a checkpoint (model and test transforms rebuilt from its metadata)",
        description="Score a split with the checkpoint's test-time transforms and clip count; writes report.json, scores and confusion matrix.",
    )
    add_checkpoint_arguments(p, "a skelar checkpoint (best.pt/last.pt) or a run directory")
    p.add_argument("-c", "--config", help="take dataset, protocol, test transforms, clips and seed from this config "
                   "instead of the checkpoint (e.g. for imported reference weights)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a key of --config")
    p.add_argument("--data", help="prepared dataset directory or 'synthetic' (default: the training run's dataset)")
    p.add_argument("--protocol", help="evaluation protocol, e.g. xsub (default: the training run's)")
    p.add_argument("--split", default="test", choices=["train", "val", "test"], help="which part to score (default: test)")
    p.add_argument("--clips", type=int, help="test clips per sample, logits averaged (default: the run's test_clips)")
    p.add_argument("--batch-size", type=int, help="samples per batch (default: the run's eval_batch_size)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--out", help="report directory (default: next to the checkpoint)")
    p.add_argument("--ambiguous", nargs="+", metavar="CLASS", help="report the accuracy on this group of classes "
                   "(names or indices; default: the config's eval.ambiguous_classes)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``skelar test`` with the parsed ``args``; returns the exit code."""
    from skelar.engine.config import load_config
    from skelar.engine.confusions import summarize_ambiguity
    from skelar.engine.inference import evaluate_checkpoint

    import_plugins(args)
    if args.overrides and not args.config:
        raise ValueError("--set needs -c CONFIG")
    config = load_config(args.config, args.overrides) if args.config else None
    report = evaluate_checkpoint(
        resolve_checkpoint(args), data=args.data, protocol=args.protocol, split=args.split, clips=args.clips,
        batch_size=args.batch_size, device=args.device, out_dir=args.out, progress=not args.quiet, config=config,
        ambiguous=args.ambiguous,
    )
    print(
        f"{report['dataset']} {report['protocol']}/{report['split']}: top-1 {100 * report['top1']:.2f}%  "
        f"top-5 {100 * report['top5']:.2f}%  ({report['num_samples']} samples, {report['clips']} clip(s))"
    )
    for line in summarize_ambiguity(report["ambiguity"]):
        print(line)
    print(f"report: {report['out_dir']}/report.json")
    return 0
