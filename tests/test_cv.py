"""Subject-fold validation (``data.val.mode: fold``) and ``skelar cv``: folds partition the training
subjects, never touch the test part, and the CV report gathers every fold's validation scores."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

import engine_helpers as h
from skelar.cli.main import main
from skelar.engine.config import config_from_dict
from skelar.engine.data_setup import resolve_splits, subject_folds
from skelar.store.prepared import PreparedDataset


def test_subject_folds_deal_sorted_subjects():
    folds = subject_folds(np.array([7, 3, 3, 9, 1, 5]), 2)
    assert [f.tolist() for f in folds] == [[1, 5, 9], [3, 7]]
    with pytest.raises(ValueError, match="at least 3 training subjects"):
        subject_folds(np.array([1, 2, 2]), 3)


def test_fold_validation_partitions_training_subjects(tmp_path):
    ds = PreparedDataset(h.make_easy_dataset(tmp_path / "easy", subjects=8))
    subject = np.asarray(ds.meta["subject"])
    train0, _, test0 = resolve_splits(ds, "xsub", "none")
    seen = []
    for fold in range(3):
        train, val, test = resolve_splits(ds, "xsub", "fold", folds=3, fold=fold)
        np.testing.assert_array_equal(test, test0)  # the test part is untouched
        assert not np.intersect1d(train, val).size
        np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), train0)
        assert not np.intersect1d(subject[train], subject[val]).size  # whole subjects
        seen += sorted(set(subject[val].tolist()))
    assert sorted(seen) == sorted(set(subject[train0].tolist()))  # every training subject validates once


def test_fold_must_be_below_folds(tmp_path):
    base = h.tiny_config(tmp_path, tmp_path)
    with pytest.raises(ValueError, match="data.val.fold"):
        config_from_dict({**base, "data": {**base["data"], "val": {"mode": "fold", "folds": 3, "fold": 3}}})


def test_cv_command_trains_every_fold_without_testing(tmp_path, capsys):
    data = h.make_easy_dataset(tmp_path / "easy", subjects=7)
    cfg = h.tiny_config(data, tmp_path / "runs", train={"epochs": 2, "log_every": 100})
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "cv"
    assert main(["cv", "-c", str(path), "--folds", "3", "--out", str(out), "-q"]) == 0
    printed = capsys.readouterr().out
    assert "mean last-epoch validation top-1 over 3 folds" in printed
    report = json.loads((out / "cv_report.json").read_text())
    assert report["folds"] == 3 and len(report["per_fold"]) == 3
    for row in report["per_fold"]:
        run = out / f"fold{row['fold']}"
        assert row["last_val_top1"] is not None and len(row["val_top1_by_epoch"]) == 2
        assert json.loads((run / "report.json").read_text())["test"] is None
        assert not (run / "test_scores.npz").exists()  # the test part was never scored
        fold_cfg = yaml.safe_load((run / "config.yaml").read_text())
        assert fold_cfg["data"]["val"] == {**fold_cfg["data"]["val"], "mode": "fold", "folds": 3, "fold": row["fold"]}
    lasts = [r["last_val_top1"] for r in report["per_fold"]]
    assert report["last_val_top1"]["mean"] == pytest.approx(sum(lasts) / 3)
    assert report["val_samples"] == sum(r["val_samples"] for r in report["per_fold"])
    # rerunning keeps the finished folds
    mtime = (out / "fold0" / "report.json").stat().st_mtime
    assert main(["cv", "-c", str(path), "--folds", "3", "--out", str(out), "-q"]) == 0
    assert (out / "fold0" / "report.json").stat().st_mtime == mtime
