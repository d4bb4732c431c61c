"""Names that become paths (dataset, protocol and run names) cannot leave the folder they are joined to."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

import engine_helpers as h
from skelar.cli.main import main
from skelar.engine.config import ConfigError, config_from_dict
from skelar.engine.run_dir import make_run_dir
from skelar.formats.folder import load_folder_spec
from skelar.store.names import check_path_name
from skelar.store.prepared import PreparedWriter, SampleMeta

BAD = ["../../../../outside", "a/b", "a\\b", "..", ".hidden", "", "x..y", "nul\0"]


@pytest.mark.parametrize("name", BAD)
def test_bad_names_are_refused(name):
    with pytest.raises(ValueError, match="dataset name: .*becomes part of a file path"):
        check_path_name(name, "dataset name")


@pytest.mark.parametrize("name", ["ntu60", "nw-ucla", "S001C001P001R001A001", "v1.2_final"])
def test_plain_names_pass(name):
    assert check_path_name(name, "x") == name


def test_folder_dataset_name_and_protocols(tmp_path):
    root = tmp_path / "d"
    (root / "a").mkdir(parents=True)
    np.save(root / "a" / "s1.npy", np.zeros((3, 4, 25), np.float32))
    for key, doc in (("name", {"name": "../../../../outside"}), ("splits.../x", {"splits": {"../x": {"train": ["s1"], "test": ["s1"]}}})):
        (root / "dataset.yaml").write_text(yaml.safe_dump({"layout": "ntu25", "classes": ["a"], "axes": "CTV", **doc}))
        with pytest.raises(ValueError, match=rf"dataset\.yaml: key '{key}': '\.\./.*' contains '/'"):
            load_folder_spec(root)
        assert main(["prepare", "folder", "--src", str(root), "--out", str(tmp_path / "out")]) == 2


def test_writer_config_and_run_dir_refuse_bad_names(tmp_path):
    with pytest.raises(ValueError, match="dataset name: '../x' contains '/'"):
        PreparedWriter(tmp_path / "ds", "ntu25", ["a"], name="../x")
    w = PreparedWriter(tmp_path / "ds", "ntu25", ["a"])
    w.add(np.zeros((3, 2, 25, 1), np.float32), SampleMeta("s", 0))
    with pytest.raises(ValueError, match="protocol name: '../p' contains '/'"):
        w.set_split("../p", "train", [0])
    w.abort()
    cfg = h.tiny_config(tmp_path, tmp_path / "runs", name="../../escape")
    with pytest.raises(ConfigError, match=r"name: .*'../../escape' contains '/'"):
        config_from_dict(cfg)
    with pytest.raises(ValueError, match="run name"):
        make_run_dir(tmp_path, "../up")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_test_report_stays_inside_the_run(tmp_path, capsys):
    """A prepared dataset whose dataset.yaml was edited to a traversing name: `skelar test` refuses to write."""
    from skelar.engine.config import config_from_dict as cfd
    from skelar.engine.trainer import train

    data = h.make_easy_dataset(tmp_path / "easy", subjects=4, per_class=2)
    cfg = h.tiny_config(data, tmp_path / "runs", train={"epochs": 1})
    cfg["data"]["batch_size"] = 4
    result = train(cfd(cfg), run_dir=tmp_path / "run", progress=False)
    manifest = yaml.safe_load((data / "dataset.yaml").read_text())
    manifest["name"] = "../../../../outside"
    (data / "dataset.yaml").write_text(yaml.safe_dump(manifest))
    assert main(["test", "--checkpoint", str(result.run_dir), "-q"]) == 2
    assert "dataset.yaml: key 'name': '../../../../outside' contains '/'" in capsys.readouterr().err
    for up in (tmp_path, tmp_path.parent, tmp_path.parent.parent):
        assert not list(up.glob("outside*"))
    assert not list((tmp_path / "run").glob("eval-*"))
