"""The data.train_repeat and data.stream options: repeated training epochs and input streams chosen by one key."""

from __future__ import annotations

import numpy as np
import pytest

import engine_helpers as h
from skelar.data import PreparedDataset, SkeletonDataset
from skelar.engine.checkpoint import save_checkpoint
from skelar.engine.config import ConfigError, config_from_dict
from skelar.engine.data_setup import build_data, with_stream
from skelar.engine.inference import load_for_inference
from skelar.engine.model_setup import build_model
from skelar.engine.trainer import build_metadata
from skelar.transforms import build_transforms
from skelar.transforms.streams import Stream, to_bone, to_motion


@pytest.fixture(scope="module")
def easy(tmp_path_factory):
    return h.make_easy_dataset(tmp_path_factory.mktemp("opts") / "easy", subjects=4, per_class=2)


def test_repeat_lists_samples_with_their_own_augmentations(easy):
    ds = PreparedDataset(easy)
    idx = np.array([0, 3, 5])
    noise = build_transforms([{"name": "test_noise", "sigma": 1.0}])
    plain = SkeletonDataset(ds, idx, noise, seed=7)
    rep = SkeletonDataset(ds, idx, noise, seed=7, repeat=3)
    assert len(rep) == 9 and list(rep.labels) == list(ds.labels[idx]) * 3
    for epoch in (0, 1):
        plain.set_epoch(epoch)
        rep.set_epoch(epoch)
        for j, sample in enumerate(idx):
            # repeat=1 keeps the (seed, epoch, index, clip) keys, so existing runs are unchanged
            expected = noise(ds[int(sample)], np.random.default_rng([7, epoch, int(sample), 0]))
            assert np.allclose(plain[j][0][0].numpy(), expected)
            copies = [rep[r * len(idx) + j] for r in range(3)]
            assert all(c[2] == sample and c[1] == ds.labels[sample] for c in copies)
            for r, c in enumerate(copies):  # copy r of epoch e draws with key e * 3 + r
                want = noise(ds[int(sample)], np.random.default_rng([7, epoch * 3 + r, int(sample), 0]))
                assert np.allclose(c[0][0].numpy(), want)
    # all copies of one sample over two epochs differ from each other
    draws = []
    for epoch in (0, 1):
        rep.set_epoch(epoch)
        draws += [rep[r * 3][0].numpy() for r in range(3)]
    assert len({d.tobytes() for d in draws}) == 6
    with pytest.raises(IndexError):
        rep[9]
    with pytest.raises(ValueError, match="repeat must be >= 1"):
        SkeletonDataset(ds, idx, noise, repeat=0)


def test_train_repeat_in_the_engine(easy, tmp_path):
    base = h.tiny_config(easy, tmp_path)
    base["data"]["train_repeat"] = 3
    data = build_data(config_from_dict(base), progress=False)
    assert data.train_repeat == 3 and len(data.train_set(0)) == 3 * len(data.train_idx)
    assert len(data.eval_set("val", 1, 0)) == len(data.val_idx)  # evaluation sees every sample once
    base["data"]["train_repeat"] = 0
    with pytest.raises(ConfigError, match="data.train_repeat: input should be greater than or equal to 1"):
        config_from_dict(base)


def _cfg(easy, tmp_path, stream):
    base = h.tiny_config(easy, tmp_path)
    base["data"]["stream"] = stream
    base["data"]["train_transforms"] = base["data"]["test_transforms"]  # deterministic, to compare pipelines
    return config_from_dict(base)


def test_stream_key_appends_the_stream_to_both_pipelines(easy, tmp_path):
    joint = build_data(_cfg(easy, tmp_path, "joint"), progress=False)
    assert joint.test_specs == [{"name": "segment_sample", "num_segments": 16}]
    for stream, fn in (("bone", lambda x: to_bone(x, "ntu25")), ("motion", to_motion), ("bone_motion", lambda x: to_motion(to_bone(x, "ntu25")))):
        data = build_data(_cfg(easy, tmp_path, stream), progress=False)
        spec = {"name": "stream", "stream": stream}  # the stream takes the dataset's layout when built
        assert data.train_specs[-1] == spec and data.test_specs[-1] == spec
        for part in ("train", "test"):
            a = (joint.train_set(3) if part == "train" else joint.eval_set("test", 2, 3))[1][0].numpy()
            b = (data.train_set(3) if part == "train" else data.eval_set("test", 2, 3))[1][0].numpy()
            assert np.allclose(b, np.stack([fn(c) for c in a]), atol=1e-6), (stream, part)
    # checkpoints record the pipelines as run, so `skelar test` / `predict` rebuild the same stream
    cfg = _cfg(easy, tmp_path, "bone")
    data = build_data(cfg, progress=False)
    model = build_model("test_mlp", {"num_classes": 3, "frames": 16}, data.sample_shape)
    meta = build_metadata(cfg, model, data, {})
    assert meta["preprocessing"]["test_transforms"][-1] == {"name": "stream", "stream": "bone"}
    assert meta["preprocessing"]["train_transforms"][-1]["stream"] == "bone"
    # weights without run metadata tested with -c CONFIG: the config's stream is applied too
    path = save_checkpoint(tmp_path / "bare.pt", {"model": model.state_dict(), "metadata": {k: meta[k] for k in ("model", "layout")}})
    lm = load_for_inference(path, device="cpu", config=cfg)
    assert isinstance(lm.transform.transforms[-1], Stream) and lm.transform.transforms[-1].stream == "bone"
    assert lm.transform.transforms[-1].layout.name == "ntu25"  # the checkpoint's layout


def test_stream_key_errors(easy, tmp_path):
    base = h.tiny_config(easy, tmp_path)
    base["data"]["stream"] = "bone"
    base["data"]["test_transforms"] = [*base["data"]["test_transforms"], {"name": "bone"}]
    with pytest.raises(ConfigError, match=r"data.stream: 'bone' is appended to both pipelines, but data.test_transforms\[1\] is already a 'bone' transform"):
        config_from_dict(base)
    base["data"]["stream"] = "velocity"
    with pytest.raises(ConfigError, match="data.stream: input should be 'joint', 'bone', 'motion' or 'bone_motion'"):
        config_from_dict(base)
    assert with_stream([{"name": "x"}], "joint") == [{"name": "x"}]
