"""Frames from a video file (OpenCV's FFmpeg backend) or a folder of images, read ahead in a thread.

Decoding runs in a background thread (OpenCV releases the GIL), so it overlaps pose estimation on a
second core. Errors name the file and, for a frame that fails to decode, its index.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from skelar.video.deps import require

__all__ = ["VIDEO_SUFFIXES", "IMAGE_SUFFIXES", "VideoInfo", "is_video_input", "open_frames"]

VIDEO_SUFFIXES = (".mp4", ".avi", ".webm", ".mov", ".mkv", ".m4v")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
FOLDER_FPS = 30.0


@dataclass
class VideoInfo:
    path: str
    fps: float
    width: int
    height: int
    frames: int  # as the container declares it (0 when unknown); a folder's image count


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def is_video_input(path: str | Path) -> bool:
    """A video file by its suffix, or a folder holding images (and no ``dataset.yaml``)."""
    p = Path(path)
    if p.suffix.lower() in VIDEO_SUFFIXES:
        return True
    return p.is_dir() and not (p / "dataset.yaml").exists() and bool(_images(p))


class FrameSource:
    """Iterate ``(index, BGR uint8 frame)``; ``info`` describes the stream."""

    def __init__(self, path: str | Path, fps: float | None = None, prefetch: int = 8):
        self.cv2 = require("cv2")
        self.path = Path(path)
        self.prefetch = prefetch
        if self.path.is_dir():
            self.images = _images(self.path)
            if not self.images:
                raise ValueError(f"{self.path}: no images ({', '.join(IMAGE_SUFFIXES)}) in the folder")
            first = self._read_image(0)
            self.info = VideoInfo(str(self.path), float(fps or FOLDER_FPS), first.shape[1], first.shape[0], len(self.images))
            self.cap = None
        else:
            if not self.path.is_file():
                raise FileNotFoundError(f"video not found: {self.path}")
            self.images = []
            self.cap = self.cv2.VideoCapture(str(self.path))
            if not self.cap.isOpened():
                raise ValueError(f"{self.path}: cannot open the video (unreadable file or unsupported codec)")
            c = self.cv2
            w, h = int(self.cap.get(c.CAP_PROP_FRAME_WIDTH)), int(self.cap.get(c.CAP_PROP_FRAME_HEIGHT))
            declared = float(self.cap.get(c.CAP_PROP_FPS) or 0)
            rate = float(fps or (declared if 0 < declared < 1000 else FOLDER_FPS))
            self.info = VideoInfo(str(self.path), rate, w, h, max(0, int(self.cap.get(c.CAP_PROP_FRAME_COUNT) or 0)))

    def _read_image(self, i: int) -> np.ndarray:
        img = self.cv2.imread(str(self.images[i]), self.cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"{self.images[i]}: cannot decode the image (frame {i})")
        return img

    def _frames(self) -> Iterator[np.ndarray]:
        if self.cap is None:
            for i in range(len(self.images)):
                img = self._read_image(i)
                if img.shape[:2] != (self.info.height, self.info.width):
                    raise ValueError(f"{self.images[i]}: frame {i} is {img.shape[1]}x{img.shape[0]}, the first was {self.info.width}x{self.info.height}")
                yield img
            return
        i = 0
        while True:
            ok, frame = self.cap.read()
            if not ok:
                break
            yield frame
            i += 1
        if i == 0:
            raise ValueError(f"{self.path}: no frame could be decoded (empty video or unsupported codec)")
        if self.info.frames and i < self.info.frames - 1:
            raise ValueError(f"{self.path}: frame {i} cannot be decoded (corrupt or truncated video; the container declares {self.info.frames} frames)")

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        q: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()
        end = object()

        def work() -> None:
            try:
                for f in self._frames():
                    while not stop.is_set():
                        try:
                            q.put(f, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                q.put(end)
            except BaseException as e:  # handed to the consumer
                q.put(e)

        t = threading.Thread(target=work, name="skelar-video-decode", daemon=True)
        t.start()
        try:
            i = 0
            while True:
                item = q.get()
                if item is end:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield i, item
                i += 1
        finally:
            stop.set()
            t.join(timeout=2)

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()


def open_frames(path: str | Path, fps: float | None = None) -> FrameSource:
    """A :class:`FrameSource` for a video file or an image folder (``fps`` overrides the container's)."""
    return FrameSource(path, fps)
