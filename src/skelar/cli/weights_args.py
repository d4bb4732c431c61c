"""``--checkpoint PATH`` or ``--model NAME --weights TAG`` (shipped weights), shared by ``skelar test`` and ``predict``."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_checkpoint_arguments", "resolve_checkpoint"]


def add_checkpoint_arguments(p: argparse.ArgumentParser, checkpoint_help: str) -> None:
    """Add ``--checkpoint`` and the ``--model``/``--weights`` pair (exactly one of the two is needed)."""
    p.add_argument("--checkpoint", help=f"{checkpoint_help} (or --model NAME --weights TAG)")
    p.add_argument("--model", metavar="NAME", help="a model with shipped weights, used with --weights (see `skelar models`)")
    p.add_argument("--weights", metavar="TAG", help="tag of --model's shipped weights, e.g. nwucla")


def resolve_checkpoint(args: argparse.Namespace) -> str | Path:
    """The checkpoint path: ``--checkpoint`` as given, or the file of ``--model``'s shipped ``--weights``."""
    named = args.model is not None or args.weights is not None
    if args.checkpoint is not None and named:
        raise ValueError("give either --checkpoint PATH or --model NAME --weights TAG, not both")
    if args.checkpoint is not None:
        return args.checkpoint
    if not named:
        raise ValueError("give --checkpoint PATH or --model NAME --weights TAG")
    if args.model is None or args.weights is None:
        raise ValueError("--model and --weights go together: --model NAME --weights TAG (see `skelar models`)")
    from skelar.models.weights import pretrained_path

    return pretrained_path(args.model, args.weights)
