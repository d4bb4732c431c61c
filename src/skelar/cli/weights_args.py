"""``--checkpoint PATH`` or ``--model NAME --weights TAG`` (shipped weights), shared by ``skelar test`` and ``predict``."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_checkpoint_arguments", "add_import_argument", "import_plugins", "resolve_checkpoint"]


def add_import_argument(p: argparse.ArgumentParser) -> None:
    """``--import MODULE`` (repeatable): plug-in modules to import first; a checkpoint never imports any."""
    p.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                   help="import this plug-in module first (it registers models, transforms or layouts); repeatable. "
                        "Checkpoints record their plug-ins but never import them")


def import_plugins(args: argparse.Namespace) -> None:
    """Import the modules given with ``--import``."""
    from skelar.engine.config import import_plugins as run

    run(getattr(args, "imports", []) or [])


def add_checkpoint_arguments(p: argparse.ArgumentParser, checkpoint_help: str) -> None:
    """Add ``--checkpoint``, the ``--model``/``--weights`` pair (exactly one of the two is needed) and ``--import``."""
    p.add_argument("--checkpoint", help=f"{checkpoint_help} (or --model NAME --weights TAG)")
    add_import_argument(p)
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
