"""Staged training (train.stages): frozen parameters and modules, per-stage losses and optimisers, exact resume."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from engine_helpers import make_easy_dataset, tiny_config
from torch import nn

from skelar.engine.checkpoint import load_checkpoint
from skelar.engine.config import ConfigError, config_from_dict
from skelar.engine.losses import combine_losses
from skelar.engine.trainer import resume_config, train
from skelar.layouts import get_layout
from skelar.models import register_model


@register_model("test_two_part", description="test-only: classifier 'a' (with BatchNorm) and an aux-loss part 'b'")
class TwoPart(nn.Module):
    def __init__(self, num_classes: int = 3, layout: str = "ntu25", num_persons: int = 1, frames: int = 16):
        super().__init__()
        f = 3 * get_layout(layout).num_joints * num_persons
        self.input_shape = (3, frames, get_layout(layout).num_joints, num_persons)
        self.a = nn.Sequential(nn.Linear(f, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, num_classes))
        self.b = nn.Linear(f, 1)
        self.active: set[str] = {"cls", "pull"}
        self.calls: list[frozenset[str]] = []

    def set_active_losses(self, names) -> None:
        self.active = set(names)
        self.calls.append(frozenset(names))

    def forward(self, x: torch.Tensor):
        feat = x.mean(dim=2).flatten(1)
        out = {"logits": self.a(feat)}
        if self.training:
            out["aux_losses"] = {"pull": (self.b(feat) - 1).pow(2).mean()} if "pull" in self.active else {}
        return out


def _config(tmp_path: Path, **train):
    data = make_easy_dataset(tmp_path / "data")
    stages = [
        {"name": "b only", "epochs": 2, "train": ["b"], "loss": {"cls_weight": 0, "aux_weights": {"pull": 1}}, "optim": {"name": "adam", "lr": 0.01}},
        {"name": "a only", "epochs": 2, "freeze": ["b"], "loss": {"aux_weights": {"pull": 0}}, "optim": {"name": "sgd", "lr": 0.1},
         "sched": {"name": "multistep", "milestones": [1]}},
    ]
    cfg = tiny_config(data, tmp_path / "runs", model={"name": "test_two_part"}, loss={"aux_weights": {"pull": 1}},
                      train={"epochs": 4, "log_every": 50, "checkpoint_every": 1, "select": "last", "stages": stages, **train})
    cfg["imports"] = []
    return config_from_dict(cfg)


def _state(run: Path, name: str) -> dict[str, torch.Tensor]:
    return load_checkpoint(run / name)["model"]


def test_stages_freeze_train_and_switch_optimisers(tmp_path):
    result = train(_config(tmp_path), tmp_path / "run", progress=False)
    run = result.run_dir
    init_a = {k: v for k, v in _state(run, "epoch_001.pt").items() if k.startswith("a.")}
    s2, s4 = _state(run, "epoch_002.pt"), _state(run, "epoch_004.pt")
    s1 = _state(run, "epoch_001.pt")
    # stage 1 trains only b; a's weights and (eval mode) BatchNorm statistics stay as built
    for k, v in init_a.items():
        torch.testing.assert_close(s2[k], v, msg=k)
    assert not torch.equal(s1["b.weight"], s2["b.weight"])
    # stage 2 freezes b and trains a
    torch.testing.assert_close(s4["b.weight"], s2["b.weight"])
    assert not torch.equal(s4["a.0.weight"], s2["a.0.weight"])
    assert not torch.equal(s4["a.1.running_mean"], s2["a.1.running_mean"])
    # per-stage losses and learning rates: stage 1 logs no classification weight, stage 2's SGD lr steps at its epoch 1
    hist = result.history
    assert [round(r["lr"], 6) for r in hist] == [0.01, 0.01, 0.1, 0.01]
    assert "train_pull" in hist[0] and "train_pull" not in hist[3]


def test_stage_zero_weight_losses_are_switched_off(tmp_path):
    cfg = _config(tmp_path)
    from skelar.engine.stages import StagePlan
    from skelar.models import create_model

    model = create_model("test_two_part")
    plan = StagePlan(cfg, model)
    plan.activate(0)
    assert model.active == {"pull"}
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["b.weight", "b.bias"]
    plan.activate(1)
    assert model.active == {"cls"}
    assert all(p.requires_grad == n.startswith("a.") for n, p in model.named_parameters())


@pytest.mark.parametrize("stop_after", [2, 3])  # at the stage boundary, and inside the second stage
def test_resume_across_a_stage_boundary_is_exact(tmp_path, stop_after):
    full = train(_config(tmp_path), tmp_path / "full", progress=False).run_dir
    # an "interrupted" run: the state after epoch `stop_after`, resumed from there
    cut = tmp_path / "cut"
    cut.mkdir()
    shutil.copy(full / f"epoch_{stop_after:03d}.pt", cut / "last.pt")
    shutil.copy(full / "config.yaml", cut / "config.yaml")
    cfg, run_dir, ckpt = resume_config(cut)
    resumed = train(cfg, run_dir, resume=ckpt, progress=False).run_dir
    a, b = _state(full, "last.pt"), _state(resumed, "last.pt")
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=0, atol=0, msg=k)


def test_stage_config_errors(tmp_path):
    cfg = _config(tmp_path)
    raw = cfg.model_dump()
    raw["train"]["epochs"] = 5
    with pytest.raises(ConfigError, match="train.stages add up to 4"):
        config_from_dict(raw)
    raw["train"]["epochs"] = 4
    raw["train"]["stages"][1]["optim"] = {"lr": -1}
    with pytest.raises(ConfigError, match=r"train.stages\[1\].optim"):
        config_from_dict(raw)
    raw["train"]["stages"][1]["optim"] = {}
    raw["train"]["stages"][0]["train"] = ["c"]
    with pytest.raises(ValueError, match=r"train.stages\[0\].train: 'c' matches no parameter"):
        train(config_from_dict(raw), tmp_path / "bad", progress=False)


def test_cls_weight_and_zero_weight_tolerance():
    logits, y = torch.zeros(2, 3, requires_grad=True), torch.tensor([0, 1])
    ce = nn.CrossEntropyLoss()
    total, parts = combine_losses(logits, {}, y, ce, {"unused": 0.0}, cls_weight=0.1)
    torch.testing.assert_close(total, 0.1 * parts["cls"])
    with pytest.raises(ValueError, match="not returned by the model"):
        combine_losses(logits, {}, y, ce, {"typo": 1.0})
