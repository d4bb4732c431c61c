"""``skelar show``: an animated GIF/MP4 (or PNG still) of one skeleton sample, optionally beside its transformed self."""

from __future__ import annotations

import argparse

from skelar.cli.weights_args import add_checkpoint_arguments


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "show",
        help="draw a sample (.npy, .csv, .skeleton, .json, .pkl, prepared dataset) as a GIF, MP4 or PNG",
        description="INPUT: any format `skelar predict` reads; --sample picks one sample of a prepared dataset or "
        "PYSKL pickle. Edges come from the sample's own layout (NTU files: ntu25, NW-UCLA: ucla20, prepared: the "
        "dataset's; .npy/.pkl: --layout or the one registered layout with that many joints). 3D samples are "
        "drawn in 3D (y up; --view ELEV,AZIM), 2D ones in the image plane (y down).",
    )
    p.add_argument("input", metavar="INPUT")
    p.add_argument("-o", "--out", required=True, help="output file: .gif, .mp4 (needs ffmpeg: pip install 'skelar[viz]') or .png (one frame)")
    p.add_argument("--sample", metavar="NAME", help="the sample to draw, within a prepared dataset or PYSKL pickle")
    p.add_argument("--layout", help="joint layout when the file does not tell it (.npy, .csv, .pkl)")
    p.add_argument("--2d", dest="flat", action="store_true", help="draw 3D samples flat (x, y)")
    p.add_argument("--view", default="15,-70", metavar="ELEV,AZIM", help="3D camera elevation and azimuth in degrees (default 15,-70)")
    p.add_argument("--transforms", metavar="CONFIG", help="a second panel: the sample after this config's transforms")
    p.add_argument("--pipeline", choices=["test", "train"], default="test", help="which of the config's transforms (default test)")
    p.add_argument("--seed", type=int, default=0, help="seed of random transforms (with the sample's name)")
    add_checkpoint_arguments(p, "a model whose prediction is shown")
    p.add_argument("--onnx", metavar="MODEL.onnx", help="show the prediction of an exported ONNX model")
    p.add_argument("--trust-pickle", action="store_true", help="allow reading a PYSKL .pkl (restricted unpickler)")
    p.add_argument("--fps", type=float, default=15.0, help="frames per second of the animation (default 15)")
    p.add_argument("--every", type=int, default=1, help="draw every N-th frame (default 1)")
    p.add_argument("--frame", type=int, help=".png: the frame to draw (default: the middle one)")
    p.set_defaults(func=run)


def _view(text: str) -> tuple[float, float]:
    try:
        elev, azim = (float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--view must be ELEV,AZIM in degrees (e.g. 15,-70), not {text!r}") from None
    return elev, azim


def _transforms(args: argparse.Namespace) -> tuple[list[dict] | None, str]:
    if not args.transforms:
        return None, ""
    from skelar.engine.config import load_config
    from skelar.engine.data_setup import with_stream

    cfg = load_config(args.transforms).data
    specs = with_stream(list(cfg.test_transforms if args.pipeline == "test" else cfg.train_transforms), cfg.stream)
    return specs, f"{args.pipeline} transforms: " + ", ".join(s["name"] for s in specs)


def _predictor(args: argparse.Namespace):
    if not (args.onnx or args.checkpoint or args.model or args.weights):
        return None
    from skelar.api import load_predictor
    from skelar.cli.weights_args import resolve_checkpoint

    return load_predictor(args.onnx) if args.onnx else load_predictor(resolve_checkpoint(args))


def run(args: argparse.Namespace) -> int:
    from skelar.viz import show_sample

    view = _view(args.view)
    specs, title = _transforms(args)
    info = show_sample(args.input, args.out, args.sample, args.layout, args.flat, view, specs, title, _predictor(args),
                       args.trust_pickle, args.seed, fps=args.fps, frame=args.frame, every=args.every)
    pred = f"; predicted {info['prediction']['top'][0]['class']}" if info["prediction"] else ""
    print(f"wrote {info['path']} ({info['frames']} frame{'s' if info['frames'] != 1 else ''} of {info['sample']}{pred})")
    return 0
