"""skelar.video pieces that need no video extra: layout mapping, tracker, coordinates, windows, the noise transform, the missing-extra error."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from skelar.layouts import get_layout
from skelar.transforms import build_transforms
from skelar.video.coords import camera_space, person_scale
from skelar.video.mapping import blazepose_names, mapped_layouts, mapping_matrix, to_layout
from skelar.video.pose import Pose
from skelar.video.tracker import IoUTracker, box_iou
from skelar.video.windows import track_windows

BP = {n: i for i, n in enumerate(blazepose_names())}


def test_mapping_covers_every_layout_joint_and_averages():
    assert {"ucla20", "ntu25", "coco17"} <= set(mapped_layouts())
    for name in ("ucla20", "ntu25", "coco17"):
        w = mapping_matrix(name)
        assert w.shape == (get_layout(name).num_joints, 33)
        np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-6)
    lm = np.random.default_rng(0).normal(size=(5, 33, 3)).astype(np.float32)
    u = to_layout(lm, "ucla20")
    names = get_layout("ucla20").names
    np.testing.assert_allclose(u[:, names.index("HipCenter")], (lm[:, BP["left_hip"]] + lm[:, BP["right_hip"]]) / 2, atol=1e-6)
    np.testing.assert_allclose(u[:, names.index("KneeRight")], lm[:, BP["right_knee"]], atol=1e-6)
    coco = to_layout(lm, "coco17")
    assert (mapping_matrix("coco17").max(axis=1) == 1).all()  # every COCO joint is a copy
    np.testing.assert_allclose(coco[:, 0], lm[:, BP["nose"]])


def test_mapping_unknown_layout_is_one_line():
    with pytest.raises(ValueError, match="no BlazePose mapping for layout 'openpose18'"):
        mapping_matrix("openpose18")


def _pose(cx: float, cy: float, h: float = 100.0) -> Pose:
    """A stick figure of height ``h`` pixels centred at ``(cx, cy)``; world = image offsets at 1 cm/pixel."""
    rng = np.random.default_rng(int(cx * 7 + cy))
    offs = np.stack([rng.uniform(-0.2, 0.2, 33) * h, np.linspace(-0.5, 0.5, 33) * h], axis=1)
    offs[BP["left_hip"]] = (0.1 * h, 0.1 * h)
    offs[BP["right_hip"]] = (-0.1 * h, 0.1 * h)
    image = np.concatenate([offs + (cx, cy), np.ones((33, 1))], axis=1).astype(np.float32)
    hip = offs[[BP["left_hip"], BP["right_hip"]]].mean(axis=0)
    world = np.concatenate([(offs - hip) * 0.01, np.zeros((33, 1))], axis=1).astype(np.float32)
    return Pose(image, world)


def test_tracker_keeps_ids_through_missed_frames_and_drops_duplicates():
    tr = IoUTracker(max_missed=5)
    for f in range(30):
        poses = [_pose(100 + 3 * f, 200), _pose(600 - 3 * f, 220)]
        if 10 <= f < 14:
            poses = poses[1:]  # person A missed for 4 frames
        if f == 20:
            poses.append(_pose(100 + 3 * f + 2, 201, h=90))  # A detected twice
        tr.update(f, poses)
    assert [len(t.poses) for t in tr.tracks] == [26, 30]
    a, b = tr.tracks
    assert a.poses[9].image[0, 0] < 200 and b.poses[9].image[0, 0] > 400  # ids did not swap


def test_tracker_long_gap_starts_a_new_id():
    tr = IoUTracker(max_missed=3)
    for f in list(range(5)) + list(range(10, 15)):
        tr.update(f, [_pose(100, 100)])
    assert [(t.first_frame, t.last_frame) for t in tr.tracks] == [(0, 4), (10, 14)]


def test_box_iou():
    assert box_iou(np.array([0, 0, 2, 2.0]), np.array([1, 1, 3, 3.0])) == pytest.approx(1 / 7)


def test_camera_space_restores_translation_in_kinect_axes():
    poses = [_pose(640 + 10 * t, 360) for t in range(10)]
    assert person_scale(poses[0]) == pytest.approx(0.01, rel=1e-5)
    cam = camera_space(poses, 1280, 720, focal=1000.0, smooth=0)
    hip = (cam[:, BP["left_hip"]] + cam[:, BP["right_hip"]]) / 2
    # hips 10 px = 0.1 m further right in the image each frame -> x decreases by 0.1 (Kinect x points to the image's left)
    np.testing.assert_allclose(np.diff(hip[:, 0]), -0.1, atol=1e-5)
    np.testing.assert_allclose(hip[:, 2], 10.0, atol=1e-5)  # depth = focal * metres per pixel
    head, feet = cam[:, 0, 1], cam[:, 32, 1]
    assert (head > feet).all()  # y up: the first landmark row sits higher in the image than the last


def test_windows_need_half_the_frames():
    frames = np.r_[0:20, 40:60]
    joints = np.zeros((len(frames), 20, 3), np.float32)
    ws = track_windows(1, frames, joints, window=20, stride=10, min_frames=5)
    assert [(w.start, w.end, len(w.joints)) for w in ws] == [(0, 20, 20), (10, 30, 10), (30, 50, 10), (40, 60, 20)]
    short = track_windows(2, np.arange(8), np.zeros((8, 20, 3)), window=20, stride=10, min_frames=5)
    assert [(w.start, w.end) for w in short] == [(0, 8)]
    assert track_windows(3, np.arange(3), np.zeros((3, 20, 3)), window=20, stride=10, min_frames=5) == []


def test_estimated_pose_noise_keeps_absent_frames_and_is_seeded():
    x = np.random.default_rng(0).normal(size=(3, 12, 20, 1)).astype(np.float32)
    x[:, 5:7] = 0
    t = build_transforms([{"name": "estimated_pose_noise", "offset": 0.03, "jitter": 0.01, "depth_scale": [0.5, 0.5]}])
    y1, y2 = t(x, np.random.default_rng(1)), t(x, np.random.default_rng(1))
    np.testing.assert_array_equal(y1, y2)
    assert (y1[:, 5:7] == 0).all() and y1.dtype == np.float32
    z0 = x[2, 0].mean()
    spread = lambda a: np.abs(a[2, :5] - z0).mean()  # noqa: E731
    assert spread(y1) == pytest.approx(0.5 * spread(x), abs=0.05)
    with pytest.raises(ValueError, match="depth_scale"):
        build_transforms([{"name": "estimated_pose_noise", "depth_scale": [0, 1]}])


def test_video_without_the_extra_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    from skelar.cli.main import main

    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 now raises ImportError
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\0" * 100)
    assert main(["predict", str(video), "--model", "sgn", "--weights", "nwucla"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "skelar[video]" in err and "cv2" in err
