"""Render panels frame by frame to ``.gif`` (pillow), ``.mp4`` (ffmpeg) or a ``.png`` still."""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib import animation
from matplotlib.figure import Figure

from skelar.viz.panels import Panel, frame_at, present

__all__ = ["render", "ffmpeg_path", "SUFFIXES"]

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


def _writer(out: Path, fps: float):
    if out.suffix == ".gif":
        return animation.PillowWriter(fps=fps)
    exe = ffmpeg_path()
    if exe is None:
        raise RuntimeError(f"{out}: writing .mp4 needs ffmpeg (install it, or pip install 'skelar[viz]'); .gif and .png need nothing more")
    import matplotlib

    matplotlib.rcParams["animation.ffmpeg_path"] = exe
    return animation.FFMpegWriter(fps=fps, codec="libx264", extra_args=["-pix_fmt", "yuv420p"])


def render(panels: Sequence[Panel], out: str | Path, fps: float = 15.0, view: tuple[float, float] = (15.0, -70.0),
           title: str = "", frame: int | None = None, every: int = 1, panel_inches: float = 3.6, dpi: int = 80) -> dict:
    """Draw ``panels`` side by side to ``out`` (``.gif``, ``.mp4`` or ``.png``); returns ``{path, frames}``.

    Every ``every``-th step of the longest panel is drawn; a ``.png`` is the single step ``frame``
    (default: the middle). ``view`` is the 3D camera ``(elevation, azimuth)`` in degrees. The file is
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
            writer = _writer(out, fps)
            with writer.saving(fig, str(tmp), dpi):
                for i in range(0, total, max(1, every)):
                    draw(i)
                    writer.grab_frame()
                    steps += 1
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return {"path": str(out), "frames": steps}

