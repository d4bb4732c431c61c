"""The training engine: learning, honest evaluation, clip averaging, aux losses, checkpoints, schedules."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
import torch

import engine_helpers as h
from skelar.data import PreparedDataset, SkeletonDataset
from skelar.engine.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from skelar.engine.config import config_from_dict
from skelar.engine.data_setup import resolve_splits
from skelar.engine.evaluate import evaluate
from skelar.engine.loaders import EpochSampler, eval_loader
from skelar.engine.losses import SGNLabelSmoothingLoss, combine_losses
from skelar.engine.optim import lr_factor
from skelar.engine.seeding import get_rng_state, set_rng_state
from skelar.engine.trainer import train
from skelar.models import create_model
from skelar.transforms import build_transforms

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def easy(tmp_path_factory):
    return h.make_easy_dataset(tmp_path_factory.mktemp("data") / "easy")


@pytest.fixture(scope="module")
def trained(easy, tmp_path_factory):
    """One tiny training run shared by several tests."""
    out = tmp_path_factory.mktemp("runs")
    cfg = config_from_dict(h.tiny_config(easy, out, train={"epochs": 4, "log_every": 2}))
    return train(cfg, progress=False)


def test_training_reduces_loss_and_learns(trained):
    losses = [r["train_loss"] for r in trained.history]
    assert losses[-1] < 0.7 * losses[0], losses
    assert trained.report["test"]["top1"] >= 0.6  # chance is 1/3; 16 steps only
    assert trained.report["test"]["num_samples"] == 24


def test_run_directory_contents(trained, easy):
    d = trained.run_dir
    for name in ("config.yaml", "metrics.csv", "metrics.json", "train.log", "curves.png", "confusion.png",
                 "confusion.npy", "confusion.csv", "report.json", "test_scores.npz", "best.pt", "last.pt"):
        assert (d / name).is_file(), name
    rows = json.loads((d / "metrics.json").read_text())
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    assert {"lr", "train_loss", "train_acc", "val_loss", "val_top1", "val_top5", "time_s"} <= set(rows[0])
    assert (d / "metrics.csv").read_text().count("\n") == 5
    scores = np.load(d / "test_scores.npz")
    assert scores["scores"].shape == (24, 3) and len(scores["names"]) == 24
    assert np.array_equal(np.sort(scores["indices"]), PreparedDataset(easy).split("xsub", "test"))
    cm = np.load(d / "confusion.npy")
    assert cm.sum() == 24
    report = json.loads((d / "report.json").read_text())
    assert report["test"]["top1"] == pytest.approx(float((scores["scores"].argmax(1) == scores["labels"]).mean()))
    assert "epoch 2" in (d / "train.log").read_text() and "test (xsub" in (d / "train.log").read_text()


def test_checkpoint_is_weights_only_and_self_describing(trained):
    raw = torch.load(trained.run_dir / "last.pt", weights_only=True)
    assert raw["epoch"] == 4 and raw["global_step"] > 0
    meta = raw["metadata"]
    assert meta["model"]["name"] == "test_mlp" and meta["model"]["kwargs"]["num_classes"] == 3
    assert meta["layout"]["name"] == "ntu25" and len(meta["layout"]["dict"]["joints"]) == 25
    assert meta["dataset"]["classes"] == ["action0", "action1", "action2"]
    assert meta["preprocessing"]["test_transforms"] == [{"name": "segment_sample", "num_segments": 16}]
    assert meta["config"]["data"]["test_clips"] == 2 and meta["skelar_version"] and meta["created"]
    assert set(raw["rng"]) >= {"python", "numpy", "torch"} and "optimizer" in raw and "scheduler" in raw
    model, ckpt = model_from_checkpoint(trained.run_dir / "best.pt")
    assert not model.training
    ref = torch.load(trained.run_dir / "best.pt", weights_only=True)["model"]
    for k, v in model.state_dict().items():
        assert torch.equal(v, ref[k])


def test_rng_state_roundtrip():
    state = get_rng_state()
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    set_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "last.pt"
    save_checkpoint(target, {"model": {"w": torch.ones(2)}, "metadata": {}})
    before = target.read_bytes()

    def broken_save(obj, f, *a, **k):
        f.write(b"partial garbage")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        save_checkpoint(target, {"model": {"w": torch.zeros(2)}, "metadata": {}})
    assert target.read_bytes() == before  # old checkpoint intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # no temp file left behind
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(target)["model"]["w"], torch.ones(2))


def test_load_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt: not a readable checkpoint"):
        load_checkpoint(tmp_path / "bad.pt")
    torch.save({"conv.weight": torch.ones(1)}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="not a skelar checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")


def test_evaluation_scores_every_sample_with_odd_batches(easy):
    ds = PreparedDataset(easy)
    idx = ds.split("xsub", "test")[:7]
    sd = SkeletonDataset(ds, idx, build_transforms([{"name": "segment_sample", "num_segments": 16}]), num_clips=1)
    model = create_model("test_mlp", num_classes=3)
    res = evaluate(model, eval_loader(sd, batch_size=3, num_workers=0, device=CPU), CPU)
    assert res.scores.shape == (7, 3)
    assert np.array_equal(res.indices, idx) and np.array_equal(res.labels, ds.labels[idx])


def test_multi_clip_evaluation_averages_logits(easy):
    ds = PreparedDataset(easy)
    idx = ds.split("xsub", "test")[:5]
    t = build_transforms([{"name": "segment_sample", "num_segments": 16}, {"name": "test_noise", "sigma": 0.5}])
    sd = SkeletonDataset(ds, idx, t, num_clips=3, seed=7)
    torch.manual_seed(0)
    model = create_model("test_mlp", num_classes=3).eval()
    res = evaluate(model, eval_loader(sd, batch_size=2, num_workers=0, device=CPU), CPU)
    with torch.no_grad():
        for row, i in enumerate(range(len(idx))):
            clips = sd[i][0]  # (K, C, T, V, M); the clips differ (noise per clip)
            assert not torch.equal(clips[0], clips[1])
            per_clip = model(clips)
            np.testing.assert_allclose(res.scores[row], per_clip.mean(0).numpy(), rtol=1e-5, atol=1e-6)
            probs_mean = torch.softmax(per_clip, 1).mean(0)
            assert not np.allclose(res.scores[row], probs_mean.numpy())


def _threshold_cfg(data, out, select="val_top1", epochs=5):
    return config_from_dict({
        "imports": ["engine_helpers"],
        "output_dir": str(out),
        "data": {"source": str(data), "protocol": "p", "val": {"mode": "split"}, "batch_size": 4, "eval_batch_size": 3},
        "model": {"name": "test_threshold"},
        "optim": {"name": "sgd", "lr": 1.0, "momentum": 0.0},
        "loss": {"aux_weights": {"push": 1.0}},
        "train": {"epochs": epochs, "select": select, "checkpoint_every": 1},
    })


def test_selection_uses_validation_never_test(tmp_path):
    """val accuracy peaks at epoch 2 (threshold 2), test accuracy at epoch 4 (threshold 4)."""
    data = h.make_threshold_dataset(tmp_path / "thr")
    res = train(_threshold_cfg(data, tmp_path / "runs"), progress=False)
    val = [r["val_top1"] for r in res.history]
    assert val == [0.75, 1.0, 0.75, 0.5, 0.5]
    assert res.report["checkpoint"] == "best.pt" and res.report["checkpoint_epoch"] == 2
    assert res.report["test"]["top1"] == pytest.approx(3 / 5)
    # what each epoch would have scored on test: the best one (epoch 4) was NOT chosen
    test_acc = {}
    ds = PreparedDataset(data)
    for e in range(1, 6):
        model, _ = model_from_checkpoint(res.run_dir / f"epoch_{e:03d}.pt")
        r = evaluate(model, eval_loader(SkeletonDataset(ds, ds.split("p", "test")), 3, 0, CPU), CPU)
        test_acc[e] = r.top1
    assert max(test_acc, key=test_acc.get) == 4 and test_acc[4] == 1.0
    assert res.report["test"]["top1"] == test_acc[2]
    last = train(_threshold_cfg(data, tmp_path / "runs2", select="last"), progress=False)
    assert last.report["checkpoint"] == "last.pt" and last.report["test"]["top1"] == pytest.approx(test_acc[5])


def test_aux_losses_are_added_with_their_weights(tmp_path):
    data = h.make_threshold_dataset(tmp_path / "thr")
    cfg = _threshold_cfg(data, tmp_path / "runs", epochs=2)
    cfg = cfg.model_copy(update={"loss": cfg.loss.model_copy(update={"aux_weights": {"push": 0.25}})})
    res = train(cfg, progress=False)
    p = torch.load(res.run_dir / "last.pt", weights_only=True)["model"]["p"]
    assert float(p) == pytest.approx(2 * 0.25)  # two SGD steps of lr 1 on 0.25 * (-p)
    row = res.history[0]
    assert row["train_push"] == pytest.approx(0.0) and row["train_loss"] == pytest.approx(row["train_cls"] + 0.25 * row["train_push"])
    row = res.history[1]
    assert row["train_push"] == pytest.approx(-0.25) and row["train_loss"] == pytest.approx(row["train_cls"] - 0.25 * 0.25)


def test_aux_losses_need_explicit_weights():
    logits, y = torch.zeros(2, 3), torch.tensor([0, 1])
    ce = torch.nn.CrossEntropyLoss()
    with pytest.raises(ValueError, match=r"loss.aux_weights: .*\['extra'\] without a weight"):
        combine_losses(logits, {"extra": torch.tensor(1.0)}, y, ce, {})
    with pytest.raises(ValueError, match=r"\['typo'\] not returned by the model"):
        combine_losses(logits, {}, y, ce, {"typo": 1.0})
    total, parts = combine_losses(logits, {"a": torch.tensor(2.0), "b": torch.tensor(3.0)}, y, ce, {"a": 0.5, "b": 0.0})
    assert float(total) == pytest.approx(math.log(3) + 1.0) and set(parts) == {"cls", "a", "b"}


def test_sgn_label_smoothing_matches_reference_formula():
    torch.manual_seed(0)
    z, y = torch.randn(4, 5), torch.tensor([0, 3, 4, 1])
    q = torch.full((4, 5), 0.1 / 4)
    q[torch.arange(4), y] = 0.9
    expected = -(q * torch.log_softmax(z, 1)).sum(1).mean()
    assert torch.allclose(SGNLabelSmoothingLoss(0.1)(z, y), expected)
    assert not torch.allclose(SGNLabelSmoothingLoss(0.1)(z, y), torch.nn.CrossEntropyLoss(label_smoothing=0.1)(z, y))


def test_lr_schedules():
    f = lr_factor("multistep", 120, [60, 90, 110], 0.1)
    assert [f(e) for e in (0, 59, 60, 89, 90, 110, 119)] == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.001, 0.001])
    w = lr_factor("multistep", 65, [35, 55], 0.1, warmup_epochs=5)  # CTR-GCN: base * (epoch + 1) / 5
    assert [w(e) for e in range(6)] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 1.0]) and w(35) == pytest.approx(0.1)
    c = lr_factor("cosine", 10, warmup_epochs=0, min_factor=0.0)
    assert c(0) == pytest.approx(1.0) and c(5) == pytest.approx(0.5) and c(10) == pytest.approx(0.0)


def test_epoch_sampler_order_depends_only_on_seed_and_epoch():
    a, b = EpochSampler(10, seed=1), EpochSampler(10, seed=1)
    a.set_epoch(3)
    b.set_epoch(3)
    assert list(a) == list(b) and sorted(i for _, i in a) == list(range(10))
    b.set_epoch(4)
    assert list(a) != list(b)


def test_validation_is_carved_from_training_subjects_only(easy):
    ds = PreparedDataset(easy)
    train_idx, val, test = resolve_splits(ds, "xsub", "carve", fraction=0.25)
    subj = ds.meta["subject"]
    assert set(subj[val]).isdisjoint(subj[train_idx]) and set(subj[val]).isdisjoint(subj[test])
    assert set(np.concatenate([train_idx, val])) == set(ds.split("xsub", "train")) | set(ds.split("xsub", "val"))
    tr, v, te = resolve_splits(ds, "xsub", "none")
    assert len(v) == 0 and set(tr) == set(ds.split("xsub", "train")) | set(ds.split("xsub", "val"))
    with pytest.raises(KeyError, match="no protocol 'xview'"):
        resolve_splits(ds, "xview", "split")


def test_results_do_not_depend_on_worker_count(easy, tmp_path):
    """Persistent workers still see each epoch's augmentation seeds (the sampler carries the epoch)."""
    weights = []
    for workers in (0, 2):
        cfg = h.tiny_config(easy, tmp_path / f"w{workers}", train={"epochs": 2, "max_steps_per_epoch": 2})
        cfg["data"]["num_workers"] = workers
        res = train(config_from_dict(cfg), progress=False)
        weights.append(torch.load(res.run_dir / "last.pt", weights_only=True)["model"])
    for k in weights[0]:
        assert torch.equal(weights[0][k], weights[1][k]), k


def test_tensorboard_logs(easy, tmp_path):
    pytest.importorskip("tensorboard")
    cfg = h.tiny_config(easy, tmp_path, train={"epochs": 1, "max_steps_per_epoch": 2, "tensorboard": True, "log_every": 1})
    res = train(config_from_dict(cfg), progress=False)
    assert list((res.run_dir / "tensorboard").glob("events.out.tfevents.*"))


def test_model_kwargs_must_agree_with_the_data(easy, tmp_path):
    cfg = h.tiny_config(easy, tmp_path, model={"name": "test_mlp", "kwargs": {"num_classes": 5}})
    with pytest.raises(ValueError, match=r"model.kwargs.num_classes: 5 does not match the data \(3\)"):
        train(config_from_dict(cfg), progress=False)
    cfg = h.tiny_config(easy, tmp_path, model={"name": "test_mlp", "kwargs": {"frames": 20}})
    with pytest.raises(ValueError, match=r"expects input \(C, T, V, M\) = \(3, 20, 25, 1\) but the data transforms produce \(3, 16, 25, 1\)"):
        train(config_from_dict(cfg), progress=False)
    assert not list(tmp_path.glob("test_mlp-*"))  # failed starts leave no run directory behind
