"""``skelar ensemble``: combine the scores of several evaluations (e.g. joint/bone/motion streams)."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Combine the test scores of several runs (or `skelar test` reports) sample by sample, aligned by
sample name. INPUT is a run directory (its test_scores.npz, from the end of training), a `skelar test`
report folder, or a *_scores.npz file. The ensemble's scores, confusion matrix and report.json are
written like `skelar test` writes them.

Weights are yours to give (default 1 each). Never choose them by looking at test accuracy: compare
candidate weights on validation scores instead. `--val` takes one validation scores file per input
(`skelar test --split val` writes them), in the same order, and `--candidates` the weight vectors to
compare; the one with the best validation top-1 (the earliest on ties) is applied to the inputs once.
Give the inputs first, then the options (--weights, --val, --candidates and --ambiguous take several
values).

example:
  skelar ensemble J B JM BM --val J/eval-val/val_scores.npz B/eval-val/val_scores.npz \
      JM/eval-val/val_scores.npz BM/eval-val/val_scores.npz --candidates 1,1,1,1 0.6,0.6,0.4,0.4"""


def _weight_vector(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers such as 1,1,0.5,0.5, got {text!r}") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``skelar ensemble`` to the command's sub-parsers."""
    p = subparsers.add_parser(
        "ensemble",
        help="weighted score ensemble of several runs / test reports (samples aligned by name)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="run directory, `skelar test` report folder or *_scores.npz file")
    p.add_argument("--weights", nargs="+", type=float, metavar="W",
                   help="one weight per input, in order (default: 1 each); never tuned on the test set")
    p.add_argument("--val", nargs="+", metavar="VAL_SCORES",
                   help="one validation scores file per input, in order; with --candidates, the weights are chosen on them")
    p.add_argument("--candidates", nargs="+", type=_weight_vector, metavar="W,W,...",
                   help="candidate weight vectors compared on --val (best validation top-1 wins, earliest on ties)")
    p.add_argument("--combine", choices=["logits", "softmax"], default="logits",
                   help="sum weighted raw scores (logits; default, as CTR-GCN's ensemble.py) or weighted softmax probabilities")
    p.add_argument("--out", help="output folder (default: runs/ensemble-<time>)")
    p.add_argument("--ambiguous", nargs="+", metavar="CLASS", help="also report the accuracy on this group of classes (names or indices)")
    p.add_argument("--top-confused", type=int, default=10, metavar="N", help="most confused class pairs to report (default 10)")
    p.add_argument("--oracle", action="store_true",
                   help="also report oracle_any_of_N: the share of samples any one input gets right (an upper bound, not an accuracy)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``skelar ensemble`` with the parsed ``args``; returns the exit code."""
    import json

    from skelar.engine.confusions import resolve_class_group, summarize_ambiguity
    from skelar.engine.ensemble import choose_weights, ensemble_scores, save_ensemble
    from skelar.engine.run_dir import make_run_dir

    if args.top_confused < 0:
        raise ValueError(f"--top-confused must be >= 0, got {args.top_confused}")
    choice = None
    weights = args.weights
    if args.val or args.candidates:
        if not (args.val and args.candidates):
            raise ValueError("--val and --candidates go together: validation scores to compare the candidate weights on")
        if args.weights:
            raise ValueError("give either --weights or --val with --candidates (weights chosen on validation scores), not both")
        if len(args.val) != len(args.inputs):
            raise ValueError(f"--val: {len(args.val)} validation scores file(s) for {len(args.inputs)} input(s); give one per input, in order")
        choice = choose_weights(args.val, args.candidates, args.combine)
        weights = choice.weights
    result = ensemble_scores(args.inputs, weights, args.combine)
    group = resolve_class_group(args.ambiguous, result.classes, "--ambiguous")  # before any folder is made
    out = args.out or make_run_dir("runs", "ensemble")
    report = save_ensemble(result, out, ambiguous=group, top_confused=args.top_confused, weight_choice=choice, oracle=args.oracle)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    if choice is not None:
        print(f"weights chosen on validation scores ({len(choice.val_paths)} files, top-1 per candidate):")
        for i, row in enumerate(choice.table):
            mark = "  <- chosen" if i == choice.index else ""
            print(f"  {','.join(f'{w:g}' for w in row['weights'])}: val top-1 {100 * row['top1']:.2f}%{mark}")
    print(f"inputs ({'weighted sum of ' + ('raw scores' if args.combine == 'logits' else 'softmax probabilities')}):")
    for item in report["inputs"]:
        print(f"  {item['weight']:g} x {item['path']}: top-1 {100 * item['top1']:.2f}%  top-5 {100 * item['top5']:.2f}%")
    print(
        f"ensemble: top-1 {100 * report['top1']:.2f}%  top-5 {100 * report['top5']:.2f}%  "
        f"({report['num_samples']} {report['split']} samples, {report['num_classes']} classes)"
    )
    for key, value in (report.get("oracle") or {}).items():
        if key.startswith("oracle_any_of_"):
            print(f"{key}: {100 * value:.2f}%  (upper bound: any one input right, chosen with the label; not an accuracy)")
    for line in summarize_ambiguity(report["ambiguity"]):
        print(line)
    print(f"report: {report['out_dir']}/report.json")
    return 0
