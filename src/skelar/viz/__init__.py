"""Drawing skeleton samples: animated GIF/MP4 or a PNG still of one or more panels (``skelar show``).

Sits above the engine and below the CLI in the import flow; it knows layouts, samples, transforms and the
runtime predictor interface, and renders with matplotlib's Agg canvas (no display needed).
"""

from skelar.viz.panels import Panel, frame_at
from skelar.viz.render import render
from skelar.viz.show import show_sample

__all__ = ["Panel", "frame_at", "render", "show_sample"]
