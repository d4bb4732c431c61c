"""``skelar import-checkpoint``: convert a reference implementation's checkpoint into a skelar checkpoint."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``skelar import-checkpoint`` to the command's sub-parsers."""
    p = subparsers.add_parser(
        "import-checkpoint",
        help="convert a reference checkpoint (e.g. microsoft/SGN .pth) to a skelar checkpoint",
        description="Reads IN with torch.load(weights_only=True) (a state dict, possibly wrapped as "
        "{'state_dict': ...} and/or with DataParallel 'module.' prefixes), maps it onto the skelar model, "
        "checks that it loads strictly and writes OUT.",
    )
    p.add_argument("--model", required=True, help="registered model name with a reference converter, e.g. sgn")
    p.add_argument("src", metavar="IN", help="reference checkpoint (.pth)")
    p.add_argument("dst", metavar="OUT", help="skelar checkpoint to write (.pt)")
    p.add_argument("--num-classes", type=int, help="number of classes (default: read from the weights)")
    p.add_argument("--layout", default="ntu25", help="joint layout (default: ntu25)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``skelar import-checkpoint`` with the parsed ``args``; returns the exit code."""
    from skelar.reference.checkpoint_import import import_reference_checkpoint

    info = import_reference_checkpoint(args.model, args.src, args.dst, num_classes=args.num_classes, layout=args.layout)
    kwargs = ", ".join(f"{k}={v!r}" for k, v in info["kwargs"].items())
    print(f"wrote {info['path']}: {info['model']}({kwargs}), {info['params']:,} parameters, {info['keys']} tensors")
    return 0
