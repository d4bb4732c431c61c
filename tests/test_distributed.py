"""Data-parallel training under torchrun (2 CPU processes, Gloo): the same batches as one process,
every evaluation sample scored exactly once, rank 0's statistics evaluated and saved, exact resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import yaml

import engine_helpers as h
from skelar.engine.config import config_from_dict
from skelar.engine.distributed import merge_eval_shards
from skelar.engine.evaluate import EvalResult
from skelar.engine.loaders import EpochSampler, eval_positions
from skelar.engine.trainer import train

TESTS = Path(__file__).resolve().parent

needs_gloo = pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()), reason="torch.distributed with Gloo is not available")


def test_sampler_splits_each_global_batch_over_processes():
    n, batch, world = 23, 6, 3
    single = EpochSampler(n, seed=5, batch_size=batch)
    shards = [EpochSampler(n, seed=5, rank=r, world_size=world, batch_size=batch) for r in range(world)]
    for epoch in (0, 4):
        for s in (single, *shards):
            s.set_epoch(epoch)
        full = single.order()
        per = batch // world
        assert all(len(s) == (n // batch) * per for s in shards)
        for step in range(n // batch):  # step s of every process together = batch s of one process
            together = np.concatenate([s.order()[step * per:(step + 1) * per] for s in shards])
            np.testing.assert_array_equal(together, full[step * batch:(step + 1) * batch])
    with pytest.raises(ValueError, match="batch_size: 7 does not split evenly over 3 processes"):
        EpochSampler(n, seed=0, rank=0, world_size=3, batch_size=7)


def test_eval_shards_cover_every_sample_once_in_order():
    n, world = 11, 3
    pos = [eval_positions(n, r, world) for r in range(world)]
    assert sorted(np.concatenate(pos).tolist()) == list(range(n))
    scores = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    labels, indices = np.arange(n) % 2, 100 + np.arange(n)
    shards = [(EvalResult(scores[p], labels[p], indices[p], loss=float(r)), p) for r, p in enumerate(pos)]
    merged = merge_eval_shards(shards[::-1])  # any arrival order
    np.testing.assert_array_equal(merged.scores, scores)
    np.testing.assert_array_equal(merged.indices, indices)
    assert merged.loss == pytest.approx((0 * 4 + 1 * 4 + 2 * 3) / n)  # sample-weighted
    with pytest.raises(RuntimeError, match="do not cover positions"):
        merge_eval_shards(shards[:2])
    with pytest.raises(RuntimeError, match="do not cover positions"):
        merge_eval_shards([*shards, shards[0]])


def _env() -> dict[str, str]:
    path = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    return {**env, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _torchrun(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "skelar", *args]
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _config(tmp_path: Path, **model_kwargs) -> dict:
    data = h.make_easy_dataset(tmp_path / "easy")
    cfg = h.tiny_config(data, tmp_path / "runs", model={"name": "test_mlp", "kwargs": model_kwargs}, train={"epochs": 3, "log_every": 100})
    cfg["device"] = "cpu"
    return cfg


@needs_gloo
def test_two_processes_train_like_one_and_resume_exactly(tmp_path):
    cfg = _config(tmp_path, dropout=0.0)  # no per-process randomness: the runs must agree to rounding
    one = train(config_from_dict(cfg), run_dir=tmp_path / "one", progress=False)

    two_cfg = dict(cfg, train={**cfg["train"], "epochs": 2})
    cfg_path = tmp_path / "two.yaml"
    cfg_path.write_text(yaml.safe_dump(two_cfg))
    run = tmp_path / "two"
    first = _torchrun("train", "-c", str(cfg_path), "--run-dir", str(run), "-q")
    assert first.stdout.count("test top-1:") == 1  # rank 0 reports, once
    ckpt = torch.load(run / "last.pt", weights_only=True)
    assert ckpt["epoch"] == 2 and len(ckpt["rng_ranks"]) == 2
    _torchrun("train", "--resume", str(run), "--set", "train.epochs=3", "-q")  # 2 epochs, then one more

    a = torch.load(tmp_path / "one" / "last.pt", weights_only=True)
    b = torch.load(run / "last.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 3 and a["global_step"] == b["global_step"] == 3 * 4
    for k, v in a["model"].items():
        torch.testing.assert_close(b["model"][k], v, rtol=1e-5, atol=1e-6, msg=k)
    for ra, rb in zip(a["history"], b["history"]):
        for key in ("train_loss", "train_acc", "val_loss", "val_top1"):
            assert rb[key] == pytest.approx(ra[key], rel=1e-5, abs=1e-6), key
    rep = json.loads((run / "report.json").read_text())
    assert rep["test"]["num_samples"] == one.report["test"]["num_samples"] == 24
    assert rep["test"]["top1"] == one.report["test"]["top1"]
    sa, sb = np.load(tmp_path / "one" / "test_scores.npz"), np.load(run / "test_scores.npz")
    assert list(sa["names"]) == list(sb["names"])  # every test sample once, in dataset order
    np.testing.assert_allclose(sb["scores"], sa["scores"], rtol=1e-5, atol=1e-5)
    assert len((run / "command.txt").read_text().splitlines()) == 2
    assert "data-parallel over 2 processes" in (run / "train.log").read_text()


@needs_gloo
def test_batchnorm_statistics_of_rank_0_are_evaluated_and_saved(tmp_path):
    cfg = _config(tmp_path, batchnorm=True)
    cfg["train"]["epochs"] = 2
    cfg_path = tmp_path / "bn.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    done = _torchrun("train", "-c", str(cfg_path), "-q")  # no --run-dir: rank 0 names it, the others follow
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and f"run directory: {runs[0]}" in done.stdout
    run = runs[0]
    # one process scoring the saved checkpoint reproduces the data-parallel run's own test scores
    from skelar.cli.main import main

    assert main(["test", "--checkpoint", str(run), "--out", str(tmp_path / "ev"), "-q"]) == 0
    ours, again = np.load(run / "test_scores.npz"), np.load(tmp_path / "ev" / "test_scores.npz")
    assert list(ours["names"]) == list(again["names"]) and len(ours["names"]) == 24
    np.testing.assert_allclose(again["scores"], ours["scores"], rtol=1e-5, atol=1e-6)
    assert json.loads((tmp_path / "ev" / "report.json").read_text())["top1"] == json.loads((run / "report.json").read_text())["test"]["top1"]
    # the last epoch's validation (sharded over both processes) used rank 0's statistics too
    assert main(["test", "--checkpoint", str(run / "last.pt"), "--split", "val", "--out", str(tmp_path / "val"), "-q"]) == 0
    val = np.load(tmp_path / "val" / "val_scores.npz")
    last = torch.load(run / "last.pt", weights_only=True)["history"][-1]
    loss = torch.nn.functional.cross_entropy(torch.from_numpy(val["scores"]).double(), torch.from_numpy(val["labels"]))
    assert last["val_loss"] == pytest.approx(float(loss), rel=1e-5)
