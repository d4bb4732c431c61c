"""ONNX deployment: every registered model exports and matches PyTorch; `predict --onnx` runs without torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from skelar.cli.main import main
from skelar.engine.export import LogitsOnly, export_model_onnx
from skelar.models import create_model, list_models

REPO = Path(__file__).resolve().parents[1]
# every model skelar registers (new ones are picked up automatically); toy models of other test modules are named test_*
MODELS = [name for name in list_models() if not name.startswith("test_")]
ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed: pip install 'skelar[onnx]'")


def _relative_error(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-12))


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_every_registered_model_exports_and_matches_torch(name, tmp_path):
    torch.manual_seed(0)
    model = LogitsOnly(create_model(name, num_classes=5)).eval()
    shape = tuple(model.model.input_shape)
    path = tmp_path / f"{name}.onnx"
    used = export_model_onnx(model, shape, path)  # what `skelar export` does: torch.export, TorchScript as fallback
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.randn(3, *shape, generator=torch.Generator().manual_seed(1))  # not the exported batch size
    with torch.no_grad():
        want = model(x).numpy()
    (got,) = sess.run(None, {"x": x.numpy()})
    assert got.shape == want.shape
    assert _relative_error(got, want) <= 1e-4, f"{name} ({used} exporter)"


def test_torchscript_exporter_also_matches(tmp_path):
    torch.manual_seed(0)
    model = LogitsOnly(create_model("sgn", num_classes=5)).eval()
    shape = tuple(model.model.input_shape)
    assert export_model_onnx(model, shape, tmp_path / "m.onnx", exporter="torchscript") == "torchscript"
    x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(1))
    (got,) = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"]).run(None, {"x": x.numpy()})
    with torch.no_grad():
        assert _relative_error(got, model(x).numpy()) <= 1e-4


@pytest.fixture(scope="module")
def sgn_onnx(tmp_path_factory):
    """The shipped NW-UCLA SGN weights exported with `skelar export --model sgn --weights nwucla`."""
    out = tmp_path_factory.mktemp("onnx") / "sgn-nwucla.onnx"
    assert main(["export", "--model", "sgn", "--weights", "nwucla", "--out", str(out)]) == 0
    return out


def test_exported_file_carries_the_preprocessing(sgn_onnx):
    from skelar.runtime.onnx import load_onnx_predictor

    spec = load_onnx_predictor(sgn_onnx).spec
    assert spec.model == "sgn" and spec.classes[3] == "walk around" and spec.test_clips == 5 and spec.seed == 1
    assert spec.layout["name"] == "ucla20" and spec.dataset_pipeline["pipeline"] == "ucla_raw"
    assert [t["name"] for t in spec.test_transforms] == ["center_first_frame", "minmax_normalize", "segment_sample"]


def test_predict_onnx_runs_without_torch_and_matches_pytorch(sgn_onnx, shared, tmp_path, capsys):
    root = shared("data", "nw-ucla", "all_sqe")
    inputs = [str(root / f"{n}.json") for n in ("a01_s01_e00_v03", "a04_s02_e01_v03", "a08_s09_e00_v03")]
    arr = tmp_path / "walk.npy"
    np.save(arr, _ucla_array(root / "a04_s02_e01_v03.json"))
    code = (
        "import json, sys\n"
        "from skelar.cli.main import main\n"
        f"rc = main(['predict', '--onnx', {str(sgn_onnx)!r}, *{inputs + [str(arr)]!r}, '--json', '-k', '10'])\n"
        "import skelar.api, numpy as np\n"
        f"api = skelar.api.predict({str(sgn_onnx)!r}, {{'walk': np.load({str(arr)!r})}}, top_k=10)\n"
        "print(json.dumps(api))\n"
        "assert rc == 0, rc\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                       env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stdout.strip().splitlines()
    rows, api = json.loads("\n".join(out[:-1])), json.loads(out[-1])
    assert main(["predict", "--model", "sgn", "--weights", "nwucla", *inputs, str(arr), "--json", "-q", "-k", "10"]) == 0
    want = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == [w["name"] for w in want]
    for got, ref in zip(rows + api, want + [want[-1]]):
        assert [t["class"] for t in got["top"]] == [t["class"] for t in ref["top"]]
        np.testing.assert_allclose([t["prob"] for t in got["top"]], [t["prob"] for t in ref["top"]], atol=1e-5)
    assert rows[1]["top"][0]["class"] == "walk around"


def _ucla_array(path: Path) -> np.ndarray:
    from skelar.formats.ucla import read_ucla_json

    return read_ucla_json(path).to_canonical()


def test_onnx_errors_are_one_line(sgn_onnx, tmp_path, capsys, monkeypatch):
    torch.manual_seed(0)
    model = LogitsOnly(create_model("sgn", num_classes=5)).eval()
    export_model_onnx(model, tuple(model.model.input_shape), tmp_path / "bare.onnx", exporter="torchscript")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((3, 30, 20, 1), np.float32))
    for argv, msg in [
        (["--onnx", str(tmp_path / "bare.onnx"), str(x)], "no skelar metadata"),
        (["--onnx", str(tmp_path / "junk.onnx"), str(x)], "not a readable ONNX model"),
        (["--onnx", str(sgn_onnx), "--model", "sgn", str(x)], "--onnx runs the exported file alone"),
    ]:
        assert main(["predict", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert msg in err and err.count("\n") == 0, err
    # without the extra: an actionable line naming it
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert main(["predict", "--onnx", str(sgn_onnx), str(x)]) == 2
    assert "pip install 'skelar[onnx]'" in capsys.readouterr().err
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "onnxscript" else real(n, *a))
    assert main(["export", "--model", "sgn", "--weights", "nwucla", "--out", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert "ONNX export needs onnxscript" in err and "pip install 'skelar[onnx]'" in err and err.count("\n") == 0
    assert not (tmp_path / "m.onnx").exists()


def test_info_reports_onnx_latency(capsys):
    assert main(["info", "sgn", "--num-classes", "5"]) == 0
    out = capsys.readouterr().out
    assert "latency/clip" in out and "(PyTorch, batch 1" in out
    ms = float(out.split("ms  (onnxruntime CPU")[0].split()[-1])
    assert ms > 0
    assert main(["info", "sgn", "--no-latency"]) == 0
    assert "latency" not in capsys.readouterr().out
