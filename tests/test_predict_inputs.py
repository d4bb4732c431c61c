"""`skelar predict` / `skelar.predict` on every input format, with class names, per-sample clip seeds and arrays."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import skelar.api
from skelar.cli.main import main
from skelar.data import PreparedWriter, SampleMeta
from skelar.engine.checkpoint import save_checkpoint
from skelar.formats.pyskl import PysklAnnotation, save_pyskl
from skelar.formats.ucla import UCLA_CLASSES, read_ucla_json
from skelar.layouts import get_layout
from skelar.models import create_model
from skelar.preprocess.ntu_prepare import process_ntu_files
from skelar.runtime import make_clips
from skelar.transforms import build_transforms

A, B = "a01_s01_e00_v03", "a04_s02_e01_v03"  # NW-UCLA test-view samples: pick up with one hand, walk around


@pytest.fixture(scope="module")
def ucla(tmp_path_factory):
    """The two real NW-UCLA JSON files, the same samples as .npy, .csv, a PYSKL pickle and a prepared dataset."""
    from tests.conftest import shared_path

    root = shared_path("data", "nw-ucla", "all_sqe")
    out = tmp_path_factory.mktemp("ucla")
    seqs = {n: read_ucla_json(root / f"{n}.json") for n in (A, B)}
    lay = get_layout("ucla20")
    for sub in ("npy", "csv"):
        (out / sub).mkdir()
    for n, s in seqs.items():
        x = s.to_canonical()
        np.save(out / "npy" / f"{n}.npy", x)
        header = ",".join(f"{j}_{c}" for j in lay.names for c in "xyz")
        rows = [",".join(repr(float(v)) for v in x[:, t, :, 0].T.reshape(-1)) for t in range(x.shape[1])]
        (out / "csv" / f"{n}.csv").write_text("frame," + header + "\n" + "\n".join(f"{t}," + r for t, r in enumerate(rows)) + "\n")
    save_pyskl(out / "ucla.pkl", [PysklAnnotation(n, s.label, s.skeleton[None].astype(np.float32)) for n, s in seqs.items()], {})
    with PreparedWriter(out / "prepared", "ucla20", UCLA_CLASSES, preprocessing={"pipeline": "ucla_raw"}) as w:
        for n, s in seqs.items():
            w.add(s.to_canonical(), SampleMeta(n, s.label))
    return {"json": [root / f"{n}.json" for n in (A, B)], "dir": out, "seqs": seqs}


def _by_name(rows):
    return {r["name"]: r for r in rows}


def _predict(*argv, capsys):
    assert main(["predict", "--model", "sgn", "--weights", "nwucla", "--json", "-q", "-k", "10", *map(str, argv)]) == 0
    return _by_name(json.loads(capsys.readouterr().out))


def test_every_format_gives_the_same_answer_with_class_names(ucla, capsys):
    d = ucla["dir"]
    ref = _predict(*ucla["json"], capsys=capsys)
    assert ref[A]["label_class"] == "pick up with one hand" and ref[B]["label_class"] == "walk around"
    assert {t["class"] for t in ref[A]["top"]} == set(UCLA_CLASSES)  # names, not indices
    for argv in ([d / "npy" / f"{A}.npy", d / "npy" / f"{B}.npy"], [d / "csv" / f"{A}.csv", d / "csv" / f"{B}.csv"],
                 [d / "prepared"], [d / "ucla.pkl", "--trust-pickle"]):
        got = _predict(*argv, capsys=capsys)
        assert set(got) == {A, B}, argv
        for n in (A, B):
            assert [t["class"] for t in got[n]["top"]] == [t["class"] for t in ref[n]["top"]], argv
            np.testing.assert_allclose([t["prob"] for t in got[n]["top"]], [t["prob"] for t in ref[n]["top"]], rtol=1e-5, atol=1e-7)
    one = _predict(d / "prepared", "--sample", B, capsys=capsys)
    assert list(one) == [B]


def test_a_sample_does_not_depend_on_the_other_inputs(ucla, capsys):
    alone = _predict(ucla["json"][1], capsys=capsys)[B]
    both = _predict(*ucla["json"], capsys=capsys)[B]
    reverse = _predict(ucla["json"][1], ucla["json"][0], capsys=capsys)[B]
    assert alone == both == reverse
    x = ucla["seqs"][B].to_canonical()
    assert skelar.api.predict("sgn", {B: x}, weights="nwucla", top_k=10)[0]["top"] == alone["top"]
    # the clips really are random (108 frames: 5 candidates per segment): another name, other clips
    long = np.concatenate([x, x, x], axis=1)
    rows = skelar.api.predict("sgn", {"one": long, "two": long}, weights="nwucla", top_k=10)
    assert [t["prob"] for t in rows[1]["top"]] != pytest.approx([t["prob"] for t in rows[0]["top"]], abs=1e-6)


def test_python_api_takes_arrays_in_memory(ucla):
    x = ucla["seqs"][A].to_canonical()
    tvc = x[..., 0].transpose(1, 2, 0)
    pred = skelar.api.load_predictor("sgn", weights="nwucla")
    first = pred.predict(x, top_k=3)[0]
    assert first["name"].startswith("array-") and first["top"][0]["class"] in UCLA_CLASSES
    assert pred.predict(tvc, top_k=3)[0]["top"][0]["class"] in UCLA_CLASSES  # (T, V, C) is accepted
    # an unnamed array is named by its content: the same answer alone or among other inputs
    other = ucla["seqs"][B].to_canonical()
    assert pred.predict([other, x], top_k=3)[1] == first
    with pytest.raises(ValueError, match=r"neither \(C, T, V, M\) nor \(T, V, C\)"):
        pred.predict(np.zeros((3, 10, 25, 1), np.float32))
    # a model object from create_model(..., weights=) predicts the same, with its weights' preprocessing
    net = create_model("sgn", weights="nwucla")
    assert skelar.api.predict(net, x, top_k=3)[0] == first
    with pytest.raises(TypeError, match="model must be a checkpoint path"):
        skelar.api.predict(create_model("sgn", num_classes=3), x)


def test_raw_ntu_skeleton_goes_through_the_recorded_pipeline(tmp_path, shared, capsys):
    """A .skeleton input is put through the checkpoint's dataset pipeline (here SGN's denoising), then its test transforms."""
    path = shared("data", "ntu-samples", "skeletons", "S001C001P001R001A003.skeleton")
    torch.manual_seed(0)
    model = create_model("sgn", num_classes=60, layout="ntu25", num_persons=1).eval()
    tt = [{"name": "segment_sample", "num_segments": 20, "mode": "random"}]
    lay = get_layout("ntu25")
    meta = {"model": {"name": "sgn", "kwargs": model.skelar_kwargs}, "layout": {"name": "ntu25", "dict": lay.to_dict()},
            "dataset": {"name": "ntu60", "classes": [f"c{i}" for i in range(60)], "num_channels": 3, "num_persons": 1},
            "preprocessing": {"dataset": {"pipeline": "sgn"}, "test_transforms": tt, "test_clips": 3}, "seed": 7}
    ckpt = save_checkpoint(tmp_path / "ntu.pt", {"model": model.state_dict(), "metadata": meta})
    assert main(["predict", "--checkpoint", str(ckpt), str(path), "--json", "-q", "-k", "60"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert row["label_class"] == "brushing teeth"  # A003, from the file name
    _, x, _, _ = process_ntu_files([str(path)], "sgn")[0]
    assert not x[..., 1:].any()  # one actor: the empty second slot is dropped for the one-person model
    clips = make_clips(x[..., :1], build_transforms(tt), 3, 7, path.stem)
    with torch.no_grad():
        want = torch.softmax(model(torch.from_numpy(clips)).mean(0), 0).numpy()
    got = {t["index"]: t["prob"] for t in row["top"]}
    np.testing.assert_allclose([got[i] for i in range(60)], want, rtol=1e-4, atol=1e-6)


def test_bad_inputs_are_one_line_errors(ucla, tmp_path, capsys, shared):
    cases = [
        ([shared("data", "ntu-samples", "skeletons", "S001C001P001R001A001.skeleton")], "prepared with pipeline 'ucla_raw'"),
        ([tmp_path / "nope.npy"], "input not found"),
        ([ucla["dir"] / "ucla.pkl"], "--trust-pickle"),
        ([ucla["dir"] / "prepared", "--sample", "zzz"], "no sample named 'zzz'"),
        ([tmp_path], "must be a prepared dataset"),
    ]
    (tmp_path / "x.txt").write_text("1")
    cases.append(([tmp_path / "x.txt"], "unsupported input"))
    for argv, msg in cases:
        assert main(["predict", "--model", "sgn", "--weights", "nwucla", "-q", *map(str, argv)]) == 2, argv
        err = capsys.readouterr().err.strip()
        assert msg in err and err.count("\n") == 0, err
