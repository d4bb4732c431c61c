"""The video options of ``skelar predict`` and their run: a JSON timeline per video, optionally a render."""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["add_video_arguments", "run_video"]


def add_video_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("video inputs (mp4/avi/webm or a folder of frames; needs pip install 'skelar[video]')")
    g.add_argument("--out", metavar="FILE", help="write the JSON timeline here instead of stdout")
    g.add_argument("--render", metavar="OUT", help="write the video with skeletons, ids and actions drawn (.mp4 or .gif)")
    g.add_argument("--profile", action="store_true", help="print per-stage milliseconds per frame to stderr")
    g.add_argument("--window", type=float, default=2.0, metavar="S", help="window length in seconds (default 2)")
    g.add_argument("--stride", type=float, default=0.5, metavar="S", help="window step in seconds (default 0.5)")
    g.add_argument("--max-people", type=int, default=2, metavar="N", help="people tracked at once (default 2; 1 is fastest)")
    g.add_argument("--fps", type=float, help="frame rate of a folder of frames (default 30) or to override the video's")


def _checkpoint(args: argparse.Namespace):
    from skelar.cli.weights_args import resolve_checkpoint

    if args.checkpoint is None and args.model is None and args.weights is None:
        from skelar.models.weights import pretrained_path
        from skelar.video.pipeline import DEFAULT_WEIGHTS

        return pretrained_path(*DEFAULT_WEIGHTS)
    return resolve_checkpoint(args)


def run_video(args: argparse.Namespace) -> int:
    """Classify the video inputs of ``skelar predict``; the result is always JSON."""
    from skelar.store.atomic import write_text_atomic
    from skelar.video.pipeline import predict_video

    if len(args.inputs) > 1 and args.render:
        raise ValueError("--render takes one video input")
    checkpoint = _checkpoint(args)
    device = "cpu" if args.device == "auto" else args.device
    results = []
    for item in args.inputs:
        r = predict_video(item, checkpoint, top_k=args.top_k, window_s=args.window, stride_s=args.stride, max_people=args.max_people,
                          fps=args.fps, clips=args.clips, device=device, render=args.render)
        prof = r.pop("profile")
        if args.profile:
            r["profile"] = prof
            stages = ", ".join(f"{k} {v:.1f}" for k, v in prof["ms_per_frame"].items())
            print(f"{item}: {prof['frames']} frames, ms/frame: {stages}; end to end {prof['end_to_end_ms_per_frame']:.1f} ms/frame = "
                  f"{prof['end_to_end_fps']} frames/s", file=sys.stderr)
        results.append(r)
    text = json.dumps(results[0] if len(results) == 1 else results, indent=2) + "\n"
    if args.out:
        write_text_atomic(args.out, text)
    else:
        sys.stdout.write(text)
    return 0
