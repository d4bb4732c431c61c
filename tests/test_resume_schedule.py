"""Resuming across a learning-rate milestone continues the schedule exactly (the scheduler state is restored)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

import engine_helpers as h
from skelar.cli.main import main


def _train(args: list[str]) -> None:
    assert main(["train", *args, "-q"]) == 0


@pytest.mark.parametrize("stop_after", [1, 2])
def test_resume_across_lr_milestone_equals_uninterrupted_run(stop_after, tmp_path: Path):
    data = h.make_easy_dataset(tmp_path / "easy", subjects=5, per_class=3)
    cfg = h.tiny_config(data, tmp_path / "runs", train={"epochs": 4, "log_every": 100},
                        optim={"name": "sgd", "lr": 0.1, "momentum": 0.9},
                        sched={"name": "multistep", "milestones": [2], "gamma": 0.1})
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    full, part = tmp_path / "full", tmp_path / "part"
    _train(["-c", str(cfg_path), "--run-dir", str(full)])
    # the interrupted run: the same config, stopped after `stop_after` epochs, then resumed to the end
    _train(["-c", str(cfg_path), "--run-dir", str(part), "--set", f"train.epochs={stop_after}"])
    _train(["--resume", str(part), "--set", "train.epochs=4"])

    a = torch.load(full / "last.pt", weights_only=True)
    b = torch.load(part / "last.pt", weights_only=True)
    lrs = [row["lr"] for row in a["history"]]
    assert lrs == pytest.approx([0.1, 0.1, 0.01, 0.01])  # the milestone is crossed
    assert [row["lr"] for row in b["history"]] == lrs
    assert a["scheduler"] == b["scheduler"]
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    ra, rb = (json.loads((d / "report.json").read_text()) for d in (full, part))
    assert ra["test"] == rb["test"]
