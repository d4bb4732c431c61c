"""Mixed precision (``train.amp`` / ``--amp``): resolution, the step, records, and exact resume on CPU."""

from __future__ import annotations

import copy
import json

import pytest
import torch
import torch.nn.functional as F
import yaml
from torch import nn

import engine_helpers as h
from skelar.cli.main import main
from skelar.engine.amp import AmpTrainStep, resolve_amp
from skelar.engine.config import config_from_dict
from skelar.engine.train_state import TrainState
from skelar.engine.trainer import resume_config, train
from skelar.models import create_model

CPU = torch.device("cpu")


def test_resolve_amp_modes():
    assert resolve_amp("off", CPU) is None
    auto = resolve_amp("auto", CPU)
    assert auto is not None and auto.dtype == torch.bfloat16 and not auto.grad_scaler
    fp16 = resolve_amp("fp16", CPU)
    assert fp16 is not None and fp16.dtype == torch.float16 and fp16.grad_scaler
    assert fp16.record() == {"mode": "fp16", "dtype": "float16", "device_type": "cpu", "grad_scaler": True}
    with pytest.raises(ValueError, match="train.amp"):
        resolve_amp("int8", CPU)


def test_config_amp_values(tmp_path):
    base = h.tiny_config(tmp_path, tmp_path)
    assert config_from_dict(base).train.amp == "off"
    assert config_from_dict({**base, "train": {"amp": True}}).train.amp == "auto"
    assert config_from_dict({**base, "train": {"amp": False}}).train.amp == "off"
    with pytest.raises(ValueError, match="amp"):
        config_from_dict({**base, "train": {"amp": "fp8"}})


class _Probe(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.bn = nn.BatchNorm1d(3)
        self.seen: list[torch.dtype] = []

    def forward(self, x):
        y = self.fc(x)
        self.seen.append(y.dtype)
        return {"logits": self.bn(y), "aux_losses": {"extra": y.float().pow(2).mean()}}


@pytest.mark.parametrize("mode", ["bf16", "fp16"])
def test_step_runs_in_low_precision_and_keeps_float32_state(mode):
    amp = resolve_amp(mode, CPU)
    step = AmpTrainStep(F.cross_entropy, {"extra": 0.1}, amp)
    model = _Probe()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    state = TrainState(model, opt, None, scaler=step.new_scaler())
    assert (state.scaler is not None) == (mode == "fp16")
    out = step(state, model, torch.randn(8, 4), torch.randint(0, 3, (8,)), 0, 0)
    assert model.seen == [amp.dtype]  # the product ran in the low precision
    assert out.logits.dtype == torch.float32 and out.loss.dtype == torch.float32  # the loss is float32
    assert all(p.dtype == torch.float32 and p.grad is not None and p.grad.dtype == torch.float32 for p in model.parameters())
    assert model.bn.running_mean.dtype == torch.float32 and state.global_step == 1


def test_ctrgcn_fast_form_under_bf16_autocast():
    torch.manual_seed(0)
    literal = create_model("ctrgcn", num_classes=5, layout="ucla20", fast=False)
    fast = copy.deepcopy(literal).set_fast(True)
    x = torch.randn(4, 3, 16, 20, 1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        a, b = literal(x).float(), fast(x).float()
    assert torch.isfinite(b).all()
    assert (a - b).abs().max() <= 0.05 * a.abs().max()  # bf16 rounding, both forms alike
    assert fast.l5.gcn1.bn.running_mean.dtype == torch.float32
    torch.testing.assert_close(fast.l5.gcn1.bn.running_mean, literal.l5.gcn1.bn.running_mean, rtol=0.05, atol=0.05)


def _weights_equal(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("mode", ["bf16", "fp16"])
def test_amp_run_is_recorded_and_resumes_exactly(tmp_path, mode):
    data = h.make_easy_dataset(tmp_path / "easy")
    cfg = h.tiny_config(data, tmp_path / "runs", model={"name": "test_mlp", "kwargs": {"batchnorm": True}},
                        train={"epochs": 3, "log_every": 100, "amp": mode})
    full = train(config_from_dict(cfg), run_dir=tmp_path / "full", progress=False)
    short = train(config_from_dict({**cfg, "train": {**cfg["train"], "epochs": 2}}), run_dir=tmp_path / "part", progress=False)
    assert short.report["epochs_trained"] == 2
    resumed_cfg, run_dir, ckpt = resume_config(tmp_path / "part", ["train.epochs=3"])
    resumed = train(resumed_cfg, run_dir=run_dir, resume=ckpt, progress=False)

    a, b = (torch.load(d / "last.pt", weights_only=True) for d in (full.run_dir, resumed.run_dir))
    assert a["epoch"] == b["epoch"] == 3
    _weights_equal(a["model"], b["model"])
    assert [r["train_loss"] for r in a["history"]] == [r["train_loss"] for r in b["history"]]
    assert ("scaler" in a) == (mode == "fp16")
    if mode == "fp16":
        assert a["scaler"] == b["scaler"]
    record = {"mode": mode, "dtype": {"bf16": "bfloat16", "fp16": "float16"}[mode], "device_type": "cpu", "grad_scaler": mode == "fp16"}
    assert a["metadata"]["amp"] == record and full.report["amp"] == record
    assert yaml.safe_load((full.run_dir / "config.yaml").read_text())["train"]["amp"] == mode


def test_cli_amp_flag_sets_train_amp(tmp_path):
    data = h.make_easy_dataset(tmp_path / "easy")
    cfg = h.tiny_config(data, tmp_path / "runs", train={"epochs": 1, "max_steps_per_epoch": 1})
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["train", "-c", str(path), "--run-dir", str(tmp_path / "r"), "--amp", "-q"]) == 0
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["amp"]["mode"] == "bf16"  # auto on CPU
    assert yaml.safe_load((tmp_path / "r" / "config.yaml").read_text())["train"]["amp"] == "auto"
