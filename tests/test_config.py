"""Config loading: overrides, validation, and one-line errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import engine_helpers  # noqa: F401  (registers the test models/transforms)
from skelar.cli.main import main
from skelar.engine.config import ConfigError, apply_overrides, config_from_dict, load_config, parse_override, save_config

REPO = Path(__file__).resolve().parents[1]
BASE = {"model": {"name": "test_mlp"}, "data": {"source": "synthetic"}}


def _error(overrides=(), base=BASE) -> str:
    with pytest.raises(ConfigError) as e:
        load_config(None, overrides, base=base)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("config error: ")
    return msg


def test_defaults_and_overrides():
    cfg = load_config(None, ["train.epochs=7", "sched.milestones=[10, 20]", "optim.lr=5e-4", "data.val.mode=none", "train.select=last"], base=BASE)
    assert cfg.train.epochs == 7 and cfg.sched.milestones == [10, 20] and cfg.optim.lr == 5e-4
    assert cfg.data.val.mode == "none" and cfg.output_dir == "runs" and cfg.data.batch_size == 64


def test_list_item_override():
    base = {**BASE, "data": {"train_transforms": [{"name": "random_rotation", "theta": 0.3}]}}
    cfg = load_config(None, ["data.train_transforms[0].theta=0.5"], base=base)
    assert cfg.data.train_transforms == [{"name": "random_rotation", "theta": 0.5}]


def test_unknown_key():
    assert _error(["optim.lrr=0.1"]) == "config error: unknown key 'optim.lrr'"
    assert "unknown key 'trian'" in _error(["trian.epochs=3"])


def test_bad_type_names_key_and_value():
    assert _error(["data.batch_size=abc"]) == "config error: data.batch_size: input should be a valid integer (got 'abc')"
    assert _error(["train.epochs=2.5"]) == "config error: train.epochs: input should be a valid integer (got 2.5)"
    assert "optim.lr: input should be greater than 0 (got -1)" in _error(["optim.lr=-1"])
    assert "optim.name: input should be 'adam', 'adamw' or 'sgd' (got 'rmsprop')" in _error(["optim.name=rmsprop"])


def test_bad_transform_name_and_param():
    msg = _error(["data.train_transforms=[{name: rotate}]"])
    assert msg.startswith("config error: data.train_transforms[0].name: unknown transform 'rotate'")
    msg = _error(["data.test_transforms=[{name: segment_sample, segments: 20}]"])
    assert msg.startswith("config error: data.test_transforms[0].segments: transform 'segment_sample' has no parameter 'segments'")
    assert "mode must be 'random' or 'center'" in _error(["data.test_transforms=[{name: segment_sample, mode: middle}]"])


def test_bad_override_syntax():
    assert "expected KEY=VALUE" in _error(["train.epochs"])
    assert "bad key" in _error(["train..epochs=3"])
    assert "cannot parse value" in _error(["sched.milestones=[10,"])
    assert "--set seed.x: seed is not a mapping" in _error(["seed.x=1"], base={**BASE, "seed": 1})
    assert parse_override("a.b[1].c= 3") == (["a", "b", 1, "c"], 3)


def test_cross_field_and_other_checks():
    assert "train.select: 'val_top1' needs a validation set" in _error(["data.val.mode=none"])
    assert "device must be" in _error(["device=gpu"])
    assert "model.name: unknown model 'nope'" in _error(["model.name=nope"])
    assert _error(base={"data": {}}) == "config error: model: required key is missing"
    assert _error(base={"model": {}}) == "config error: model.name: required key is missing"
    assert "sched.milestones: milestones must be increasing" in _error(["sched.milestones=[20, 10]"])
    assert "imports[0]: cannot import 'no_such_module_xyz'" in _error(["imports=[no_such_module_xyz]"])


def test_yaml_errors_name_file_and_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("model:\n  name: sgn\ntrain:\n  epochs: [1, 2\n")
    with pytest.raises(ConfigError, match=rf"{p}:\d+: "):
        load_config(p)
    p.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(p)
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.yaml")


def test_resolved_config_roundtrip(tmp_path):
    cfg = load_config(None, ["seed=5", "loss.aux_weights={push: 0.5}"], base=BASE)
    save_config(cfg, tmp_path / "config.yaml")
    again = load_config(tmp_path / "config.yaml")
    assert again == cfg and again.loss.aux_weights == {"push": 0.5}
    assert apply_overrides({"a": {"b": 1}}, ["a.c=2"]) == {"a": {"b": 1, "c": 2}}


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_validate(path):
    cfg = load_config(path)
    first = path.read_text().lstrip().splitlines()[0]
    assert first.startswith("#"), f"{path.name} needs a provenance header comment"
    assert cfg.data.val.mode in ("split", "carve")  # selection always on a validation set


def test_cli_prints_one_line_config_error(tmp_path, capsys):
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump({"imports": ["engine_helpers"], **BASE}))
    rc = main(["train", "-c", str(p), "--set", "optim.lrr=1"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err == "skelar: error: config error: unknown key 'optim.lrr'"
    assert config_from_dict(yaml.safe_load(p.read_text())).model.name == "test_mlp"
