"""Run directories: a new run never mixes with the files of an earlier (finished, interrupted or crashed)
one, and resuming from a checkpoint alone never imports the modules it records."""

from __future__ import annotations

import sys
import uuid

import pytest
import torch
import yaml

import engine_helpers as h
from skelar.cli.main import main


@pytest.fixture
def cfg_path(tmp_path):
    data = h.make_easy_dataset(tmp_path / "easy", subjects=4, per_class=2)
    cfg = h.tiny_config(data, tmp_path / "runs", train={"epochs": 1})
    cfg["data"]["batch_size"] = 4
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_crashed_run_dir_is_refused(cfg_path, tmp_path, capsys):
    """A run killed before its first checkpoint left config.yaml, command.txt and train.log: a new run there
    is refused (its files stay as they were) instead of appending to them."""
    run = tmp_path / "crashed"
    run.mkdir()
    left = {"config.yaml": "seed: 1\n", "command.txt": "skelar train -c old.yaml\n", "train.log": "old log\n"}
    for name, text in left.items():
        (run / name).write_text(text)
    assert main(["train", "-c", str(cfg_path), "--run-dir", str(run), "-q"]) == 2
    err = capsys.readouterr().err
    assert f"{run} holds files of an earlier run" in err and "command.txt, config.yaml, train.log" in err and err.count("\n") == 1
    assert {p.name: p.read_text() for p in run.iterdir()} == left


def test_empty_or_new_run_dir_is_fine(cfg_path, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for run in (tmp_path / "empty", tmp_path / "new"):
        assert main(["train", "-c", str(cfg_path), "--run-dir", str(run), "-q"]) == 0
        assert (run / "last.pt").is_file() and len((run / "command.txt").read_text().splitlines()) == 1
    assert main(["train", "-c", str(cfg_path), "--run-dir", str(tmp_path / "new"), "-q"]) == 2  # finished: refused too
    assert "already holds a run" in capsys.readouterr().err


def test_resume_from_a_checkpoint_alone_does_not_import(cfg_path, tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    assert main(["train", "-c", str(cfg_path), "--run-dir", str(run), "-q"]) == 0
    module = f"skelar_resume_plug_{uuid.uuid4().hex[:8]}"
    marker = tmp_path / "imported.txt"
    (tmp_path / f"{module}.py").write_text(f"import pathlib\npathlib.Path({str(marker)!r}).write_text('x')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    ckpt = torch.load(run / "last.pt", weights_only=True)
    ckpt["metadata"]["config"]["imports"] = [module]
    torch.save(ckpt, run / "last.pt")
    (run / "config.yaml").unlink()  # only the checkpoint is left to say how the run was configured
    assert main(["train", "--resume", str(run), "--set", "train.epochs=2", "-q"]) == 2
    assert f"pass --import {module}" in capsys.readouterr().err
    assert not marker.exists() and module not in sys.modules
    assert main(["train", "--resume", str(run), "--set", "train.epochs=2", "--import", module, "-q"]) == 0
    assert marker.exists() and torch.load(run / "last.pt", weights_only=True)["epoch"] == 2
