"""Validation carving says what it took and offers what is achievable; PYSKL split keys and subjects are mapped as documented."""

import logging

import numpy as np
import pytest

from skelar.cli.main import main
from skelar.formats.pyskl import PysklAnnotation, save_pyskl
from skelar.preprocess.custom import prepare_pyskl, pyskl_split_mapping
from skelar.store.splits import carve_validation, describe_carve


def test_describe_carve_reports_and_offers_the_nearest_fraction():
    subjects, labels, pool = np.repeat([1, 2, 3], 9), np.tile([0, 1, 2], 9), np.arange(27)
    train, val = carve_validation(pool, labels, subjects, fraction=0.1, seed=0)
    message, off = describe_carve(pool, val, subjects, 0.1, seed=0)
    assert off and "9 of 27 training samples (33.3 %, 10 % asked), 1 whole subject(s) of 3" in message
    assert "nearest achievable is 33.3 % (1 subject(s), fraction 0.333)" in message and "by: sample" in message
    # the offered fraction reproduces that carve; the sample-level carve keeps every subject in training
    assert np.array_equal(carve_validation(pool, labels, subjects, fraction=0.333, seed=0)[1], val)
    train, val = carve_validation(pool, labels, subjects, fraction=0.1, seed=0, by="sample")
    message, off = describe_carve(pool, val, subjects, 0.1, seed=0, by="sample")
    assert not off and "3 of 27" in message and set(subjects[train]) == {1, 2, 3}
    many = np.repeat(np.arange(20), 5)
    _, val = carve_validation(np.arange(100), np.arange(100) % 4, many, fraction=0.1, seed=1)
    assert describe_carve(np.arange(100), val, many, 0.1, seed=1) == ("validation: 10 of 100 training samples (10.0 %, 10 % asked), 2 whole subject(s) of 20", False)


def _pickle(path, names, split):
    rng = np.random.default_rng(0)
    anns = [PysklAnnotation(n, i % 2, rng.normal(size=(1, 6, 5, 3)).astype(np.float32)) for i, n in enumerate(names)]
    save_pyskl(path, anns, split)


def test_pyskl_subject_pattern_split_mapping_and_report(tmp_path, caplog, capsys):
    names = [f"clip{i:02d}_s{i % 4:02d}s{(i % 4) + 4:02d}" for i in range(16)]
    _pickle(tmp_path / "a.pkl", names, {"xsub_train": names[:12], "xsub_val": names[12:]})
    (tmp_path / "five.yaml").write_text("name: five_p\nnames: [a, b, c, d, e]\nparents: [-1, 0, 1, 2, 3]\n")
    with caplog.at_level(logging.INFO):
        ds = prepare_pyskl(tmp_path / "a.pkl", tmp_path / "out", str(tmp_path / "five.yaml"), trust_pickle=True,
                           subject_pattern=r"_(?P<subject>s\d+s\d+)$", val_fraction=0.25)
    assert ds.manifest["subject_names"] == ["s00s04", "s01s05", "s02s06", "s03s07"]
    assert ds.manifest["split_mapping"] == {"xsub_train": "xsub/train", "xsub_val": "xsub/test"}
    assert "split 'xsub_val' -> xsub/test (4 clips)" in caplog.text and "xsub: validation: 3 of 12 training samples" in caplog.text
    val, train = ds.split("xsub", "val"), ds.split("xsub", "train")
    assert not set(ds.meta["subject"][val]) & set(ds.meta["subject"][train])
    with pytest.raises(ValueError, match="--subject-pattern does not match frame_dir 'clip00_s00s04'"):
        prepare_pyskl(tmp_path / "a.pkl", tmp_path / "out2", "five_p", trust_pickle=True, subject_pattern=r"_(?P<subject>p\d+)")
    assert main(["prepare", "pyskl", "--src", str(tmp_path / "a.pkl"), "--out", str(tmp_path / "out3"), "--layout", "five_p",
                 "--trust-pickle", "--val-by", "sample"]) == 0
    out = capsys.readouterr().out
    assert "split 'xsub_train' -> xsub/train" in out and "xsub: train 10, val 2, test 4" in out


def test_split_mapping_rules():
    assert pyskl_split_mapping(["xsub_train", "xsub_val", "xsub_test", "train", "val", "train1", "test1"]) == {
        "xsub_train": ("xsub", "train"), "xsub_val": ("xsub", "val"), "xsub_test": ("xsub", "test"),
        "train": ("default", "train"), "val": ("default", "test"), "train1": ("split1", "train"), "test1": ("split1", "test")}
