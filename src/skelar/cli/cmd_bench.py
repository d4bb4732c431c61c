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
    p.add_argument("--threads", type=_threads, default=[2], help="torch CPU threads, or a comma list run one after the other (e.g. 1,2; default 2)")
    p.add_argument("--rounds", type=int, default=5, help="timing rounds per side (median reported)")
    p.add_argument("--iters", type=int, default=3, help="calls per round and side")
    p.add_argument("--num-classes", type=int, help="number of classes (default: the model's)")
    p.add_argument("--layout", help="joint layout of the model (e.g. ucla20 for NW-UCLA; default: the model's)")
    p.add_argument("--frames", type=int, help="clip length T of the timed input (models with a num_frames option)")
    p.add_argument("--kw", action="append", default=[], metavar="KEY=VALUE", help="extra model keyword (YAML value), e.g. --kw sf_head=all; repeatable")
    p.add_argument("--tune-malloc", action="store_true", help="keep freed memory in the process (glibc mallopt) for both sides")
    p.add_argument("--json", metavar="OUT", help="also write the full result as JSON")
    p.set_defaults(func=run)


def _threads(text: str) -> list[int]:
    try:
        values = [int(t) for t in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--threads: expected integers like 2 or 1,2, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"--threads: thread counts must be >= 1, got {text!r}")
    return values


def _model_kwargs(args: argparse.Namespace) -> dict:
    import yaml

    kwargs: dict = {}
    for item in args.kw:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--kw: expected KEY=VALUE, got {item!r}")
        kwargs[key] = yaml.safe_load(value)
    for key, value in (("num_classes", args.num_classes), ("layout", args.layout), ("num_frames", args.frames)):
        if value is not None:
            kwargs[key] = value
    return kwargs


def run(args: argparse.Namespace) -> int:
    """Run ``skelar bench`` with the parsed ``args``; returns the exit code."""
    import json
    from pathlib import Path

    from skelar.reference.benchmark import benchmark

    kwargs = _model_kwargs(args)
    results = []
    for threads in args.threads:
        result = benchmark(
            args.model, reference=args.reference, batch_size=args.batch_size, threads=threads,
            rounds=args.rounds, iters=args.iters, model_kwargs=kwargs, tune_malloc=args.tune_malloc, log=print,
        )  # fmt: skip
        print(result.summary())
        results.append(result)
    if len(results) > 1 and results[0].reference is not None:
        for r in results:
            print(f"threads {r.threads}: inference {r.infer_ratio:.2f}x, training {r.train_ratio:.2f}x the reference")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        data = results[0].to_dict() if len(results) == 1 else [r.to_dict() for r in results]
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0
