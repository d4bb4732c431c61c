"""``skelar predict``: top-k action classes (by name) for skeleton samples of any format skelar reads, or videos."""

from __future__ import annotations

import argparse
import json

from skelar.cli.predict_video import add_video_arguments, run_video
from skelar.cli.weights_args import add_checkpoint_arguments, import_plugins, resolve_checkpoint


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``skelar predict`` to the command's sub-parsers."""
    p = subparsers.add_parser(
        "predict",
        help="classify skeleton samples (.npy, .csv, .skeleton, .json, .pkl, prepared datasets) or videos",
        description="INPUT: .npy ((C, T, V, M) or (T, V, C), or --axes), .csv (<Joint>_<channel> columns), raw NTU "
        ".skeleton, NW-UCLA .json, PYSKL .pkl (with --trust-pickle), prepared-dataset directories, or videos (see "
        "docs/video.md). Raw files go through the preparation pipeline the model's data went through, then its test "
        "transforms; every sample's test clips are seeded by its name, so its result does not depend on the other inputs.",
    )
    add_checkpoint_arguments(p, "a skelar checkpoint or a run directory")
    p.add_argument("--onnx", metavar="MODEL.onnx", help="run an exported ONNX file with onnxruntime (no PyTorch needed)")
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("-c", "--config", help="take test transforms, clips and seed from this config instead of the checkpoint")
    p.add_argument("-k", "--top-k", type=int, default=5, help="classes to show per input (default 5)")
    p.add_argument("--clips", type=int, help="clips per sample, logits averaged (default: the run's test_clips)")
    p.add_argument("--sample", action="append", metavar="NAME", help="only this sample of a prepared dataset or PYSKL pickle (repeatable)")
    p.add_argument("--trust-pickle", action="store_true", help="allow reading PYSKL .pkl inputs (restricted unpickler)")
    p.add_argument("--axes", help="axis order of .npy inputs, a permutation of CTVM or CTV: MTVC for PYSKL keypoints "
                                  "(default: CTVM, or TVC for 3-axis arrays); joints must be in the checkpoint layout's order")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_video_arguments(p)
    p.set_defaults(func=run)


def _rows(args: argparse.Namespace) -> list[dict]:
    if args.onnx:
        if args.checkpoint or args.model or args.weights or args.config:
            raise ValueError("--onnx runs the exported file alone; drop --checkpoint/--model/--weights/--config")
        from skelar.api import load_predictor

        if args.imports:  # plug-in transforms or layouts (importing them may bring in torch)
            import_plugins(args)
        return load_predictor(args.onnx, clips=args.clips).predict(args.inputs, args.top_k, args.sample, args.trust_pickle, args.axes)
    from skelar.engine.config import load_config
    from skelar.engine.inference import predict

    import_plugins(args)
    config = load_config(args.config) if args.config else None
    return predict(resolve_checkpoint(args), args.inputs, top_k=args.top_k, clips=args.clips, device=args.device,
                   progress=not args.quiet, config=config, select=args.sample, trust_pickle=args.trust_pickle, axes=args.axes)


def run(args: argparse.Namespace) -> int:
    """Run ``skelar predict`` with the parsed ``args``; returns the exit code."""
    from skelar.video import is_video_input

    videos = [is_video_input(i) for i in args.inputs]
    if any(videos):
        if not all(videos):
            raise ValueError("give videos or skeleton inputs, not both in one call")
        return run_video(args)
    if args.clips is not None and args.clips < 1:
        raise ValueError(f"--clips must be >= 1, got {args.clips}")
    rows = _rows(args)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        top = ", ".join(f"{t['class']} {100 * t['prob']:.1f}%" for t in r["top"])
        label = f" [true: {r['label_class']}]" if "label_class" in r else ""
        frames = f" (+ {len(r['predicted_frames'][0])} predicted future frames; --json prints them)" if "predicted_frames" in r else ""
        print(f"{r['name']}{label}: {top}{frames}")
    return 0
