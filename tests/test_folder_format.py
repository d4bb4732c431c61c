"""The plain folder format: a dataset in a never-seen layout becomes preparable (and trainable) by YAML alone."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from skelar.cli.main import main
from skelar.data import PreparedDataset
from skelar.formats.folder import load_folder_spec
from skelar.preprocess.custom import prepare_folder

STICK5 = """name: stick5
center: Hip
joints:
  - {name: Hip, parent: Hip}
  - {name: Head, parent: Hip}
  - {name: Hand, parent: Head}
  - {name: LeftFoot, parent: Hip}
  - {name: RightFoot, parent: Hip}
"""
JOINTS = ["Hip", "Head", "Hand", "LeftFoot", "RightFoot"]


def _write_csv(path, seq):
    """seq (T, 5, 3) -> one row per frame, columns <Joint>_<x|y|z> after a 'frame' column."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["frame"] + [f"{j}_{c}" for j in JOINTS for c in "xyz"])
        for t, frame in enumerate(seq):
            w.writerow([t] + [repr(float(v)) for v in frame.reshape(-1)])


def _motion(kind, rng, frames):
    """Two easily separable classes: the hand waves (class 0) or a foot kicks (class 1)."""
    t = np.linspace(0, 2 * np.pi, frames)
    seq = np.tile(np.array([[0, 0, 0], [0, 1, 0], [0.3, 1.2, 0], [-0.1, -1, 0], [0.1, -1, 0]], np.float32), (frames, 1, 1))
    if kind == "wave":
        seq[:, 2, 0] += 0.5 * np.sin(3 * t)
    else:
        seq[:, 4, 2] += 0.6 * np.sin(2 * t)
    return seq + rng.normal(scale=0.02, size=seq.shape).astype(np.float32)


def make_stick_folder(root, with_splits=True):
    rng = np.random.default_rng(0)
    (root / "layouts").mkdir(parents=True)
    (root / "layouts" / "stick5.yaml").write_text(STICK5)
    arrays = {}
    for kind in ("wave", "kick"):
        (root / kind).mkdir()
        for subject in range(1, 5):
            for rep in range(3):
                seq = _motion(kind, rng, int(rng.integers(12, 30)))
                name = f"{kind}_P{subject:02d}_R{rep}"
                if rep == 2:
                    _write_csv(root / kind / f"{name}.csv", seq)
                else:
                    np.save(root / kind / f"{name}.npy", seq)  # (T, V, C): declared with axes: TVC
                arrays[name] = seq
    splits = """splits:
  xsub:
    train: {subject: [1, 2, 3]}
    test: {subject: [4]}
""" if with_splits else ""
    (root / "dataset.yaml").write_text(f"""name: stick
layout: layouts/stick5.yaml
classes: [wave, kick]
channels: [x, y, z]
axes: TVC
metadata_pattern: 'P(?P<subject>\\d+)_R(?P<replication>\\d+)'
val_fraction: 0.3
{splits}""")
    return arrays


@pytest.mark.slow
def test_new_layout_end_to_end(tmp_path, capsys):
    src, out = tmp_path / "stick", tmp_path / "prepared"
    arrays = make_stick_folder(src)
    assert main(["prepare", "folder", "--src", str(src), "--out", str(out)]) == 0
    ds = PreparedDataset(out)
    assert ds.layout.name == "stick5" and ds.layout.names == tuple(JOINTS) and ds.classes == ["wave", "kick"]
    assert len(ds) == 24 and ds.num_channels == 3 and ds.num_persons == 1
    for i, name in enumerate(ds.names):
        np.testing.assert_allclose(ds[i][..., 0], arrays[name].transpose(2, 0, 1), rtol=0, atol=1e-6)
        assert ds.labels[i] == (0 if name.startswith("wave") else 1)
    train, val, test = (ds.split("xsub", p) for p in ("train", "val", "test"))
    assert set(ds.meta["subject"][test]) == {4} and set(ds.meta["subject"][np.union1d(train, val)]) == {1, 2, 3}
    assert len(val) and not set(ds.meta["subject"][val]) & set(ds.meta["subject"][train])
    assert set(ds.meta["replication"]) == {0, 1, 2}

    # train one epoch with a model that works for any layout (SGN, built for the stick5 layout)
    pytest.importorskip("skelar.engine.trainer", reason="training engine not available")
    from skelar.models import list_models

    if "sgn" not in list_models():
        pytest.skip("SGN model not registered")
    cfg = tmp_path / "train.yaml"
    cfg.write_text(f"""seed: 0
device: cpu
output_dir: {tmp_path / 'runs'}
data:
  source: {out}
  protocol: xsub
  val: {{mode: split}}
  train_transforms: [{{name: segment_sample, num_segments: 8}}]
  test_transforms: [{{name: segment_sample, num_segments: 8, mode: center}}]
  batch_size: 4
  eval_batch_size: 8
model: {{name: sgn, kwargs: {{seg: 8}}}}
train: {{epochs: 1, max_steps_per_epoch: 2}}
""")
    capsys.readouterr()
    assert main(["train", "-c", str(cfg), "-q"]) == 0
    assert "test top-1" in capsys.readouterr().out


def test_inline_layout_explicit_samples_and_default_split(tmp_path):
    rng = np.random.default_rng(1)
    (tmp_path / "clips").mkdir()
    entries = []
    for i in range(10):
        np.save(tmp_path / "clips" / f"c{i}.npy", rng.normal(size=(2, 7, 3, 2)).astype(np.float64))  # (C, T, V, M)
        entries.append(f"  - {{file: clips/c{i}.npy, label: {i % 2}, subject: {i}}}")
    (tmp_path / "dataset.yaml").write_text("""layout:
  name: tri3
  joints: [{name: A, parent: A}, {name: B, parent: A}, {name: C, parent: B}]
classes: [left, right]
channels: [x, y]
samples:
""" + "\n".join(entries) + "\n")
    ds = prepare_folder(tmp_path, tmp_path / "out")
    assert ds.layout.name == "tri3" and ds.num_channels == 2 and ds.num_persons == 2 and len(ds) == 10
    assert ds.manifest["channel_names"] == ["x", "y"]
    parts = {p: ds.split("default", p) for p in ("train", "val", "test")}
    assert sum(len(v) for v in parts.values()) == 10 and len(parts["test"]) == 2  # stratified 20 % test
    assert len(np.unique(np.concatenate(list(parts.values())))) == 10


@pytest.mark.parametrize("yaml_text, pattern", [
    ("classes: [a]\n", r"dataset\.yaml: missing key 'layout'"),
    ("layout: ntu25\nclasses: [a]\nfoo: 1\n", r"dataset\.yaml: key 'foo': unknown key"),
    ("layout: nope\nclasses: [a]\n", r"dataset\.yaml: key 'layout': unknown joint layout 'nope'"),
    ("layout: missing.yaml\nclasses: [a]\n", r"dataset\.yaml: key 'layout': layout file .*missing\.yaml not found"),
    ("layout: {name: x, joints: [{name: A, parent: Z}]}\nclasses: [a]\n", r"dataset\.yaml \(key 'layout'\): joints\[0\]\.parent refers to unknown joint 'Z'"),
    ("layout: ntu25\nclasses: [a, a]\n", r"dataset\.yaml: key 'classes': must be a non-empty list of distinct"),
    ("layout: ntu25\nclasses: [a]\naxes: CTX\n", r"dataset\.yaml: key 'axes': must be a permutation"),
    ("layout: ntu25\nclasses: [a]\nsamples: [{file: s.npy, label: b}]\n", r"dataset\.yaml: key 'samples\[0\]\.label': label 'b'"),
    ("layout: ntu25\nclasses: [a]\nsamples: [{file: nope.npy, label: a}]\n", r"dataset\.yaml: key 'samples\[0\]\.file': file .*nope\.npy not found"),
    ("layout: ntu25\nclasses: [a]\nsamples: [{file: s.npy, label: a, person: 1}]\n", r"dataset\.yaml: key 'samples\[0\]\.person': unknown key"),
    ("layout: ntu25\nclasses: [a]\nsplits: {p: {train: [s]}}\n", r"dataset\.yaml: key 'splits\.p': must have 'train' and 'test'"),
    ("layout: ntu25\nclasses: [a]\nval_fraction: 2\n", r"dataset\.yaml: key 'val_fraction': must be a number in \[0, 1\)"),
    ("layout: [ntu25\n", r"dataset\.yaml: invalid YAML"),
])
def test_spec_errors_name_file_and_key(tmp_path, yaml_text, pattern):
    np.save(tmp_path / "s.npy", np.zeros((3, 4, 25, 1), np.float32))
    (tmp_path / "dataset.yaml").write_text(yaml_text)
    with pytest.raises(ValueError, match=pattern):
        load_folder_spec(tmp_path)


def test_sample_and_split_errors(tmp_path):
    make_stick_folder(tmp_path / "d", with_splits=False)
    src = tmp_path / "d"
    bad_csv = src / "wave" / "wave_P01_R2.csv"
    lines = bad_csv.read_text().splitlines()
    bad_csv.write_text("\n".join([lines[0], lines[1], lines[2].replace(lines[2].split(",")[5], "oops", 1)] + lines[3:]) + "\n")
    with pytest.raises(ValueError, match=r"wave_P01_R2\.csv:3: column 'Head_y' is missing or not a number"):
        prepare_folder(src, tmp_path / "o1")
    bad_csv.write_text(lines[0].replace("Hand_z", "Hnd_z") + "\n" + "\n".join(lines[1:]) + "\n")
    with pytest.raises(ValueError, match=r"wave_P01_R2\.csv:1: missing column 'Hand_z'"):
        prepare_folder(src, tmp_path / "o2")
    bad_csv.unlink()
    np.save(src / "kick" / "kick_P01_R0.npy", np.zeros((10, 4, 3), np.float32))
    with pytest.raises(ValueError, match=r"kick_P01_R0\.npy: sample shape .* does not match 3 channels x 5 joints"):
        prepare_folder(src, tmp_path / "o3")
    np.save(src / "kick" / "kick_P01_R0.npy", np.zeros((10, 5, 3), np.complex128))
    with pytest.raises(ValueError, match=r"kick_P01_R0\.npy: array dtype complex128 is not real-valued"):
        prepare_folder(src, tmp_path / "o3")
    np.save(src / "kick" / "kick_P01_R0.npy", np.full((10, 5, 3), 1e300))
    with pytest.raises(ValueError, match=r"kick_P01_R0\.npy: contains values beyond the float32 range"):
        prepare_folder(src, tmp_path / "o3")
    np.save(src / "kick" / "kick_P01_R0.npy", np.zeros((10, 5, 3), np.float32))
    spec = (src / "dataset.yaml").read_text()
    (src / "dataset.yaml").write_text(spec + "splits:\n  s: {train: [wave_P01_R0, nobody], test: [kick_P01_R0]}\n")
    with pytest.raises(ValueError, match=r"dataset\.yaml: key 'splits\.s\.train': unknown sample name 'nobody'"):
        prepare_folder(src, tmp_path / "o4")
    (src / "dataset.yaml").write_text(spec + "splits:\n  s: {train: {subject: [1]}, test: {class: [wave]}}\n")
    with pytest.raises(ValueError, match=r"dataset\.yaml: protocol 's': parts 'train' and 'test' share 2 sample"):
        prepare_folder(src, tmp_path / "o5")
    (src / "dataset.yaml").write_text(spec + "splits:\n  s: {train: {colour: [1]}, test: [kick_P01_R0]}\n")
    with pytest.raises(ValueError, match=r"dataset\.yaml: key 'splits\.s\.train\.colour': rules can select by class or subject"):
        prepare_folder(src, tmp_path / "o6")
    assert not any((tmp_path / f"o{i}").exists() for i in range(1, 7))
    assert main(["prepare", "folder", "--src", str(tmp_path / "missing"), "--out", str(tmp_path / "o7")]) == 2
