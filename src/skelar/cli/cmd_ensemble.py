"""``skelar ensemble``: combine the scores of several evaluations (e.g. joint/bone/motion streams)."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Combine the test scores of several runs (or `skelar test` reports) sample by sample, aligned by
sample name. INPUT is a run directory (its test_scores.npz, from the end of training), a `skelar test`
report folder, or a *_scores.npz file. The ensemble's scores, confusion matrix and report.json are
written like `skelar test` writes them.

Weights are yours to give (default 1 each). Never choose them by looking at test accuracy: compare
candidate weights on validation scores (`skelar test --split val` for every stream, then
`skelar ensemble A/val_scores.npz B/val_scores.npz --weights ...`), then apply the chosen ones to the
test scores once. Give the inputs first, then the options (--weights and --ambiguous take several
values)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "ensemble",
        help="weighted score ensemble of several runs / test reports (samples aligned by name)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="run directory, `skelar test` report folder or *_scores.npz file")
    p.add_argument("--weights", nargs="+", type=float, metavar="W",
                   help="one weight per input, in order (default: 1 each); never tuned on the test set")
    p.add_argument("--combine", choices=["logits", "softmax"], default="logits",
                   help="sum weighted raw scores (logits; default, as CTR-GCN's ensemble.py) or weighted softmax probabilities")
    p.add_argument("--out", help="output folder (default: runs/ensemble-<time>)")
    p.add_argument("--ambiguous", nargs="+", metavar="CLASS", help="also report the accuracy on this group of classes (names or indices)")
    p.add_argument("--top-confused", type=int, default=10, metavar="N", help="most confused class pairs to report (default 10)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from skelar.engine.confusions import resolve_class_group, summarize_ambiguity
    from skelar.engine.ensemble import ensemble_scores, save_ensemble
    from skelar.engine.run_dir import make_run_dir

    if args.top_confused < 0:
        raise ValueError(f"--top-confused must be >= 0, got {args.top_confused}")
    result = ensemble_scores(args.inputs, args.weights, args.combine)
    group = resolve_class_group(args.ambiguous, result.classes, "--ambiguous")  # before any folder is made
    out = args.out or make_run_dir("runs", "ensemble")
    report = save_ensemble(result, out, ambiguous=group, top_confused=args.top_confused)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"inputs ({'weighted sum of ' + ('raw scores' if args.combine == 'logits' else 'softmax probabilities')}):")
    for item in report["inputs"]:
        print(f"  {item['weight']:g} x {item['path']}: top-1 {100 * item['top1']:.2f}%  top-5 {100 * item['top5']:.2f}%")
    print(
        f"ensemble: top-1 {100 * report['top1']:.2f}%  top-5 {100 * report['top5']:.2f}%  "
        f"({report['num_samples']} {report['split']} samples, {report['num_classes']} classes)"
    )
    for line in summarize_ambiguity(report["ambiguity"]):
        print(line)
    print(f"report: {report['out_dir']}/report.json")
    return 0
