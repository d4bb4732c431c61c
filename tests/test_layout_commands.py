"""Layouts from the dataset in commands and checkpoints: `skelar layouts`, `info --layout DIR`, carve reports, no imports needed."""

import logging

import pytest

import engine_helpers as h
from custom_data import CLASSES, layout_yaml, write_clips
from skelar.cli.main import main
from skelar.engine.checkpoint import model_from_checkpoint, save_checkpoint
from skelar.engine.config import config_from_dict
from skelar.engine.data_setup import build_data
from skelar.models import create_model
from skelar.preprocess.custom import prepare_folder


@pytest.fixture
def wire(tmp_path):
    write_clips(tmp_path / "wire", per_class=4)
    (tmp_path / "wire" / "l.yaml").write_text(layout_yaml().replace("name: wire12", "name: wire12_cmd"))
    (tmp_path / "wire" / "dataset.yaml").write_text(f"layout: l.yaml\nclasses: [{', '.join(CLASSES)}]\naxes: TVC\nindex: index.csv\n")
    return prepare_folder(tmp_path / "wire", tmp_path / "prepared")


def test_layout_commands_read_the_dataset(wire, capsys):
    assert main(["layouts", str(wire.root)]) == 0
    out = capsys.readouterr().out
    assert "layout wire12_cmd: 12 joints" in out and "centre Spine; root Pelvis" in out and "LWrist-RWrist" in out
    assert main(["info", "sgn", "--layout", str(wire.root), "--no-latency"]) == 0
    out = capsys.readouterr().out
    assert "input        (N, 3, 20, 12, 1)" in out and "layout       wire12_cmd (12 joints)" in out
    assert main(["layouts"]) == 0 and "wire12_cmd" in capsys.readouterr().out  # registered by name from now on
    assert main(["layouts", "no_such_layout"]) == 2
    assert "unknown joint layout 'no_such_layout'" in capsys.readouterr().err


def test_run_time_carve_is_reported(tmp_path, caplog):
    data = h.make_easy_dataset(tmp_path / "easy", subjects=4)
    base = h.tiny_config(data, tmp_path)
    base["data"]["val"] = {"mode": "carve", "fraction": 0.1}
    cfg = config_from_dict(base)
    with caplog.at_level(logging.INFO):
        bundle = build_data(cfg, progress=False)
    assert len(bundle.val_idx) == 12 and "data.val (carve): validation: 12 of 24 training samples (50.0 %, 10 % asked)" in caplog.text
    assert "carve samples inside the training subjects with data.val.by: sample" in caplog.text


def test_recorded_run_imports_are_not_imported_and_the_layout_comes_from_the_checkpoint(wire, tmp_path, caplog):
    model = create_model("sgn", num_classes=3, layout="wire12_cmd")
    meta = {"model": {"name": "sgn", "kwargs": model.skelar_kwargs},
            "layout": {"name": "wire12_cmd", "dict": wire.layout.to_dict()}, "config": {"imports": ["no_such_module_xyz"]}}
    path = save_checkpoint(tmp_path / "m.pt", {"model": model.state_dict(), "metadata": meta})
    with caplog.at_level(logging.WARNING):
        rebuilt, _ = model_from_checkpoint(path)
    assert rebuilt.num_joints == 12 and "no_such_module_xyz" not in caplog.text  # a checkpoint never causes an import
    # a checkpoint whose layout has the same name as a registered one but another skeleton is refused
    other = dict(wire.layout.to_dict(), name="ucla20")
    bad = save_checkpoint(tmp_path / "bad.pt", {"model": model.state_dict(), "metadata": {**meta, "layout": {"name": "ucla20", "dict": other}}})
    with pytest.raises(ValueError, match="its layout 'ucla20' differs from the registered layout"):
        model_from_checkpoint(bad)
