"""Shipped pretrained weights: `skelar export --format weights`, create_model(name, weights=tag), the CLI, and every shipped file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

import engine_helpers as h
from skelar.cli.main import main
from skelar.engine.checkpoint import load_checkpoint, model_from_checkpoint, read_metadata, save_checkpoint
from skelar.engine.config import config_from_dict
from skelar.engine.trainer import train
from skelar.models import create_model, list_models
from skelar.models.registry import load_pretrained
from skelar.models.weights import PACKAGE_WEIGHTS_DIR, WEIGHTS_ENV, list_pretrained, pretrained_path

UCLA_TEST_SAMPLES = 464  # NW-UCLA xview test split (view 3)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A small SGN trained for a few steps on separable data, and its report."""
    root = tmp_path_factory.mktemp("pretrained")
    data = h.make_easy_dataset(root / "easy")
    cfg = h.tiny_config(data, root / "runs", model={"name": "sgn", "kwargs": {"dim": 32}}, train={"epochs": 2, "max_steps_per_epoch": 2})
    t = [{"name": "drop_zero_frames"}, {"name": "segment_sample", "num_segments": 20}]
    cfg["data"]["train_transforms"] = [*t, {"name": "random_rotation", "theta": 0.3}]
    cfg["data"]["test_transforms"] = t
    result = train(config_from_dict(cfg), run_dir=root / "run", progress=False)
    return root, data, result.run_dir, result.report


@pytest.fixture(scope="module")
def exported(tiny_run):
    """The run exported through the CLI into its own weights folder as sgn-tiny.pt."""
    root, _, run_dir, _ = tiny_run
    wdir = root / "weights"
    assert main(["export", "--checkpoint", str(run_dir), "--out", str(wdir / "sgn-tiny.pt"), "--description", "tiny test weights"]) == 0
    return wdir


@pytest.fixture
def weights_env(exported, monkeypatch):
    monkeypatch.setenv(WEIGHTS_ENV, str(exported))
    return exported


def _x(seed: int = 0) -> torch.Tensor:
    return torch.randn((4, 3, 20, 25, 1), generator=torch.Generator().manual_seed(seed))


def test_export_strips_training_state_and_records_provenance(tiny_run, exported):
    _, _, run_dir, report = tiny_run
    path = exported / "sgn-tiny.pt"
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {"format", "format_version", "model", "epoch", "metadata"}  # no optimizer, scheduler, rng, history, best
    assert all(v.dtype == torch.float32 for v in raw["model"].values() if v.is_floating_point())
    run_ckpt = run_dir / report["checkpoint"]
    assert path.stat().st_size < 0.6 * run_ckpt.stat().st_size  # Adam's two moments are gone
    meta = raw["metadata"]
    pre = meta["pretrained"]
    assert pre["model"] == "sgn" and pre["tag"] == "tiny" and pre["description"] == "tiny test weights"
    assert pre["seed"] == meta["seed"] == 3
    assert pre["test"]["top1"] == report["test"]["top1"] and pre["test"]["clips"] == 2 and pre["test"]["num_samples"] == report["test"]["num_samples"]
    assert pre["train_command"] == f"skelar train -c {run_dir / 'config.yaml'}"
    assert pre["export_command"].startswith("skelar export --checkpoint ") and "--format weights" in pre["export_command"]
    assert pre["epoch"] == report["checkpoint_epoch"]
    assert "root" not in meta["dataset"]  # no path of the exporting machine
    assert meta["preprocessing"]["test_transforms"][-1] == {"name": "segment_sample", "num_segments": 20}
    card = json.loads((exported / "sgn-tiny.json").read_text())
    assert card["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest() and card["bytes"] == path.stat().st_size
    assert card["test"] == pre["test"] and card["file"] == "sgn-tiny.pt"


def test_create_model_with_weights_matches_the_run(tiny_run, weights_env):
    _, _, run_dir, report = tiny_run
    ref, _ = model_from_checkpoint(run_dir / report["checkpoint"])
    for model in (create_model("sgn", weights="tiny"), create_model("sgn", weights="tiny", num_classes=3, layout="ntu25", dim=32)):
        assert not model.training
        with torch.no_grad():
            assert torch.equal(model(_x()), ref(_x()))
    info = model.skelar_weights
    assert info["tag"] == "tiny" and info["classes"] == ["action0", "action1", "action2"] and info["test_clips"] == 2 and info["seed"] == 3
    assert info["test"]["top1"] == report["test"]["top1"]
    assert ("sgn", "tiny", "tiny test weights") in list_pretrained()
    assert list_pretrained("ctrgcn") == [w for w in list_pretrained() if w.model == "ctrgcn"]
    assert pretrained_path("sgn", "tiny") == weights_env / "sgn-tiny.pt"


def test_weights_dir_argument_without_env(exported, monkeypatch):
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    with pytest.raises(ValueError, match="no pretrained weights 'tiny'"):
        pretrained_path("sgn", "tiny")
    model = load_pretrained("sgn", "tiny", weights_dir=exported)
    assert model.skelar_weights["path"] == str(exported / "sgn-tiny.pt")


def test_lookup_and_kwarg_errors(weights_env):
    with pytest.raises(ValueError, match=r"no pretrained weights 'nope' for model 'sgn' \('sgn' has: ([\w-]+, )*tiny[,;]"):
        create_model("sgn", weights="nope")
    with_weights = {w.model for w in list_pretrained()}
    bare = next(m for m in list_models() if m not in with_weights and not m.startswith("test_"))
    with pytest.raises(ValueError, match=rf"'{bare}' has none; shipped: .*sgn-tiny"):
        create_model(bare, weights="tiny")
    with pytest.raises(ValueError, match=r"bad weights tag '\.\./sgn-tiny'"):
        pretrained_path("sgn", "../sgn-tiny")
    with pytest.raises(ValueError, match=r"sgn-tiny: num_classes=60 contradicts the shipped weights' num_classes=3"):
        create_model("sgn", weights="tiny", num_classes=60)
    with pytest.raises(ValueError, match=r"sgn-tiny: layout='ucla20' contradicts"):
        create_model("sgn", weights="tiny", layout="ucla20")
    with pytest.raises(ValueError, match=r"sgn-tiny: the shipped weights fix .*; colour='red' is not among them"):
        create_model("sgn", weights="tiny", colour="red")
    with pytest.raises(KeyError, match="unknown model 'nosuch'"):
        create_model("nosuch", weights="tiny")


def test_broken_and_misnamed_files(exported, tmp_path, monkeypatch, caplog):
    wdir = tmp_path / "w"
    wdir.mkdir()
    (wdir / "sgn-broken.pt").write_text("version https://git-lfs.github.com/spec/v1\n")  # e.g. an LFS pointer
    (wdir / "impsgn-tiny.pt").write_bytes((exported / "sgn-tiny.pt").read_bytes())  # metadata says sgn
    monkeypatch.setenv(WEIGHTS_ENV, str(wdir))
    assert [w for w in list_pretrained() if w.tag in ("broken", "tiny")] == []
    assert "sgn-broken.pt: not a readable checkpoint" in caplog.text and "expected file sgn-tiny.pt" in caplog.text
    with pytest.raises(ValueError, match=r"sgn-broken\.pt: not a readable checkpoint"):
        create_model("sgn", weights="broken")
    with pytest.raises(ValueError, match=r"impsgn-tiny\.pt: holds weights of model 'sgn', not 'impsgn'"):
        create_model("impsgn", weights="tiny")


def test_unreadable_file_shadowing_another_is_reported(exported, tmp_path, monkeypatch, caplog):
    """An unreadable file that hides a good one of the same name later in the search path: warn, naming both."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (first / "sgn-tiny.pt").write_bytes(b"truncated")
    (second / "sgn-tiny.pt").write_bytes((exported / "sgn-tiny.pt").read_bytes())
    monkeypatch.setenv(WEIGHTS_ENV, f"{first}{__import__('os').pathsep}{second}")
    assert not [w for w in list_pretrained() if w.tag == "tiny"]
    assert f"{first / 'sgn-tiny.pt'}: not a readable checkpoint" in caplog.text
    assert f"it hides {second / 'sgn-tiny.pt'} of the same name" in caplog.text


def test_export_errors(tiny_run, tmp_path, capsys):
    _, _, run_dir, report = tiny_run
    assert main(["export", "--checkpoint", str(run_dir), "--out", str(tmp_path / "ctrgcn-tiny.pt")]) == 2
    assert "name shipped weights 'sgn-TAG.pt'" in capsys.readouterr().err
    assert main(["export", "--checkpoint", str(run_dir), "--out", str(tmp_path / "sgn-.pt")]) == 2
    assert main(["export", "--checkpoint", str(run_dir), "--out", str(tmp_path / "sgn-a.pt"), "--opset", "17"]) == 2
    assert "apply to --format onnx only" in capsys.readouterr().err
    assert main(["export", "--checkpoint", str(run_dir), "--out", str(tmp_path / "m.onnx"), "--description", "x"]) == 2
    assert "apply to --format weights only" in capsys.readouterr().err
    ckpt = load_checkpoint(run_dir / report["checkpoint"])
    del ckpt["metadata"]["metrics"]["test"]
    ckpt.pop("path")
    save_checkpoint(tmp_path / "untested.pt", ckpt)
    assert main(["export", "--checkpoint", str(tmp_path / "untested.pt"), "--format", "weights", "--out", str(tmp_path / "sgn-a.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert "untested.pt: no test result in its metadata" in err and "\n" not in err
    assert not (tmp_path / "sgn-a.pt").exists()


def test_cli_test_predict_models_with_weights(tiny_run, weights_env, tmp_path, monkeypatch, capsys):
    _, data, run_dir, report = tiny_run
    monkeypatch.chdir(tmp_path)
    assert main(["test", "--model", "sgn", "--weights", "tiny", "--data", str(data), "-q"]) == 0
    out = capsys.readouterr().out
    rep_path = tmp_path / "runs" / "pretrained" / "sgn-tiny" / "eval-easy-xsub-test" / "report.json"
    assert "report: runs/pretrained/sgn-tiny/eval-easy-xsub-test/report.json" in out
    rep = json.loads(rep_path.read_text())
    assert rep["top1"] == report["test"]["top1"] and rep["clips"] == 2  # the run's own test, reproduced from the shipped file
    assert main(["predict", "--model", "sgn", "--weights", "tiny", str(data), "--json", "-q"]) == 0
    by_name = json.loads(capsys.readouterr().out)
    assert main(["predict", "--checkpoint", str(run_dir), str(data), "--json", "-q"]) == 0
    assert json.loads(capsys.readouterr().out) == by_name
    assert main(["models", "sgn*"]) == 0
    assert any(line.split()[:2] == ["sgn", "tiny"] and "tiny test weights" in line for line in capsys.readouterr().out.splitlines())
    for argv, msg in [
        (["test", "--model", "sgn", "--data", str(data)], "--model and --weights go together"),
        (["test", "--checkpoint", str(run_dir), "--model", "sgn", "--weights", "tiny"], "either --checkpoint PATH or --model NAME --weights TAG, not both"),
        (["predict", str(data)], "give --checkpoint PATH or --model NAME --weights TAG"),
        (["predict", "--model", "sgn", "--weights", "nope", str(data)], "no pretrained weights 'nope' for model 'sgn'"),
    ]:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("skelar: error: ") and msg in err and "\n" not in err


def _shipped() -> list:
    files = sorted(PACKAGE_WEIGHTS_DIR.glob("*.pt"))
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no shipped weights in {PACKAGE_WEIGHTS_DIR} yet (add them with `skelar export --format weights`)"))]
    return [pytest.param(p, id=p.stem) for p in files]


@pytest.mark.parametrize("path", _shipped())
def test_shipped_weights_reproduce_their_recorded_top1(path: Path, shared, tmp_path, monkeypatch):
    from skelar.engine.inference import evaluate_checkpoint

    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    meta = read_metadata(path)
    pre = meta["pretrained"]
    assert path.name == f"{pre['model']}-{pre['tag']}.pt" and (path.with_suffix(".json")).is_file()
    assert pretrained_path(pre["model"], pre["tag"]) == path
    create_model(pre["model"], weights=pre["tag"])
    if meta["dataset"]["name"] != "nw-ucla":
        pytest.skip(f"{path.name}: no data check for dataset {meta['dataset']['name']!r} (only NW-UCLA is small enough)")
    from skelar.preprocess.ucla import prepare_ucla

    prepare_ucla(shared("data", "nw-ucla", "all_sqe"), tmp_path / "ucla")
    assert pre["test"]["protocol"] == "xview" and pre["test"]["num_samples"] == UCLA_TEST_SAMPLES
    rep = evaluate_checkpoint(path, data=str(tmp_path / "ucla"), protocol="xview", split="test", device="cpu",
                              out_dir=tmp_path / "eval", progress=False)
    assert rep["clips"] == pre["test"]["clips"] and rep["num_samples"] == UCLA_TEST_SAMPLES
    assert abs(rep["top1"] - pre["test"]["top1"]) <= 1 / UCLA_TEST_SAMPLES + 1e-9, (rep["top1"], pre["test"]["top1"])


def test_export_with_a_test_report_of_that_checkpoint(tiny_run, tmp_path, capsys):
    """A checkpoint without a test result (last.pt) is exported with the report of `skelar test` on it."""
    _, data, run_dir, _ = tiny_run
    ckpt = load_checkpoint(run_dir / "last.pt")
    ckpt["metadata"]["metrics"].pop("test", None)
    ckpt.pop("path")
    save_checkpoint(tmp_path / "untested.pt", ckpt)
    assert main(["test", "--checkpoint", str(tmp_path / "untested.pt"), "--data", str(data), "--out", str(tmp_path / "eval"), "-q"]) == 0
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    out = tmp_path / "w" / "sgn-last.pt"
    args = ["export", "--checkpoint", str(tmp_path / "untested.pt"), "--out", str(out), "--test-report"]
    assert main([*args, str(tmp_path / "eval" / "report.json")]) == 0
    assert read_metadata(out)["pretrained"]["test"]["top1"] == report["top1"]
    other = dict(report, checkpoint=str(run_dir / "best.pt"))  # a report on another checkpoint is refused
    (tmp_path / "other.json").write_text(json.dumps(other))
    capsys.readouterr()
    assert main([*args, str(tmp_path / "other.json")]) == 2
    assert "not on" in capsys.readouterr().err
    (tmp_path / "val.json").write_text(json.dumps(dict(report, split="val")))
    assert main([*args, str(tmp_path / "val.json")]) == 2
    assert "report of the test split" in capsys.readouterr().err
