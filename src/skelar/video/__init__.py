"""From a video to actions: pose estimation (mediapipe BlazePose), tracking, layout mapping, sliding windows.

Sits above the engine and below the CLI. Needs the optional ``video`` extra (``pip install
'skelar[video]'``); importing this package does not (nor does it import torch): the entry point is
:func:`skelar.video.pipeline.predict_video`.
"""

from skelar.video.deps import INSTALL_HINT, VideoExtraMissing
from skelar.video.reader import VIDEO_SUFFIXES, is_video_input

__all__ = ["INSTALL_HINT", "VideoExtraMissing", "VIDEO_SUFFIXES", "is_video_input"]
