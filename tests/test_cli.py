"""The train/test/predict/export commands, and exact resume after a SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import engine_helpers as h
from skelar.cli.main import main
from skelar.data import PreparedDataset
from skelar.engine.checkpoint import save_checkpoint

TESTS = Path(__file__).resolve().parent


def _env() -> dict[str, str]:
    path = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _skelar(*args: str) -> list[str]:
    return [sys.executable, "-m", "skelar", *args]


def _without_time(rows):
    return [{k: v for k, v in r.items() if k != "time_s"} for r in rows]


@pytest.mark.slow
def test_kill_and_resume_matches_uninterrupted_run(tmp_path):
    data = h.make_easy_dataset(tmp_path / "easy")
    cfg = h.tiny_config(data, tmp_path / "runs", train={"epochs": 4, "log_every": 100})
    # slow samples (20 ms each) so that an epoch takes about a second and the kill lands mid-run
    cfg["data"]["train_transforms"] = [{"name": "test_sleep", "seconds": 0.02}, *cfg["data"]["train_transforms"]]
    cfg_path = tmp_path / "tiny.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    full, killed = tmp_path / "full", tmp_path / "killed"
    env = _env()
    ref = subprocess.Popen(_skelar("train", "-c", str(cfg_path), "--run-dir", str(full), "-q"), env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    victim = subprocess.Popen(_skelar("train", "-c", str(cfg_path), "--run-dir", str(killed), "-q"), env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not (killed / "last.pt").exists():
        assert victim.poll() is None, "training exited before writing its first checkpoint"
        assert time.time() < deadline, "no checkpoint after 240 s"
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    interrupted = torch.load(killed / "last.pt", weights_only=True)  # never a partial file
    assert 1 <= interrupted["epoch"] < 4, "the kill came too late to test resuming"
    assert not (killed / "report.json").exists()

    resumed = subprocess.run(_skelar("train", "--resume", str(killed), "-q"), env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    out, err = ref.communicate(timeout=300)
    assert ref.returncode == 0, err[-2000:]

    a = torch.load(full / "last.pt", weights_only=True)
    b = torch.load(killed / "last.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 4 and a["global_step"] == b["global_step"]
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    assert _without_time(a["history"]) == _without_time(b["history"])
    ra, rb = (json.loads((d / "report.json").read_text()) for d in (full, killed))
    assert ra["test"] == rb["test"] and ra["checkpoint_epoch"] == rb["checkpoint_epoch"]
    sa, sb = np.load(full / "test_scores.npz"), np.load(killed / "test_scores.npz")
    assert np.array_equal(sa["scores"], sb["scores"])
    assert _without_time(json.loads((full / "metrics.json").read_text())) == _without_time(json.loads((killed / "metrics.json").read_text()))
    assert "resumed after epoch" in (killed / "train.log").read_text()
    commands = (killed / "command.txt").read_text().splitlines()  # the start, then the resume
    assert len(commands) == 2 and commands[1].endswith(f"train --resume {killed} -q") and f"--run-dir {killed}" in commands[0]
    assert rb["commands"] == commands


@pytest.fixture(scope="module")
def sgn_run(tmp_path_factory):
    """A tiny SGN run made through the CLI (in-process)."""
    root = tmp_path_factory.mktemp("cli")
    data = h.make_easy_dataset(root / "easy")
    cfg = h.tiny_config(data, root / "runs", model={"name": "sgn", "kwargs": {"dim": 32}},
                        train={"epochs": 2, "max_steps_per_epoch": 2})
    t = [{"name": "drop_zero_frames"}, {"name": "interleave_persons"}, {"name": "segment_sample", "num_segments": 20}]
    cfg["data"]["train_transforms"] = [*t, {"name": "random_rotation", "theta": 0.3}]
    cfg["data"]["test_transforms"] = t
    cfg_path = root / "sgn.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    return root, data, cfg_path


def test_cli_train_test_predict_export(sgn_run, capsys, tmp_path):
    root, data, cfg_path = sgn_run
    run_dir = root / "run"
    assert main(["train", "-c", str(cfg_path), "--run-dir", str(run_dir), "--set", "optim.lr=0.002", "-q"]) == 0
    out = capsys.readouterr().out
    assert "test top-1:" in out and f"run directory: {run_dir}" in out
    report = json.loads((run_dir / "report.json").read_text())
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["optim"]["lr"] == 0.002
    started = f"skelar train -c {cfg_path} --run-dir {run_dir} --set optim.lr=0.002 -q"
    assert (run_dir / "command.txt").read_text() == started + "\n" and report["commands"] == [started]

    # test: rebuilt from the checkpoint metadata, same seeds -> the run's own test numbers
    ckpt = run_dir / report["checkpoint"]
    assert main(["test", "--checkpoint", str(ckpt), "-q"]) == 0
    out = capsys.readouterr().out
    again = json.loads((run_dir / "eval-easy-xsub-test" / "report.json").read_text())
    assert again["top1"] == report["test"]["top1"] and again["num_samples"] == 24
    assert f"top-1 {100 * report['test']['top1']:.2f}%" in out
    assert main(["test", "--checkpoint", str(run_dir), "--split", "val", "--clips", "1", "--out", str(tmp_path / "ev"), "-q"]) == 0
    assert json.loads((tmp_path / "ev" / "report.json").read_text())["num_samples"] == 12
    assert "easy xsub/val: top-1" in capsys.readouterr().out

    # weights without run metadata (as `skelar import-checkpoint` writes): -c CONFIG supplies data and transforms
    full = torch.load(ckpt, weights_only=True)
    bare = tmp_path / "bare.pt"
    save_checkpoint(bare, {"model": full["model"], "metadata": {k: full["metadata"][k] for k in ("model", "layout")}})
    assert main(["test", "--checkpoint", str(bare), "-q"]) == 2
    assert "does not record its dataset" in capsys.readouterr().err
    assert main(["test", "--checkpoint", str(bare), "-c", str(cfg_path), "--set", "seed=3", "--out", str(tmp_path / "bare"), "-q"]) == 0
    capsys.readouterr()
    assert json.loads((tmp_path / "bare" / "report.json").read_text())["top1"] == report["test"]["top1"]

    # predict: (C, T, V, M) and (T, V, C) .npy files and a prepared dataset; --json
    ds = PreparedDataset(data)
    np.save(tmp_path / "ctvm.npy", ds[0])
    np.save(tmp_path / "tvc.npy", ds[0][..., 0].transpose(1, 2, 0))
    assert main(["predict", "--checkpoint", str(ckpt), str(tmp_path / "ctvm.npy"), str(tmp_path / "tvc.npy"), "--json", "-k", "2"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 and len(rows[0]["top"]) == 2
    assert rows[0]["top"][0]["class"] in ds.classes and 0 < rows[0]["top"][0]["prob"] <= 1
    assert [t["prob"] for t in rows[0]["top"]] == pytest.approx([t["prob"] for t in rows[1]["top"]])  # same sample, same clips
    assert main(["predict", "--checkpoint", str(ckpt), str(data)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(ds) and f"[true: {ds.classes[int(ds.labels[0])]}]" in lines[0]  # class names, not indices

    # bad inputs: one-line errors naming the file
    np.save(tmp_path / "bad.npy", np.zeros((5, 7)))
    assert main(["predict", "--checkpoint", str(ckpt), str(tmp_path / "bad.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.npy: shape (5, 7) is neither" in err
    np.save(tmp_path / "empty.npy", np.zeros((3, 0, 25, 1), np.float32))  # a zero-length sequence gets no prediction
    assert main(["predict", "--checkpoint", str(ckpt), str(tmp_path / "empty.npy")]) == 2
    assert "empty.npy (empty): the sequence has 0 frames; there is nothing to predict" in capsys.readouterr().err
    np.save(tmp_path / "complex.npy", ds[0].astype(np.complex64) * 1j)  # never cast silently (imaginary part lost)
    assert main(["predict", "--checkpoint", str(ckpt), str(tmp_path / "complex.npy")]) == 2
    assert "complex.npy: array dtype complex64 is not real-valued" in capsys.readouterr().err

    # export --format weights: the card's training command is the one the run recorded
    assert main(["export", "--checkpoint", str(run_dir), "--format", "weights", "--out", str(tmp_path / "w" / "sgn-cli.pt")]) == 0
    capsys.readouterr()
    assert json.loads((tmp_path / "w" / "sgn-cli.json").read_text())["train_command"] == started

    # export: ONNX with a dynamic batch, verified against PyTorch by onnxruntime
    pytest.importorskip("onnxruntime")
    onnx_path = tmp_path / "m.onnx"
    assert main(["export", "--checkpoint", str(ckpt), "--out", str(onnx_path)]) == 0
    assert "onnxruntime max |diff|" in capsys.readouterr().out
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(size=(3, 3, 20, 25, 1)).astype(np.float32)
    assert sess.run(None, {"x": x})[0].shape == (3, 3)


def test_cli_errors_are_one_line(sgn_run, capsys, tmp_path):
    root, data, cfg_path = sgn_run
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "no checkpoint at" in capsys.readouterr().err
    assert main(["test", "--checkpoint", str(tmp_path / "none.pt")]) == 2
    assert capsys.readouterr().err.strip() == f"skelar: error: checkpoint not found: {tmp_path / 'none.pt'}"
    assert main(["train"]) == 2
    assert "needs -c CONFIG.yaml" in capsys.readouterr().err
    assert main(["train", "-c", str(cfg_path), "--set", "data.source=" + str(tmp_path / "missing"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "data.source:" in err and "does not exist" in err
