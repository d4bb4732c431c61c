"""``skelar models``: list the registered models with a one-line description, and the shipped pretrained weights."""

from __future__ import annotations

import argparse
import fnmatch


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``skelar models`` to the command's sub-parsers."""
    p = subparsers.add_parser("models", help="list registered models and shipped pretrained weights",
                              description="List registered models, then the pretrained weights that can be loaded by name.")
    p.add_argument("pattern", nargs="?", help="shell-style filter, e.g. 'sgn*'")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``skelar models`` with the parsed ``args``; returns the exit code."""
    from skelar.models import get_model_entry, list_models
    from skelar.models.weights import WEIGHTS_ENV, list_pretrained

    names = list_models(args.pattern)
    if not names:
        raise ValueError(f"no registered model matches {args.pattern!r}")
    width = max(len(n) for n in names)
    for name in names:
        print(f"{name:<{width}}  {get_model_entry(name).description}")
    shipped = [w for w in list_pretrained() if not args.pattern or fnmatch.fnmatch(w.model, args.pattern)]
    print(f"\npretrained weights (skelar test/predict --model NAME --weights TAG; create_model(NAME, weights=TAG); more folders: ${WEIGHTS_ENV}):")
    if not shipped:
        print("  none")
    width = max([len(f"{w.model} {w.tag}") for w in shipped] + [0])
    for w in shipped:
        print(f"  {w.model + ' ' + w.tag:<{width}}  {w.description}")
    return 0
