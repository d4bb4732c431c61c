"""Render panels frame by frame to ``.gif`` (pillow), ``.mp4`` (ffmpeg) or a ``.png`` still."""

from __future__ import annotations

import contextlib
import os
import shutil
import textwrap
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib import animation
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from skelar.viz.panels import Panel, frame_at, present

__all__ = ["render", "ffmpeg_path", "mp4_writers", "SUFFIXES"]

SUFFIXES = (".gif", ".mp4", ".png")
_COLOURS = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]


def ffmpeg_path() -> str | None:
    """An ffmpeg binary: on PATH, else the one the ``imageio-ffmpeg`` package bundles (``skelar[viz]``)."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    return imageio_ffmpeg.get_ffmpeg_exe()


class _PanelArtists:
    """One axes with a line per (person, edge) and a marker line per person, updated in place each frame."""

    def __init__(self, fig: Figure, index: int, count: int, panel: Panel, view: tuple[float, float]):
        self.panel = panel
        self.xyz = panel.coords()
        self.mask = present(panel.data[: panel.dims])
        self.edges = panel.layout.edges
        kw = {"projection": "3d"} if panel.dims == 3 else {}
        ax = fig.add_subplot(1, count, index + 1, **kw)
        lim = panel.limits()
        ax.set_xlim(*lim[0])
        ax.set_ylim(*lim[1])
        if panel.dims == 3:
            ax.set_zlim(*lim[2])
            ax.view_init(elev=view[0], azim=view[1])
            ax.set_box_aspect((1, 1, 1))
            ax.set_xlabel("x")
            ax.set_ylabel("z")
            ax.set_zlabel("y")
        else:
            ax.set_aspect("equal")
        ax.tick_params(labelsize=6)
        ax.set_title(textwrap.fill(panel.title, 48), fontsize=7)
        self.ax = ax
        m = panel.data.shape[3]
        self.bones = [[ax.plot(*([[]] * panel.dims), "-", color=_COLOURS[p % len(_COLOURS)], lw=2)[0] for _ in self.edges] for p in range(m)]
        self.joints = [ax.plot(*([[]] * panel.dims), "o", color=_COLOURS[p % len(_COLOURS)], ms=3)[0] for p in range(m)]
        self.counter = ax.text2D(0.02, 0.02, "", transform=ax.transAxes, fontsize=7) if panel.dims == 3 else \
            ax.text(0.02, 0.02, "", transform=ax.transAxes, fontsize=7)

    def _set(self, line, pts: np.ndarray) -> None:
        if self.panel.dims == 3:
            line.set_data_3d(pts[:, 0], pts[:, 1], pts[:, 2])
        else:
            line.set_data(pts[:, 0], pts[:, 1])

    def update(self, t: int) -> None:
        empty = np.zeros((0, self.panel.dims))
        for p, lines in enumerate(self.bones):
            ok = self.mask[t, :, p]
            for line, (a, b) in zip(lines, self.edges):
                self._set(line, self.xyz[t, [a, b], p] if ok[a] and ok[b] else empty)
            self._set(self.joints[p], self.xyz[t, ok, p])
        self.counter.set_text(f"frame {t + 1}/{self.panel.num_frames}")


class _OpenCVWriter:
    """MP4 (``mp4v``) through OpenCV, for when no ffmpeg binary is around (the ``video`` extra brings OpenCV)."""

    def __init__(self, fps: float):
        self.fps = fps

    @contextlib.contextmanager
    def saving(self, fig: Figure, path: str, dpi: int):
        import cv2

        self.fig = fig
        w, h = fig.canvas.get_width_height()
        self.video = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
        if not self.video.isOpened():
            raise RuntimeError(f"{path}: OpenCV cannot write MP4 here")
        try:
            yield self
        finally:
            self.video.release()

    def grab_frame(self) -> None:
        import cv2

        self.fig.canvas.draw()
        rgba = np.asarray(self.fig.canvas.buffer_rgba())
        self.video.write(cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGR))


def mp4_writers() -> list[str]:
    """The MP4 writers available here, preferred first: ``ffmpeg`` (H.264), ``opencv`` (MPEG-4 part 2)."""
    found = ["ffmpeg"] if ffmpeg_path() else []
    try:
        import cv2  # noqa: F401
    except ImportError:
        return found
    return found + ["opencv"]


def _writer(out: Path, fps: float, mp4: str | None = None):
    if out.suffix == ".gif":
        return animation.PillowWriter(fps=fps)
    available = mp4_writers()
    if not available:
        raise RuntimeError(f"{out}: writing .mp4 needs ffmpeg or OpenCV (pip install 'skelar[viz]'); .gif and .png need nothing more")
    choice = mp4 or available[0]
    if choice not in available:
        raise RuntimeError(f"{out}: the {choice} MP4 writer is not available here (available: {', '.join(available)})")
    if choice == "opencv":
        return _OpenCVWriter(fps)
    import matplotlib

    matplotlib.rcParams["animation.ffmpeg_path"] = ffmpeg_path()
    return animation.FFMpegWriter(fps=fps, codec="libx264", extra_args=["-pix_fmt", "yuv420p"])


def render(panels: Sequence[Panel], out: str | Path, fps: float = 15.0, view: tuple[float, float] = (15.0, -70.0),
           title: str = "", frame: int | None = None, every: int = 1, panel_inches: float = 3.6, dpi: int = 80,
           mp4_writer: str | None = None) -> dict:
    """Draw ``panels`` side by side to ``out`` (``.gif``, ``.mp4`` or ``.png``); returns ``{path, frames}``.

    Every ``every``-th step of the longest panel is drawn; a ``.png`` is the single step ``frame``
    (default: the middle). ``view`` is the 3D camera ``(elevation, azimuth)`` in degrees; ``mp4_writer``
    picks ``ffmpeg`` or ``opencv`` (default: the first of :func:`mp4_writers`). The file is
    written beside ``out`` and moved into place when complete.
    """
    out = Path(out)
    if out.suffix not in SUFFIXES:
        raise ValueError(f"{out}: output must end in {', '.join(SUFFIXES)}")
    if not panels:
        raise ValueError("nothing to draw")
    total = max(p.num_frames for p in panels)
    if frame is not None and not 0 <= frame < total:
        raise ValueError(f"--frame {frame} is outside 0..{total - 1}")
    fig = Figure(figsize=(panel_inches * len(panels), panel_inches + (0.4 if title else 0)), dpi=dpi)
    FigureCanvasAgg(fig)  # draws to memory: no display needed
    if title:
        fig.suptitle(textwrap.fill(title, 60 * len(panels)), fontsize=9)
    arts = [_PanelArtists(fig, i, len(panels), p, view) for i, p in enumerate(panels)]
    fig.tight_layout()

    def draw(i: int) -> None:
        for a in arts:
            a.update(frame_at(i, a.panel.num_frames, total))

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.partial{out.suffix}")
    try:
        if out.suffix == ".png":
            draw(total // 2 if frame is None else frame)
            fig.savefig(tmp, dpi=dpi)
            steps = 1
        else:
            steps = 0
            writer = _writer(out, fps, mp4_writer)
            with writer.saving(fig, str(tmp), dpi):
                for i in range(0, total, max(1, every)):
                    draw(i)
                    writer.grab_frame()
                    steps += 1
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return {"path": str(out), "frames": steps}

