"""``predict_video``: video -> poses -> tracks -> the model's layout -> sliding windows -> top-k actions.

Two passes over the video: the first estimates, tracks and classifies (the stages ``--profile`` times);
the second, only with ``render``, reads the frames again and draws each person's skeleton, id and the
top-1 class of the window centred nearest to that frame.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from skelar.engine.inference import LoadedModel, load_for_inference
from skelar.video.coords import camera_space
from skelar.video.deps import require
from skelar.video.mapping import mapping_matrix, to_layout
from skelar.video.pose import PoseEstimator
from skelar.video.reader import open_frames
from skelar.video.render import VideoWriter, draw_person
from skelar.video.tracker import IoUTracker, Track
from skelar.video.windows import Window, classify_windows, track_windows

__all__ = ["DEFAULT_WEIGHTS", "predict_video"]

DEFAULT_WEIGHTS = ("sgn", "nwucla-video")


def _layout_of(lm: LoadedModel) -> str:
    name = (lm.metadata.get("layout") or {}).get("name")
    if not name:
        raise ValueError(f"{lm.checkpoint.get('path')}: the checkpoint records no joint layout, so BlazePose landmarks cannot be mapped to it")
    mapping_matrix(name)  # fails early for a layout without a mapping
    return name


def _labels(windows: list[Window], tops: list[list[dict[str, Any]]]) -> dict[tuple[int, int], str]:
    """``(person, frame) -> top-1 class`` of the window whose centre is nearest the frame."""
    best: dict[tuple[int, int], tuple[float, str]] = {}
    for w, top in zip(windows, tops):
        centre = (w.start + w.end - 1) / 2
        for f in range(w.start, w.end):
            d = abs(f - centre)
            key = (w.person, f)
            if key not in best or d < best[key][0]:
                best[key] = (d, top[0]["class"])
    return {k: v[1] for k, v in best.items()}


def _render(path: Path, out: str | Path, fps: float | None, tracks: list[Track], labels: dict[tuple[int, int], str]) -> None:
    source = open_frames(path, fps)
    info = source.info
    writer = VideoWriter(out, info.fps, info.width, info.height)
    try:
        for i, frame in source:
            for t in tracks:
                pose = t.poses.get(i)
                if pose is not None:
                    draw_person(frame, pose.image, t.id, labels.get((t.id, i)))
            writer.write(frame)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    finally:
        source.close()


def predict_video(
    path: str | Path,
    checkpoint: str | Path,
    top_k: int = 3,
    window_s: float = 2.0,
    stride_s: float = 0.5,
    max_people: int = 2,
    min_track_s: float = 0.5,
    fps: float | None = None,
    clips: int | None = None,
    device: str = "cpu",
    render: str | Path | None = None,
) -> dict[str, Any]:
    """The JSON-ready timeline of ``path`` (a video file or an image folder); see docs/video.md."""
    if window_s <= 0 or stride_s <= 0:
        raise ValueError(f"--window and --stride must be > 0 seconds, got {window_s}, {stride_s}")
    cv2 = require("cv2")
    path = Path(path)
    lm = load_for_inference(checkpoint, device, clips)
    layout = _layout_of(lm)
    stage = {"decode": 0.0, "pose": 0.0, "track": 0.0, "action": 0.0}
    source = open_frames(path, fps)
    info = source.info
    tracker = IoUTracker(max_missed=max(1, round(0.5 * info.fps)))
    n = 0
    t_start = time.perf_counter()
    with PoseEstimator(max_people=max_people) as estimator:
        try:
            t0 = time.perf_counter()
            for i, frame in source:
                t1 = time.perf_counter()
                poses = estimator.estimate(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), round(i * 1000 / info.fps))
                t2 = time.perf_counter()
                tracker.update(i, poses)
                t3 = time.perf_counter()
                stage["decode"] += t1 - t0
                stage["pose"] += t2 - t1
                stage["track"] += t3 - t2
                n = i + 1
                t0 = time.perf_counter()
        finally:
            source.close()
    t4 = time.perf_counter()
    window = max(1, round(window_s * info.fps))
    stride = max(1, round(stride_s * info.fps))
    min_frames = max(2, round(min_track_s * info.fps))
    kept = [t for t in tracker.tracks if len(t.poses) >= min_frames]
    if not kept:
        raise ValueError(f"{path}: no person detected for at least {min_track_s:g} s in {n} frames")
    windows: list[Window] = []
    for t in kept:
        frames = np.asarray(sorted(t.poses))
        joints = to_layout(camera_space([t.poses[f] for f in frames], info.width, info.height), layout)
        windows += track_windows(t.id, frames, joints, window, stride, min_frames)
    tops = classify_windows(lm, windows, top_k)
    t5 = time.perf_counter()
    stage["action"] = t5 - t4
    wall = t5 - t_start
    result: dict[str, Any] = {
        "video": str(path),
        "fps": info.fps,
        "frames": n,
        "width": info.width,
        "height": info.height,
        "checkpoint": str(lm.checkpoint.get("path")),
        "layout": layout,
        "window_s": window / info.fps,
        "stride_s": stride / info.fps,
        "people": [
            {"id": t.id, "first_frame": t.first_frame, "last_frame": t.last_frame, "start": round(t.first_frame / info.fps, 3),
             "end": round((t.last_frame + 1) / info.fps, 3), "detected_frames": len(t.poses)}
            for t in kept
        ],
        "windows": [
            {"person": w.person, "start": round(w.start / info.fps, 3), "end": round(w.end / info.fps, 3),
             "start_frame": w.start, "end_frame": w.end, "top": top}
            for w, top in zip(windows, tops)
        ],
        "profile": {
            "frames": n,
            "ms_per_frame": {k: round(1000 * v / max(n, 1), 2) for k, v in stage.items()},
            "end_to_end_ms_per_frame": round(1000 * wall / max(n, 1), 2),
            "end_to_end_fps": round(n / wall, 1) if wall > 0 else None,
            "windows": len(windows),
            "note": "decode = waiting for the read-ahead thread; end to end = decode + pose + track + action, rendering excluded",
        },
    }
    if render is not None:
        t6 = time.perf_counter()
        _render(path, render, fps, kept, _labels(windows, tops))
        result["profile"]["render_ms_per_frame"] = round(1000 * (time.perf_counter() - t6) / max(n, 1), 2)
    return result
