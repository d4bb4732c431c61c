"""``skelar data``: inspect prepared datasets (``stats``) and export them (``export-pyskl``)."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``skelar data`` to the command's sub-parsers."""
    p = subparsers.add_parser("data", help="inspect or export a prepared dataset", description=__doc__)
    sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    s = sub.add_parser("stats", help="split/class counts, sequence-length histogram, persons per sample")
    s.add_argument("dataset", help="prepared dataset directory")
    s.add_argument("--plot", metavar="OUT.png", help="also save the histograms as an image")
    s.add_argument("--json", action="store_true", help="print the statistics as JSON")
    s.add_argument("--bins", type=int, default=20, help="length-histogram bins (default 20)")
    s.set_defaults(func=_stats)

    e = sub.add_parser("export-pyskl", help="write the dataset as a PYSKL / MMAction2 annotation pickle")
    e.add_argument("dataset", help="prepared dataset directory")
    e.add_argument("out", help="output .pkl file")
    e.add_argument("--float16", action="store_true", help="store keypoints as float16 (as PYSKL's NTU files do)")
    e.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    e.set_defaults(func=_export)


def _stats(args: argparse.Namespace) -> int:
    from skelar.store.prepared import PreparedDataset
    from skelar.data.stats import dataset_stats, format_stats, plot_stats

    stats = dataset_stats(PreparedDataset(args.dataset), bins=args.bins)
    print(json.dumps(stats, indent=2) if args.json else format_stats(stats))
    if args.plot:
        plot_stats(stats, args.plot)
        if not args.json:
            print(f"\nplot written to {args.plot}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from skelar.preprocess.custom import export_pyskl

    if Path(args.out).exists() and not args.overwrite:
        raise FileExistsError(f"{args.out} already exists (use --overwrite)")
    n = export_pyskl(args.dataset, args.out, dtype="float16" if args.float16 else "float32")
    print(f"wrote {n} clips to {args.out}")
    return 0
