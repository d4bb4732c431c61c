"""LTSCL trained through the engine: the AIM stage, then the backbone stage with the AIM frozen, in one config."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from engine_helpers import make_easy_dataset, tiny_config

from skelar.cli.main import main
from skelar.engine.checkpoint import load_checkpoint
from skelar.engine.inference import predict
from skelar.engine.config import config_from_dict
from skelar.engine.trainer import train


@pytest.mark.slow
def test_ltscl_staged_training_through_the_engine(tmp_path, capsys):
    data = make_easy_dataset(tmp_path / "data", per_class=2)
    clip = {"name": "ltscl_clip", "window": 16, "future": 4, "aim_frames": 4, "short": 0}
    raw = tiny_config(data, tmp_path / "runs", model={"name": "ltscl"})
    raw["data"].update({"train_transforms": [{"name": "segment_sample", "num_segments": 12}, {**clip, "aim_offset": "random"}],
              "test_transforms": [{"name": "segment_sample", "num_segments": 12}, {**clip, "aim_offset": "fixed"}],
              "test_clips": 1})
    raw.update(
        model={"name": "ltscl", "kwargs": {"input_frames": 12, "future_frames": 4, "aim_frames": 4, "base_channels": 4,
                                           "aim_hidden": 8, "queue_size": 32}},
        optim={"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True},
        loss={"cls_weight": 0.1, "aux_weights": {"aim_nll": 0, "aim_kl": 0, "recon": 0.45, "contrastive": 0.45}},
        train={"epochs": 3, "select": "last", "checkpoint_every": 1, "log_every": 50, "max_steps_per_epoch": 2, "stages": [
            {"name": "aim", "epochs": 1, "train": ["aim"], "optim": {"name": "adam", "lr": 5e-4},
             "loss": {"cls_weight": 0, "aux_weights": {"aim_nll": 1, "aim_kl": 1, "recon": 0, "contrastive": 0}}},
            {"name": "backbone", "epochs": 2, "freeze": ["aim"]},
        ]},
    )
    raw["imports"] = []
    result = train(config_from_dict(raw), tmp_path / "run", progress=False)
    run = result.run_dir
    s0 = load_checkpoint(run / "epoch_001.pt")["model"]
    s1 = load_checkpoint(run / "epoch_003.pt")["model"]
    # stage 2 froze the AIM (weights and BatchNorm statistics) and trained the backbone
    for k in s0:
        if k.startswith("aim."):
            torch.testing.assert_close(s1[k], s0[k], msg=k)
    assert not torch.equal(s1["backbone.class_layer_0.gcn.conv.weight"], s0["backbone.class_layer_0.gcn.conv.weight"])
    assert not torch.equal(s1["backbone.recon_layer_6_encoder_k.gcn_recon.deconv.weight"],
                           s0["backbone.recon_layer_6_encoder_k.gcn_recon.deconv.weight"])  # the momentum keys moved
    assert int(s1["contrast.queue_count"]) == 32  # 2 steps x 2 epochs x batch 8  # keys were enqueued while training
    h = result.history
    assert "train_aim_nll" in h[0] and "train_recon" not in h[0]
    assert "train_recon" in h[2] and "train_contrastive" in h[2] and "train_aim_nll" not in h[2]
    assert result.report["test"]["num_samples"] == result.report["splits"]["test"]

    # skelar predict on the LTSCL checkpoint also returns the predicted future frames (C, 4, V) of person 0
    sample = tmp_path / "sample.npy"
    np.save(sample, np.random.default_rng(0).normal(0, 0.3, (3, 30, 25, 1)).astype(np.float32))
    (row,) = predict(run / "last.pt", [sample], top_k=2, progress=False)
    assert len(row["top"]) == 2 and np.asarray(row["predicted_frames"]).shape == (3, 4, 25)
    assert main(["predict", "--checkpoint", str(run / "last.pt"), str(sample), "-q"]) == 0
    assert "+ 4 predicted future frames" in capsys.readouterr().out
