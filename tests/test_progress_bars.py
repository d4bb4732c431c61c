"""Progress bars are shown on a terminal only: a non-terminal stderr (a log file) gets no bar updates."""

from __future__ import annotations

import io
import json
import sys

import numpy as np

from skelar.data.synthetic import write_synthetic_dataset
from skelar.preprocess.ntu_prepare import prepare_ntu
from skelar.preprocess.ucla import prepare_ucla


class _Log(io.StringIO):
    """A stderr that is not a terminal (as when output goes to a log file)."""

    def isatty(self) -> bool:
        return False


def _stderr_of(monkeypatch, fn) -> str:
    log = _Log()
    monkeypatch.setattr(sys, "stderr", log)
    fn()
    return log.getvalue()


def test_synthetic_generation_writes_no_bar_to_a_log(tmp_path, monkeypatch):
    err = _stderr_of(monkeypatch, lambda: write_synthetic_dataset(tmp_path / "s", progress=True, num_classes=2, num_subjects=3, num_views=2, repetitions=1))
    assert "synthetic" not in err and "it/s" not in err and "sample/s" not in err


def test_prepare_writes_no_bar_to_a_log(shared, tmp_path, monkeypatch):
    src = tmp_path / "all_sqe"
    src.mkdir()
    for name in ("a01_s01_e00_v01", "a02_s02_e00_v03"):
        (src / f"{name}.json").write_text(json.dumps({"skeletons": np.ones((2, 20, 3)).tolist()}))
    err = _stderr_of(monkeypatch, lambda: prepare_ucla(src, tmp_path / "u", val_fraction=0, progress=True))
    assert "nw-ucla" not in err and "seq/s" not in err
    ntu = shared("data", "ntu-samples", "skeletons")
    err = _stderr_of(monkeypatch, lambda: prepare_ntu(ntu, tmp_path / "n", "ntu60", progress=True, val_fraction=0))
    assert "prepare:" not in err and "file/s" not in err
