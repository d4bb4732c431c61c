"""Ambiguous-action analysis: confused-pair counting, group accuracy, class-group parsing, report files."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from skelar.engine.confusions import ambiguity_report, confused_pairs, group_accuracy, pair_classes, resolve_class_group, summarize_ambiguity
from skelar.engine.evaluate import EvalResult
from skelar.engine.reports import save_evaluation

CLASSES = ["reading", "writing", "clapping", "salute", "hand waving"]
# rows: true class, columns: predicted class
CM = np.array([
    [8, 3, 0, 0, 1],   # reading: 12 samples
    [5, 5, 0, 0, 0],   # writing: 10
    [0, 0, 10, 0, 0],  # clapping: 10
    [0, 0, 1, 6, 3],   # salute: 10
    [2, 0, 0, 0, 8],   # hand waving: 10
])


def _pairs_by_loops(cm):
    """Every unordered pair with errors, counted with plain loops (independent of the vectorised code)."""
    n = [sum(row) for row in cm.tolist()]
    out = []
    for a, b in itertools.combinations(range(len(cm)), 2):
        count = int(cm[a][b] + cm[b][a])
        if count:
            out.append(((a, b), count, count / (n[a] + n[b])))
    return sorted(out, key=lambda t: (-t[1], -t[2], t[0]))


def test_confused_pairs_count_both_directions():
    pairs = confused_pairs(CM, CLASSES, top=10)
    expected = _pairs_by_loops(CM)
    assert [tuple(p["indices"]) for p in pairs] == [e[0] for e in expected]
    assert [p["count"] for p in pairs] == [e[1] for e in expected]
    assert [p["rate"] for p in pairs] == pytest.approx([e[2] for e in expected])
    top = pairs[0]  # reading <-> writing: 3 one way, 5 the other, of 12 + 10 samples
    assert top["classes"] == ["reading", "writing"] and top["count"] == 8 and top["rate"] == pytest.approx(8 / 22)
    assert (top["a_as_b"], top["b_as_a"]) == (3, 5)
    assert top["a_as_b_rate"] == pytest.approx(3 / 12) and top["b_as_a_rate"] == pytest.approx(5 / 10)
    # salute <-> hand waving (3 + 0) and reading <-> hand waving (1 + 2) tie on count; the higher rate wins
    assert [p["classes"] for p in pairs[1:3]] == [["salute", "hand waving"], ["reading", "hand waving"]]
    assert pairs[1]["rate"] == pytest.approx(3 / 20) and pairs[2]["rate"] == pytest.approx(3 / 22)
    assert len(confused_pairs(CM, CLASSES, top=2)) == 2 and confused_pairs(CM, CLASSES, top=0) == []
    assert confused_pairs(np.diag([3, 4]), ["a", "b"]) == []  # no errors, no pairs


def test_group_accuracy_and_where_errors_go():
    g = group_accuracy(CM, [0, 1], CLASSES)
    assert g["classes"] == ["reading", "writing"] and g["num_samples"] == 22
    assert g["top1"] == pytest.approx(13 / 22)
    assert g["mean_class_accuracy"] == pytest.approx((8 / 12 + 5 / 10) / 2)
    assert g["per_class_accuracy"] == {"reading": pytest.approx(8 / 12), "writing": pytest.approx(0.5)}
    # 9 errors: 8 between reading and writing, 1 reading -> hand waving
    assert (g["errors"], g["errors_within_group"]) == (9, 8)
    assert g["within_group_error_share"] == pytest.approx(8 / 9)
    empty = group_accuracy(np.zeros((3, 3), np.int64), [0, 2], ["a", "b", "c"])
    assert empty["top1"] is None and empty["mean_class_accuracy"] is None


def test_report_and_summary_lines():
    rep = ambiguity_report(CM, CLASSES, ["salute", "hand waving"], top=3)
    assert len(rep["top_confused_pairs"]) == 3 and rep["ambiguous_group"]["top1"] == pytest.approx(14 / 20)
    assert ambiguity_report(CM, CLASSES)["ambiguous_group"] is None
    lines = summarize_ambiguity(rep)
    assert lines[1] == "  reading <-> writing: 8 (36.4%; 3 + 5)"
    assert lines[-1].startswith("ambiguous group (2 classes, 20 samples): top-1 70.0%")
    assert pair_classes(rep["top_confused_pairs"]) == [0, 1, 3, 4]
    assert pair_classes(rep["top_confused_pairs"], limit=3) == [0, 1]


def test_resolve_class_group_names_indices_and_errors():
    assert resolve_class_group(["writing", 0, "3", "Hand Waving"], CLASSES) == [1, 0, 3, 4]
    assert resolve_class_group(None, CLASSES) == []
    numbered = ["0", "1", "x"]
    assert resolve_class_group(["1"], numbered) == [1]  # a class named "1" wins over index reading
    cases = [
        (["reading", "nope"], "eval.ambiguous_classes[1]: unknown class 'nope'"),
        ([7], "eval.ambiguous_classes[0]: class index 7 is out of range (0..4)"),
        (["reading", 0], "eval.ambiguous_classes[1]: class 'reading' is listed twice"),
        ([1.5], "eval.ambiguous_classes[0]: expected a class name or index"),
        ([True], "eval.ambiguous_classes[0]: expected a class name or index"),
    ]
    for items, msg in cases:
        with pytest.raises(ValueError) as e:
            resolve_class_group(items, CLASSES, "eval.ambiguous_classes")
        assert str(e.value).startswith(msg) and "\n" not in str(e.value)
    with pytest.raises(ValueError, match=r"^--ambiguous: unknown class 'nope'"):
        resolve_class_group(["nope"], CLASSES, "--ambiguous")


def _result_from_cm(cm):
    """Scores whose argmax reproduces ``cm`` exactly (one-hot on the predicted class)."""
    labels, preds = [], []
    for t, p in itertools.product(range(len(cm)), repeat=2):
        labels += [t] * int(cm[t, p])
        preds += [p] * int(cm[t, p])
    scores = np.eye(len(cm), dtype=np.float32)[preds]
    return EvalResult(scores, np.asarray(labels), np.arange(len(labels)))


def test_save_evaluation_writes_analysis_and_plots(tmp_path):
    res = _result_from_cm(CM)
    names = np.array([f"s{i}" for i in range(len(res.labels))])
    metrics = save_evaluation(tmp_path / "ev", res, CLASSES, names, ambiguous=["reading", "writing"], top_confused=2)
    assert np.array_equal(np.load(tmp_path / "ev" / "confusion.npy"), CM)
    amb = metrics["ambiguity"]
    assert [p["classes"] for p in amb["top_confused_pairs"]] == [["reading", "writing"], ["salute", "hand waving"]]
    assert amb["ambiguous_group"]["top1"] == pytest.approx(13 / 22)
    for name in ("confusion.png", "confused_classes.png", "ambiguous_classes.png"):
        assert (tmp_path / "ev" / name).stat().st_size > 1000, name
    # another split is prefixed like its confusion files; no group -> no group plot
    save_evaluation(tmp_path / "ev", res, CLASSES, names, prefix="val")
    assert (tmp_path / "ev" / "val_confused_classes.png").is_file() and not (tmp_path / "ev" / "val_ambiguous_classes.png").exists()
    # a bad class name fails before anything is written
    with pytest.raises(ValueError, match="unknown class 'typo'"):
        save_evaluation(tmp_path / "bad", res, CLASSES, names, ambiguous=["typo"])
    assert not (tmp_path / "bad").exists()
