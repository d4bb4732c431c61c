"""NW-UCLA: the all_sqe reader, its errors, and the prepared xview protocol on the real folder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from skelar.formats.ucla import UCLA_CLASSES, parse_ucla_name, read_ucla_json
from skelar.data import PreparedDataset
from skelar.preprocess.ucla import prepare_ucla


def test_names_and_classes():
    assert parse_ucla_name("a12_s03_e01_v02.json") == {"action": 12, "subject": 3, "repetition": 1, "view": 2, "label": 9}
    assert len(UCLA_CLASSES) == 10 and UCLA_CLASSES[0] == "pick up with one hand" and UCLA_CLASSES[-1] == "carry"
    with pytest.raises(ValueError, match="action a07"):
        parse_ucla_name("a07_s01_e00_v01")
    with pytest.raises(ValueError, match="not an NW-UCLA sequence name"):
        parse_ucla_name("S001C001P001R001A001")


def _write(path, doc):
    if isinstance(doc, bytes):
        path.write_bytes(doc)
    else:
        path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def test_malformed_files_name_file_and_key(tmp_path):
    good = {"file_name": "a01_s01_e00_v01", "label": 1, "skeletons": np.ones((3, 20, 3)).tolist()}
    seq = read_ucla_json(_write(tmp_path / "a01_s01_e00_v01.json", good))
    assert seq.skeleton.shape == (3, 20, 3) and seq.label == 0 and seq.to_canonical().shape == (3, 3, 20, 1)
    cases = [
        ('{"skeletons": [[[1, 2, 3]]', r"a01_s01_e00_v01\.json: invalid JSON at line 1"),
        ({"label": 1}, r"a01_s01_e00_v01\.json: missing key 'skeletons'"),
        ({**good, "skeletons": np.ones((3, 19, 3)).tolist()}, r"a01_s01_e00_v01\.json: key 'skeletons' must have shape \(T>=1, 20, 3\), got \(3, 19, 3\)"),
        ({**good, "skeletons": [[[1, 2, 3]] * 20, [[1, 2]] * 20]}, r"a01_s01_e00_v01\.json: key 'skeletons' must be a T x 20 x 3 array"),
        ({**good, "skeletons": []}, r"a01_s01_e00_v01\.json: key 'skeletons' must have shape"),
        ({**good, "label": 4}, r"a01_s01_e00_v01\.json: key 'label' is 4 but the name's action a01 means label 1"),
        ([1, 2], r"a01_s01_e00_v01\.json: expected a JSON object"),
        ('{"skeletons": "caf\xe9"}'.encode("latin-1"), r"a01_s01_e00_v01\.json: not UTF-8 text \(byte 18"),
        ('{"skeletons": ' + "[" * 100000 + "]" * 100000 + "}", r"a01_s01_e00_v01\.json: JSON nested too deeply"),
    ]
    for doc, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            read_ucla_json(_write(tmp_path / "a01_s01_e00_v01.json", doc))


def test_prepare_real_folder_xview_counts_and_reference_lists(shared, tmp_path):
    src = shared("data", "nw-ucla", "all_sqe")
    ref = np.load(shared("parity", "pipelines", "ctrgcn_ucla.npz"), allow_pickle=False)
    ds = prepare_ucla(src, tmp_path / "ucla")
    assert len(ds) == 1484 and ds.layout.name == "ucla20" and ds.classes == UCLA_CLASSES
    train, val, test = (ds.split("xview", p) for p in ("train", "val", "test"))
    assert len(train) + len(val) == 1020 and len(test) == 464 and len(val) > 0
    assert not np.intersect1d(train, val).size and not np.intersect1d(np.union1d(train, val), test).size
    assert not np.intersect1d(ds.meta["subject"][val], ds.meta["subject"][train]).size  # val = whole training subjects
    assert set(ds.meta["view"][np.union1d(train, val)]) == {1, 2} and set(ds.meta["view"][test]) == {3}
    names = ds.names
    for part, idx in (("train", np.union1d(train, val)), ("val", test)):  # CTR-GCN calls its test list 'val'
        ref_names = ref[f"lists/{part}/names"]
        assert sorted(names[idx]) == sorted(ref_names)
        order = {n: i for i, n in enumerate(names)}
        rows = [order[n] for n in ref_names]
        np.testing.assert_array_equal(ds.labels[rows] + 1, ref[f"lists/{part}/label"])
        np.testing.assert_array_equal(ds.lengths[rows], ref[f"lists/{part}/length"])
    # the one-frame sequences survive and give a valid 52-frame test view
    from skelar.transforms import build_transforms

    view = build_transforms([{"name": "center_first_frame", "layout": "ucla20"}, {"name": "minmax_normalize"}, {"name": "ucla_sample"}])
    one = np.flatnonzero(ds.lengths == 1)
    assert {str(n) for n in names[one]} >= {"a02_s09_e04_v03"}
    for i in one:
        out = view(ds[i], None)
        assert out.shape == (3, 52, 20, 1) and np.isfinite(out).all()
    # stored coordinates are the JSON values (float32)
    i = int(np.flatnonzero(names == "a08_s09_e02_v03")[0])
    np.testing.assert_array_equal(ds[i], ref["val/a08_s09_e02_v03/skeleton"].transpose(2, 0, 1)[..., None].astype(np.float32))
    assert ds.sample_meta(i).subject == 9 and ds.sample_meta(i).view == 3 and ds.sample_meta(i).replication == 2


def test_prepare_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="NW-UCLA folder not found"):
        prepare_ucla(tmp_path / "missing", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no aAA_sSS_eEE_vVV.json files"):
        prepare_ucla(tmp_path / "empty", tmp_path / "out")
    bad = tmp_path / "bad"
    bad.mkdir()
    _write(bad / "a01_s01_e00_v01.json", '{"skeletons": ')
    with pytest.raises(ValueError, match=r"bad: none of the 1 files is a usable sequence, e\.g\. .*bad/a01_s01_e00_v01\.json: invalid JSON"):
        prepare_ucla(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing half-written
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # no temporary left


def test_prepare_reports_bad_files_and_keeps_the_good_ones(tmp_path, capsys):
    """Like NTU preparation: unreadable files are listed in prepare_report.json, the others prepared."""
    from skelar.cli.main import main

    src = tmp_path / "all_sqe"
    src.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a01_s01_e00_v01", "a01_s02_e00_v02", "a02_s03_e00_v03", "a02_s04_e00_v03"):
        _write(src / f"{name}.json", {"file_name": name, "skeletons": rng.normal(size=(4, 20, 3)).tolist()})
    _write(src / "a01_s05_e00_v01.json", b'{"skeletons": "\xff"}')
    _write(src / "a02_s06_e00_v02.json", '{"skeletons": [[[1, 2]]]}')
    assert main(["prepare", "ucla", "--src", str(src), "--out", str(tmp_path / "out"), "--val-fraction", "0"]) == 0
    assert "2 unreadable file(s) skipped" in capsys.readouterr().out
    ds = PreparedDataset(tmp_path / "out")
    assert sorted(ds.names) == ["a01_s01_e00_v01", "a01_s02_e00_v02", "a02_s03_e00_v03", "a02_s04_e00_v03"]
    report = json.loads((tmp_path / "out" / "prepare_report.json").read_text())
    assert report["files_found"] == 6 and report["samples_written"] == 4
    bad = report["failed"]["malformed"]
    assert sorted(bad) == ["a01_s05_e00_v01", "a02_s06_e00_v02"]
    assert "a01_s05_e00_v01.json: not UTF-8" in bad["a01_s05_e00_v01"] and "key 'skeletons' must have shape" in bad["a02_s06_e00_v02"]


def test_prepare_ucla_cli_on_a_subset(shared, tmp_path, capsys):
    import shutil

    from skelar.cli.main import main
    from skelar.data import PreparedDataset

    src = shared("data", "nw-ucla", "all_sqe")
    sub = tmp_path / "all_sqe"
    sub.mkdir()
    picked = [p for p in sorted(src.glob("a0[12]_s0[1-4]_e00_v0*.json"))]
    for p in picked:
        shutil.copy(p, sub / p.name)
    assert main(["prepare", "ucla", "--src", str(sub), "--out", str(tmp_path / "out"), "--val-fraction", "0.25"]) == 0
    ds = PreparedDataset(tmp_path / "out")
    assert len(ds) == len(picked) and "xview" in capsys.readouterr().out
    assert main(["prepare", "ucla", "--src", str(sub), "--out", str(tmp_path / "out")]) == 2  # exists


def test_src_may_be_the_folder_holding_all_sqe(shared, tmp_path):
    from skelar.formats.ucla import list_ucla_files

    src = shared("data", "nw-ucla", "all_sqe")
    files = list_ucla_files(src)
    assert list_ucla_files(src.parent) == files and len(files) == 1484
    with pytest.raises(FileNotFoundError, match="no aAA_sSS_eEE_vVV.json files"):
        list_ucla_files(tmp_path)
