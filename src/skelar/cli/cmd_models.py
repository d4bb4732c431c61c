"""``skelar models``: list the registered models with a one-line description."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("models", help="list registered models", description="List registered models.")
    p.add_argument("pattern", nargs="?", help="shell-style filter, e.g. 'sgn*'")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from skelar.models import get_model_entry, list_models

    names = list_models(args.pattern)
    if not names:
        raise ValueError(f"no registered model matches {args.pattern!r}")
    width = max(len(n) for n in names)
    for name in names:
        print(f"{name:<{width}}  {get_model_entry(name).description}")
    return 0
