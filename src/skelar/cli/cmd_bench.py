"""``skelar bench``: training and inference throughput of a model, side by side with its reference."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``skelar bench`` to the command's sub-parsers."""
    p = subparsers.add_parser(
        "bench",
        help="throughput benchmark against the reference implementation",
        description="Times inference (eval, no grad) and a training step (forward + cross-entropy backward + "
        "Adam step) in interleaved rounds; reports median samples/s, the speed-up, FLOPs and the "
        "fraction of this machine's measured fp32 matmul rate.",
    )
    p.add_argument("--model", required=True, help="registered model name, e.g. sgn")
    p.add_argument("--reference", metavar="PATH", help="the reference model file (e.g. a local copy of microsoft/SGN model.py)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--rounds", type=int, default=5, help="timing rounds per side (median reported)")
    p.add_argument("--iters", type=int, default=3, help="calls per round and side")
    p.add_argument("--num-classes", type=int, help="number of classes (default: the model's)")
    p.add_argument("--tune-malloc", action="store_true", help="keep freed memory in the process (glibc mallopt) for both sides")
    p.add_argument("--json", metavar="OUT", help="also write the full result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``skelar bench`` with the parsed ``args``; returns the exit code."""
    import json
    from pathlib import Path

    from skelar.reference.benchmark import benchmark

    kwargs = {"num_classes": args.num_classes} if args.num_classes else {}
    result = benchmark(
        args.model, reference=args.reference, batch_size=args.batch_size, threads=args.threads,
        rounds=args.rounds, iters=args.iters, model_kwargs=kwargs, tune_malloc=args.tune_malloc, log=print,
    )  # fmt: skip
    print(result.summary())
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0
