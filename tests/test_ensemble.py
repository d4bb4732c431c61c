"""Score ensembles: alignment by sample name, weights, combine modes, input checks, and the CLI end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import engine_helpers as h
from skelar.cli.main import main
from skelar.engine.config import config_from_dict
from skelar.engine.ensemble import choose_weights, ensemble_scores, load_scores, save_ensemble
from skelar.engine.trainer import train

CLASSES = np.array(["a", "b", "c"])


def _write(path, scores, labels, names, classes=CLASSES, **extra):
    np.savez(path, scores=np.asarray(scores, np.float32), labels=np.asarray(labels), names=np.asarray(names),
             classes=np.asarray(classes), indices=np.arange(len(labels)), **extra)
    return path


@pytest.fixture
def two_files(tmp_path):
    """Four samples; B lists them in another order. Alone each gets 2 of 4 right; together (logits) 4 of 4."""
    names = ["s0", "s1", "s2", "s3"]
    labels = [0, 1, 2, 0]
    a = [[3.0, 0.0, 0.0],   # s0 right
         [2.0, 1.0, 0.0],   # s1 wrong (a)
         [0.0, 0.0, 4.0],   # s2 right
         [0.0, 1.5, 0.0]]   # s3 wrong (b)
    b = {"s0": [0.0, 1.0, 0.0],   # wrong
         "s1": [0.0, 3.0, 0.0],   # right
         "s2": [0.0, 2.0, 0.0],   # wrong
         "s3": [4.0, 0.0, 0.0]}   # right
    order = ["s3", "s1", "s0", "s2"]
    pa = _write(tmp_path / "a.npz", a, labels, names)
    pb = _write(tmp_path / "b.npz", [b[n] for n in order], [labels[names.index(n)] for n in order], order)
    return pa, pb, np.array(a), np.array([b[n] for n in names]), np.array(labels)


def test_logit_sum_aligned_by_name(two_files):
    pa, pb, a, b, labels = two_files
    res = ensemble_scores([pa, pb])
    assert list(res.names) == ["s0", "s1", "s2", "s3"]  # the first input's order
    np.testing.assert_allclose(res.scores, a + b, rtol=1e-6)
    assert [s.top1 for s in res.inputs] == [0.5, 0.5]
    assert res.top1 == 1.0 and res.combine == "logits" and res.weights == [1.0, 1.0]


def test_weights_and_softmax(two_files):
    pa, pb, a, b, labels = two_files
    res = ensemble_scores([pa, pb], weights=[1.0, 0.25])
    np.testing.assert_allclose(res.scores, a + 0.25 * b, rtol=1e-6)
    # by hand: s1 = [2, 1.75, 0] -> a (wrong), s3 = [1, 1.5, 0] -> b (wrong), s0/s2 right
    assert res.top1 == 0.5
    assert ensemble_scores([pa, pb], weights=[0, 1]).top1 == 0.5  # only B
    soft = ensemble_scores([pa, pb], weights=[2, 1], combine="softmax")
    expected = 2 * torch.softmax(torch.tensor(a), 1) + torch.softmax(torch.tensor(b), 1)
    np.testing.assert_allclose(soft.scores, expected.numpy(), rtol=1e-6)
    assert soft.top1 == float((expected.argmax(1).numpy() == labels).mean())


def _err(paths, **kw) -> str:
    with pytest.raises((ValueError, FileNotFoundError)) as e:
        ensemble_scores(paths, **kw)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_mismatched_inputs_are_refused(two_files, tmp_path):
    pa, pb, a, b, labels = two_files
    assert "weights: 1 given for 2 input(s)" in _err([pa, pb], weights=[1])
    assert "weights must be finite and >= 0" in _err([pa, pb], weights=[1, -1])
    assert "weights must be finite and >= 0" in _err([pa, pb], weights=[0, 0])
    assert "combine must be one of logits, softmax" in _err([pa, pb], combine="mean")
    names = ["s0", "s1", "s2", "s3"]
    fewer = _write(tmp_path / "fewer.npz", a[:3], labels[:3], names[:3])
    assert "score different samples: 1 only in the first (e.g. s3), 0 only in the second" in _err([pa, fewer])
    other = _write(tmp_path / "other.npz", a, labels, ["s0", "s1", "s2", "x9"])
    assert "1 only in the first (e.g. s3), 1 only in the second (e.g. x9)" in _err([pa, other])
    renamed = _write(tmp_path / "renamed.npz", a, labels, names, classes=["a", "B", "c"])
    assert "class 1 is 'b' in" in _err([pa, renamed])
    wider = _write(tmp_path / "wider.npz", np.zeros((4, 4)), labels, names, classes=["a", "b", "c", "d"])
    assert "has 4 classes but" in _err([pa, wider])
    relabelled = _write(tmp_path / "relabelled.npz", a, [0, 1, 2, 1], names)
    assert "disagree on the labels of 1 sample(s), e.g. s3: 0 vs 1" in _err([pa, relabelled])
    dup = _write(tmp_path / "dup.npz", a, labels, ["s0", "s0", "s2", "s3"])
    assert "sample name 's0' occurs 2 times" in _err([dup])
    np.savez(tmp_path / "nolabels.npz", scores=a, names=np.array(names))
    assert "missing array(s) labels" in _err([tmp_path / "nolabels.npz"])
    (tmp_path / "junk.npz").write_text("not a zip")
    assert "not a readable .npz scores file" in _err([tmp_path / "junk.npz"])
    (tmp_path / "a.txt").write_text("x")
    assert "expected a *_scores.npz file" in _err([tmp_path / "a.txt"])
    assert "scores not found" in _err([tmp_path / "missing.npz"])
    nan = _write(tmp_path / "nan.npz", np.full((4, 3), np.nan), labels, names)
    assert "NaN or infinite" in _err([nan])
    run = tmp_path / "run"
    (run / "eval-x-xsub-val").mkdir(parents=True)
    _write(run / "eval-x-xsub-val" / "val_scores.npz", a, labels, names)
    msg = _err([run])
    assert "no test_scores.npz" in msg and "eval-x-xsub-val/val_scores.npz: pass one of those" in msg
    assert load_scores(run / "eval-x-xsub-val" / "val_scores.npz").top1 == 0.5


def test_save_ensemble_report(two_files, tmp_path):
    pa, pb, *_ = two_files
    report = save_ensemble(ensemble_scores([pa, pb]), tmp_path / "ens", ambiguous=["a", "b"])
    assert report["top1"] == 1.0 and [i["top1"] for i in report["inputs"]] == [0.5, 0.5]
    assert report["ambiguity"]["top_confused_pairs"] == [] and report["ambiguity"]["ambiguous_group"]["top1"] == 1.0
    saved = np.load(tmp_path / "ens" / "test_scores.npz")
    assert list(saved["names"]) == ["s0", "s1", "s2", "s3"] and list(saved["indices"]) == [0, 1, 2, 3]
    assert json.loads((tmp_path / "ens" / "report.json").read_text())["num_samples"] == 4
    again = ensemble_scores([tmp_path / "ens", pa])  # an ensemble's folder is itself an input
    assert again.top1 == 1.0 and again.split == "test"  # names other than <split>_scores.npz count as test
    # validation scores stay validation scores (all inputs named val_scores.npz)
    for d, src in (("va", pa), ("vb", pb)):
        (tmp_path / d).mkdir()
        (tmp_path / d / "val_scores.npz").write_bytes(src.read_bytes())
    va, vb = tmp_path / "va" / "val_scores.npz", tmp_path / "vb" / "val_scores.npz"
    assert ensemble_scores([va, pb]).split == "test"  # mixed names: test
    report = save_ensemble(ensemble_scores([va, vb]), tmp_path / "vens")
    assert report["split"] == "val" and (tmp_path / "vens" / "val_scores.npz").is_file()
    assert (tmp_path / "vens" / "val_confusion.npy").is_file() and not (tmp_path / "vens" / "test_scores.npz").exists()


def _val_copies(tmp_path, pa, labels, names):
    """Validation scores: A as in the test files, B a perfect (one-hot x 10) scorer."""
    (tmp_path / "va").mkdir()
    (tmp_path / "vb").mkdir()
    va = tmp_path / "va" / "val_scores.npz"
    va.write_bytes(pa.read_bytes())
    vb = _write(tmp_path / "vb" / "val_scores.npz", 10 * np.eye(3)[labels], labels, names)
    return va, vb


def test_weights_chosen_on_validation(two_files, tmp_path):
    pa, pb, a, b, labels = two_files
    va, vb = _val_copies(tmp_path, pa, labels, ["s0", "s1", "s2", "s3"])
    choice = choose_weights([va, vb], [[1, 0], [0, 1], [1, 1]])
    # on validation B alone and A+B are both perfect: the earlier candidate wins the tie
    assert [r["top1"] for r in choice.table] == [0.5, 1.0, 1.0]
    assert choice.weights == [0.0, 1.0] and choice.index == 1 and choice.val_top1 == 1.0
    # the test scores play no part: on them 0,1 gets 2 of 4 while 1,1 would get 4 of 4
    assert ensemble_scores([pa, pb], choice.weights).top1 == 0.5
    report = save_ensemble(ensemble_scores([pa, pb], choice.weights), tmp_path / "ens", weight_choice=choice)
    assert report["weight_choice"]["chosen"] == [0.0, 1.0] and report["weight_choice"]["chosen_index"] == 1
    assert [c["top1"] for c in report["weight_choice"]["candidates"]] == [0.5, 1.0, 1.0]
    assert choose_weights([va, vb], [[0, 1], [1, 0]], combine="softmax").index == 0
    # weights are never chosen on test scores
    for bad in ([pa.parent / "test_scores.npz", vb], [tmp_path / "ens", vb]):
        if not bad[0].exists():
            bad[0].write_bytes(pa.read_bytes())
        with pytest.raises(ValueError, match="must be chosen on validation scores"):
            choose_weights(bad, [[1, 1]])
    with pytest.raises(ValueError, match="weights: 3 given for 2 input"):
        choose_weights([va, vb], [[1, 1], [1, 1, 1]])
    with pytest.raises(ValueError, match="no candidate weights"):
        choose_weights([va, vb], [])


def test_cli_chooses_weights_on_validation(two_files, tmp_path, capsys):
    pa, pb, a, b, labels = two_files
    va, vb = _val_copies(tmp_path, pa, labels, ["s0", "s1", "s2", "s3"])
    out = tmp_path / "ens"
    argv = ["ensemble", str(pa), str(pb), "--val", str(va), str(vb), "--candidates", "1,0", "0,1", "1,1", "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "0,1: val top-1 100.00%  <- chosen" in text and "1,1: val top-1 100.00%\n" in text
    assert "ensemble: top-1 50.00%" in text
    report = json.loads((out / "report.json").read_text())
    assert report["weights"] == [0.0, 1.0] and report["weight_choice"]["val_inputs"] == [str(va), str(vb)]
    for extra, msg in (
        (["--val", str(va), str(vb)], "--val and --candidates go together"),
        (["--candidates", "1,1"], "--val and --candidates go together"),
        (["--val", str(va), "--candidates", "1,1"], "--val: 1 validation scores file(s) for 2 input(s)"),
        (["--weights", "1", "1", "--val", str(va), str(vb), "--candidates", "1,1"], "either --weights or --val"),
        (["--val", str(pa), str(vb), "--candidates", "1,1"], None),  # a.npz is not named test*: allowed
    ):
        code = main(["ensemble", str(pa), str(pb), *extra, "--out", str(tmp_path / "x")])
        err = capsys.readouterr().err.strip()
        if msg is None:
            assert code == 0
            continue
        assert code == 2 and msg in err and "\n" not in err, err
    with pytest.raises(SystemExit):  # argparse rejects a malformed weight vector
        main(["ensemble", str(pa), str(pb), "--val", str(va), str(vb), "--candidates", "1;1"])
    assert "expected comma-separated numbers" in capsys.readouterr().err


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two tiny runs on the same data (different seeds; the second lists its training set twice per epoch)."""
    root = tmp_path_factory.mktemp("ens")
    data = h.make_easy_dataset(root / "easy")
    runs = []
    for seed, repeat in ((1, 1), (2, 2)):
        cfg = h.tiny_config(data, root / "runs", seed=seed, train={"epochs": 2, "log_every": 100},
                            eval={"ambiguous_classes": ["action1", "action2"], "top_confused": 3})
        cfg["data"]["train_repeat"] = repeat
        runs.append(train(config_from_dict(cfg), run_dir=root / f"run{seed}", progress=False))
    return root, runs


def test_cli_end_to_end(two_runs, capsys):
    root, (r1, r2) = two_runs
    for r in (r1, r2):  # the end-of-training test report carries the ambiguity analysis
        amb = r.report["test"]["ambiguity"]
        assert amb["ambiguous_group"]["classes"] == ["action1", "action2"] and len(amb["top_confused_pairs"]) <= 3
        assert (r.run_dir / "ambiguous_classes.png").is_file()
    # 36 training samples, batch 8 (drop_last): 4 steps per epoch, 9 with the training set listed twice
    steps = [torch.load(r.run_dir / "last.pt", weights_only=True)["global_step"] for r in (r1, r2)]
    assert steps == [2 * 4, 2 * 9]
    s1, s2 = np.load(r1.run_dir / "test_scores.npz"), np.load(r2.run_dir / "test_scores.npz")
    assert list(s1["names"]) == list(s2["names"])
    expected = 0.5 * s1["scores"].astype(np.float64) + 2.0 * s2["scores"]
    top1 = float((expected.argmax(1) == s1["labels"]).mean())

    out = root / "ens"
    assert main(["ensemble", str(r1.run_dir), str(r2.run_dir / "test_scores.npz"), "--weights", "0.5", "2",
                 "--out", str(out), "--ambiguous", "action1", "2"]) == 0
    text = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert report["top1"] == pytest.approx(top1) and report["weights"] == [0.5, 2.0]
    assert [i["top1"] for i in report["inputs"]] == pytest.approx([r1.report["test"]["top1"], r2.report["test"]["top1"]])
    assert f"ensemble: top-1 {100 * top1:.2f}%" in text and "ambiguous group (2 classes" in text
    for name in ("test_scores.npz", "confusion.npy", "confusion.csv", "confusion.png"):
        assert (out / name).is_file(), name

    assert main(["ensemble", str(r1.run_dir), str(r2.run_dir), "--combine", "softmax", "--json", "--out", str(root / "soft")]) == 0
    assert json.loads(capsys.readouterr().out)["combine"] == "softmax"

    # skelar test --ambiguous: the run's own numbers plus the group; its report folder is an ensemble input too
    assert main(["test", "--checkpoint", str(r1.run_dir), "--ambiguous", "action0", "action1", "-q"]) == 0
    text = capsys.readouterr().out
    ev = r1.run_dir / "eval-easy-xsub-test"
    rep = json.loads((ev / "report.json").read_text())
    assert rep["top1"] == r1.report["test"]["top1"] and rep["ambiguity"]["ambiguous_group"]["classes"] == ["action0", "action1"]
    assert "ambiguous group (2 classes" in text and (ev / "ambiguous_classes.png").is_file()
    assert main(["ensemble", str(r1.run_dir), str(ev), "--out", str(root / "same")]) == 0
    capsys.readouterr()
    # without --ambiguous, skelar test falls back to the run's eval.ambiguous_classes
    assert main(["test", "--checkpoint", str(r2.run_dir), "--out", str(root / "t2"), "-q"]) == 0
    capsys.readouterr()
    assert json.loads((root / "t2" / "report.json").read_text())["ambiguity"]["ambiguous_group"]["classes"] == ["action1", "action2"]

    # one-line errors
    for argv, msg in (
        (["ensemble", str(r1.run_dir), str(r2.run_dir), "--weights", "1"], "weights: 1 given for 2 input(s)"),
        (["ensemble", str(r1.run_dir), "--ambiguous", "jump"], "--ambiguous: unknown class 'jump'"),
        (["ensemble", str(root)], "no test_scores.npz"),
        (["test", "--checkpoint", str(r1.run_dir), "--ambiguous", "9", "-q"], "--ambiguous: class index 9 is out of range"),
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("skelar: error: ") and msg in err and "\n" not in err, err


def test_bad_ambiguous_class_fails_before_training(tmp_path):
    data = h.make_easy_dataset(tmp_path / "easy", subjects=4, per_class=2)
    cfg = config_from_dict(h.tiny_config(data, tmp_path / "runs", eval={"ambiguous_classes": ["action0", "actoin1"]}))
    with pytest.raises(ValueError, match=r"^eval.ambiguous_classes\[1\]: unknown class 'actoin1'"):
        train(cfg, progress=False)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_oracle_is_reported_under_its_own_name_only(two_files, tmp_path, capsys):
    """Any-input-right is an upper bound: 4 of 4 here, recorded as oracle_any_of_2, never as top1."""
    from skelar.engine.ensemble import oracle_any

    pa, pb = two_files[:2]
    result = ensemble_scores([pa, pb], weights=[1.0, 0.0])  # the ensemble itself = input A: 2 of 4
    assert oracle_any(result)["oracle_any_of_2"] == 1.0
    report = save_ensemble(result, tmp_path / "ens", plot=False, oracle=True)
    assert report["top1"] == 0.5 and report["oracle"]["oracle_any_of_2"] == 1.0
    assert set(report["oracle"]) == {"oracle_any_of_2", "note"}  # no key names it an accuracy or top1
    assert "oracle" not in save_ensemble(result, tmp_path / "ens2", plot=False)
    assert main(["ensemble", str(pa), str(pb), "--oracle", "--out", str(tmp_path / "cli")]) == 0
    out = capsys.readouterr().out
    assert "oracle_any_of_2: 100.00%" in out and "not an accuracy" in out
