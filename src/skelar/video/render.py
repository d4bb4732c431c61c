"""Draw each tracked person's skeleton, id and current action on the frames; write MP4 (OpenCV) or GIF (Pillow).

The output is written to a temporary file beside the target and renamed onto it only when complete.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from skelar.store.atomic import publish
from skelar.video.deps import require

__all__ = ["BONES", "VideoWriter", "draw_person", "color_for"]

# BlazePose landmark pairs drawn as bones (face reduced to nose-eyes-ears)
BONES = [
    (11, 12), (11, 23), (12, 24), (23, 24),
    (11, 13), (13, 15), (15, 17), (15, 19), (17, 19), (15, 21),
    (12, 14), (14, 16), (16, 18), (16, 20), (18, 20), (16, 22),
    (23, 25), (25, 27), (27, 29), (27, 31), (29, 31),
    (24, 26), (26, 28), (28, 30), (28, 32), (30, 32),
    (0, 2), (2, 7), (0, 5), (5, 8),
]

_PALETTE = [(0, 200, 255), (255, 120, 0), (60, 220, 60), (200, 60, 255), (0, 80, 255), (255, 220, 0)]


def color_for(person: int) -> tuple[int, int, int]:
    """A stable BGR colour per person id."""
    return _PALETTE[(person - 1) % len(_PALETTE)]


def draw_person(frame: np.ndarray, image_landmarks: np.ndarray, person: int, label: str | None, min_visibility: float = 0.3) -> None:
    """Draw in place: bones and joints of ``(33, 3)`` pixel landmarks, and ``#id label`` above the head."""
    cv2 = require("cv2")
    color = color_for(person)
    scale = max(frame.shape[:2]) / 1000.0
    thick = max(2, int(round(3 * scale)))
    pts = image_landmarks
    ok = pts[:, 2] >= min_visibility
    for a, b in BONES:
        if ok[a] and ok[b]:
            cv2.line(frame, (int(pts[a, 0]), int(pts[a, 1])), (int(pts[b, 0]), int(pts[b, 1])), color, thick, cv2.LINE_AA)
    for j in np.flatnonzero(ok):
        cv2.circle(frame, (int(pts[j, 0]), int(pts[j, 1])), thick + 1, (255, 255, 255), -1, cv2.LINE_AA)
    vis = pts[ok] if ok.any() else pts
    x, y = int(vis[:, 0].min()), int(vis[:, 1].min())
    text = f"#{person}" + (f" {label}" if label else "")
    font_scale = 0.8 * scale
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thick)
    y = max(th + base + 4, y - 10)
    x = min(max(0, x), max(0, frame.shape[1] - tw - 4))
    cv2.rectangle(frame, (x, y - th - base - 4), (x + tw + 4, y + 2), color, -1)
    cv2.putText(frame, text, (x + 2, y - base), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), thick, cv2.LINE_AA)


class VideoWriter:
    """Collects BGR frames into ``path`` (``.mp4`` via OpenCV's mp4v, ``.gif`` via Pillow); atomic on ``close()``."""

    def __init__(self, path: str | Path, fps: float, width: int, height: int, gif_width: int = 480):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in (".mp4", ".gif"):
            raise ValueError(f"{self.path}: --render writes .mp4 or .gif, not {suffix or 'no suffix'!r}")
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"{self.path}: folder {self.path.parent} does not exist")
        self.cv2 = require("cv2")
        self.fps, self.size = float(fps), (int(width), int(height))
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=suffix, dir=self.path.parent)
        os.close(fd)
        self.tmp = Path(tmp)
        self.gif_frames: list = []
        self.gif_width = gif_width
        self.writer = None
        if suffix == ".mp4":
            self.writer = self.cv2.VideoWriter(str(self.tmp), self.cv2.VideoWriter_fourcc(*"mp4v"), self.fps, self.size)
            if not self.writer.isOpened():
                self.abort()
                raise RuntimeError(f"{self.path}: OpenCV cannot write MP4 here (no mp4v encoder)")

    def write(self, frame: np.ndarray) -> None:
        if self.writer is not None:
            self.writer.write(frame)
            return
        from PIL import Image

        h, w = frame.shape[:2]
        small = self.cv2.resize(frame, (self.gif_width, max(1, round(h * self.gif_width / w))), interpolation=self.cv2.INTER_AREA)
        self.gif_frames.append(Image.fromarray(small[:, :, ::-1]).quantize(colors=128))

    def close(self) -> None:
        """Finish the file and move it onto ``path``."""
        if self.writer is not None:
            self.writer.release()
        elif self.gif_frames:
            self.gif_frames[0].save(self.tmp, save_all=True, append_images=self.gif_frames[1:], duration=round(1000 / self.fps), loop=0)
        else:
            self.abort()
            raise ValueError(f"{self.path}: no frames to write")
        publish(self.tmp, self.path)

    def abort(self) -> None:
        """Drop the partial file."""
        if self.writer is not None:
            self.writer.release()
        self.tmp.unlink(missing_ok=True)
