"""`skelar show`: real frames in GIF/MP4/PNG, any layout, 2D and 3D, several persons, labels, before/after transforms."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from skelar.cli.main import main
from skelar.formats.pyskl import PysklAnnotation, save_pyskl
from skelar.layouts import get_layout
from skelar.viz import Panel, render
from skelar.viz.render import mp4_writers


def _frames(path) -> list[np.ndarray]:
    """Every frame of an image file as an int16 RGB array."""
    im = Image.open(path)
    out = []
    for i in range(getattr(im, "n_frames", 1)):
        im.seek(i)
        out.append(np.asarray(im.convert("RGB"), np.int16))
    return out


def _walker(layout: str, frames: int = 8, persons: int = 1, dims: int = 3) -> np.ndarray:
    """A (C, T, V, M) stick figure moving to the right: each joint offset by its index, the whole body by t."""
    lay = get_layout(layout)
    v = np.arange(lay.num_joints, dtype=np.float32)
    base = np.stack([np.sin(v), v / lay.num_joints, np.cos(v)])[:dims]  # (C, V)
    x = np.zeros((dims, frames, lay.num_joints, persons), np.float32)
    for m in range(persons):
        for t in range(frames):
            x[:, t, :, m] = base + np.array([0.3 * t + 2 * m, 0, 0][:dims])[:, None]
    return x


def test_gif_has_one_frame_per_step_and_the_pixels_move(tmp_path):
    out = tmp_path / "walk.gif"
    info = render([Panel(_walker("ucla20"), get_layout("ucla20"), "walker")], out, dpi=40)
    frames = _frames(out)
    assert info["frames"] == len(frames) == 8
    blue = [(f[..., 2] - f[..., 0]) > 60 for f in frames]  # the skeleton's tab:blue pixels
    assert min(b.sum() for b in blue) > 50
    moved = [(a != b).sum() for a, b in zip(blue, blue[1:])]
    assert min(moved) > 10  # in every frame the skeleton is drawn somewhere else: it really moves
    assert not list(tmp_path.glob(".*partial*"))


def test_png_still_and_every(tmp_path):
    x = _walker("ntu25", frames=12)
    png = tmp_path / "still.png"
    assert render([Panel(x, get_layout("ntu25"))], png, frame=0, dpi=40)["frames"] == 1
    first = _frames(png)[0]
    render([Panel(x, get_layout("ntu25"))], png, frame=11, dpi=40)
    assert np.abs(first - _frames(png)[0]).sum() > 0
    assert render([Panel(x, get_layout("ntu25"))], tmp_path / "a.gif", every=4, dpi=40)["frames"] == 3
    with pytest.raises(ValueError, match="outside 0..11"):
        render([Panel(x, get_layout("ntu25"))], png, frame=12)


@pytest.mark.parametrize("writer", ["ffmpeg", "opencv"])
def test_mp4(tmp_path, writer):
    if writer not in mp4_writers():
        pytest.skip(f"no {writer} here (ffmpeg: pip install 'skelar[viz]'; OpenCV: the video extra)")
    out = tmp_path / "walk.mp4"
    render([Panel(_walker("coco17", dims=2), get_layout("coco17"), dims=2, y_down=True)], out, dpi=40, mp4_writer=writer)
    data = out.read_bytes()
    assert len(data) > 1000 and data[4:8] == b"ftyp"
    cv2 = pytest.importorskip("cv2")
    cap = cv2.VideoCapture(str(out))
    frames = []
    ok, f = cap.read()
    while ok:
        frames.append(f.astype(np.int16))
        ok, f = cap.read()
    assert len(frames) == 8 and np.abs(frames[0] - frames[-1]).sum() > 0


def test_cli_two_persons_2d_pickle_with_true_label(tmp_path, capsys):
    """A PYSKL entry, 2D coco17 keypoints of two persons: drawn flat, both persons in their own colour."""
    kp = _walker("coco17", frames=6, persons=2, dims=2).transpose(3, 1, 2, 0) * 50 + 100  # (M, T, V, 2) pixels
    save_pyskl(tmp_path / "a.pkl", [PysklAnnotation("clipA", 1, kp, np.ones(kp.shape[:3], np.float32)),
                                    PysklAnnotation("clipB", 0, kp)], {})
    out = tmp_path / "a.gif"
    assert main(["show", str(tmp_path / "a.pkl"), "--sample", "clipA", "--trust-pickle", "-o", str(out)]) == 0
    assert "6 frames of clipA" in capsys.readouterr().out
    rgb = _frames(out)[0]
    blue = ((rgb[..., 2] - rgb[..., 0]) > 60).sum()
    orange = ((rgb[..., 0] - rgb[..., 2]) > 100).sum()
    assert blue > 20 and orange > 20  # person 0 and person 1
    assert main(["show", str(tmp_path / "a.pkl"), "--trust-pickle", "-o", str(out)]) == 2
    assert "choose one with --sample" in capsys.readouterr().err


def test_cli_real_samples_side_by_side_with_prediction(tmp_path, capsys, shared):
    """NW-UCLA json beside its test transforms, with the shipped model's prediction; a raw NTU .skeleton."""
    js = shared("data", "nw-ucla", "all_sqe", "a04_s02_e01_v03.json")
    out = tmp_path / "walk.png"
    assert main(["show", str(js), "-o", str(out), "--transforms", "configs/sgn_ucla.yaml", "--model", "sgn", "--weights", "nwucla"]) == 0
    assert "predicted walk around" in capsys.readouterr().out
    w, h = Image.open(out).size
    assert w > 1.5 * h  # two panels side by side (one panel is about square)
    ske = shared("data", "ntu-samples", "skeletons", "S001C001P001R001A005.skeleton")
    gif = tmp_path / "drop.gif"
    assert main(["show", str(ske), "-o", str(gif), "--every", "10", "--view", "90,-90"]) == 0
    assert len(_frames(gif)) == 6  # 54 frames, every 10th


def test_cli_bad_arguments(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((3, 4, 21, 1), np.float32))
    np.save(tmp_path / "y.npy", _walker("ntu25", frames=3))
    for argv, msg in [
        ([str(tmp_path / "x.npy"), "-o", str(tmp_path / "x.gif")], "no registered layout has 21 joints"),
        ([str(tmp_path / "x.npy"), "-o", str(tmp_path / "x.gif"), "--layout", "ntu25"], "is neither (C, T, V, M) nor (T, V, C)"),
        ([str(tmp_path / "y.npy"), "-o", str(tmp_path / "y.jpg")], "output must end in .gif, .mp4, .png"),
        ([str(tmp_path / "y.npy"), "-o", str(tmp_path / "y.gif"), "--view", "high"], "--view must be ELEV,AZIM"),
    ]:
        assert main(["show", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert msg in err and err.count("\n") == 0, err
