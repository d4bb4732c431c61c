"""The folder format reads what users have: a flat folder of clips plus an index CSV, string subjects, labels from file names."""

import numpy as np
import pytest

from custom_data import CLASSES, WIRE12, layout_yaml, write_clips
from skelar.formats.folder import load_folder_spec
from skelar.preprocess.custom import prepare_folder


def _spec(root, extra: str = "") -> None:
    (root / "wire12.yaml").write_text(layout_yaml())
    (root / "dataset.yaml").write_text("name: wire\nlayout: wire12.yaml\naxes: TVC\n" + extra)


def test_index_csv_with_string_subjects_and_split_column(tmp_path):
    rows = write_clips(tmp_path / "clips")
    _spec(tmp_path / "clips", f"classes: [{', '.join(CLASSES)}]\nindex: index.csv\nval_fraction: 0.34\n")
    ds = prepare_folder(tmp_path / "clips", tmp_path / "out")
    assert ds.layout.name == "wire12" and ds.layout.names == tuple(WIRE12) and len(ds) == len(rows) == 36
    assert ds.manifest["subject_names"] == ["s01s02", "s03s04", "s05s06", "s07s08"]
    names = list(ds.names)
    for r in rows:
        i = names.index(r["name"])
        assert ds.classes[ds.labels[i]] == r["label"] and ds.manifest["subject_names"][ds.meta["subject"][i]] == r["subject"]
    test = ds.split("default", "test")
    assert {names[i].split("_")[-2] for i in test} == {"s07s08"}
    train, val = ds.split("default", "train"), ds.split("default", "val")
    assert len(val) and not set(ds.meta["subject"][val]) & set(ds.meta["subject"][train])  # whole subjects held out
    assert len(np.union1d(train, val)) == 27


def test_flat_folder_with_label_pattern_and_derived_classes(tmp_path):
    write_clips(tmp_path / "clips")
    (tmp_path / "clips" / "index.csv").unlink()
    _spec(tmp_path / "clips", "label_pattern: '^(?P<label>raise_left|raise_right|squat)_'\nmetadata_pattern: '_(?P<subject>s\\d+s\\d+)_'\n"
          "splits: {xsub: {train: {subject: [s01s02, s03s04, s05s06]}, test: {subject: [s07s08]}}}\n")
    spec = load_folder_spec(tmp_path / "clips")
    assert spec.classes == sorted(CLASSES) and len(spec.samples) == 36
    ds = prepare_folder(tmp_path / "clips", tmp_path / "out")
    assert len(ds.split("xsub", "test")) == 9


def test_label_pattern_that_misses_a_file_is_an_error(tmp_path):
    write_clips(tmp_path / "clips", per_class=2)
    _spec(tmp_path / "clips", "label_pattern: '^(?P<label>raise_[a-z]+)_'\n")
    (tmp_path / "clips" / "index.csv").unlink()
    with pytest.raises(ValueError, match=r"key 'label_pattern'.*does not match file name 'squat_s01s02_00'"):
        load_folder_spec(tmp_path / "clips")


@pytest.mark.parametrize("index, message", [
    ("label,subject\nraise_left,s1\n", r"index.csv:1: the header needs a 'name' or a 'file' column"),
    ("name,subject\nraise_left_s01s02_00,s1\n", r"index.csv:1: no 'label' column"),
    ("name,label\nnope,squat\n", r"index.csv:2: no file\(s\) nope.npy / nope.csv"),
    ("name,label,split\nraise_left_s01s02_00,raise_left,dev\n", r"index.csv:2: column 'split' must be train, val or test"),
    ("name,label,view\nraise_left_s01s02_00,raise_left,front\n", r"index.csv:2: column 'view': view must be an integer"),
    ("name,label,split\nraise_left_s01s02_00,raise_left,train\n", r"'split' column names train but needs both train and test"),
    ("name,label\nraise_left_s01s02_00,jump\n", r"label 'jump' is neither a class name nor an index"),
])
def test_index_errors_name_the_file_and_line(tmp_path, index, message):
    write_clips(tmp_path / "clips", per_class=1)
    (tmp_path / "clips" / "index.csv").write_text(index)
    _spec(tmp_path / "clips", f"classes: [{', '.join(CLASSES)}]\nindex: index.csv\n")
    with pytest.raises(ValueError, match=message):
        load_folder_spec(tmp_path / "clips")
