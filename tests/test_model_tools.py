"""`skelar models|info|import-checkpoint|bench` and the libraries behind them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skelar.models import create_model
from skelar.reference.benchmark import benchmark, load_reference
from skelar.cli.main import main
from skelar.engine.checkpoint import model_from_checkpoint


def test_models_lists_sgn(capsys):
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("sgn ") and "SGN" in line for line in lines)


def test_info_reports_size_and_flops(capsys):
    assert main(["info", "sgn", "--no-latency"]) == 0  # latency: tests/test_onnx_deploy.py
    out = capsys.readouterr().out
    assert "691,048" in out
    assert "(N, 3, 20, 25, 1)" in out
    assert "0.359 G" in out  # the literal formulation, as the paper counts it


def test_info_options_and_errors(capsys):
    assert main(["info", "sgn", "--num-classes", "120", "--layout", "ucla20", "--no-latency"]) == 0
    assert "(N, 3, 20, 20, 1)" in capsys.readouterr().out
    assert main(["info", "no_such_model"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("skelar: error: unknown model 'no_such_model'") and "\n" not in err


def _write_reference_checkpoint(shared, path):
    npz = np.load(shared("parity", "models", "sgn_ntu60.npz"), allow_pickle=False)
    state = {f"module.{k[len('state/'):]}": torch.from_numpy(npz[k]) for k in npz.files if k.startswith("state/")}
    # the layout microsoft/SGN main.py saves (from a DataParallel model)
    torch.save({"epoch": 3, "state_dict": state, "best": 0.5, "monitor": "val_acc", "optimizer": {"state": {}}}, path)
    return npz


def test_import_checkpoint_round_trip(shared, tmp_path, capsys):
    npz = _write_reference_checkpoint(shared, tmp_path / "ref.pth")
    out = tmp_path / "sgn.pt"
    assert main(["import-checkpoint", "--model", "sgn", str(tmp_path / "ref.pth"), str(out)]) == 0
    assert "691,048 parameters" in capsys.readouterr().out
    model, ckpt = model_from_checkpoint(out)
    assert ckpt["metadata"]["model"]["kwargs"]["num_classes"] == 60
    assert ckpt["metadata"]["source"]["kind"] == "imported"
    x = torch.from_numpy(npz["input/x"]).view(4, 20, 25, 3).permute(0, 3, 1, 2)[..., None]
    with torch.no_grad():
        logits = model(x).numpy()
    np.testing.assert_allclose(logits, npz["output/logits"], rtol=1e-4, atol=8e-5)


def test_import_checkpoint_errors(shared, tmp_path, capsys):
    _write_reference_checkpoint(shared, tmp_path / "ref.pth")
    assert main(["import-checkpoint", "--model", "sgn", str(tmp_path / "ref.pth"), str(tmp_path / "a.pt"), "--num-classes", "10"]) == 2
    assert "size mismatch for fc.weight" in capsys.readouterr().err
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    assert main(["import-checkpoint", "--model", "sgn", str(tmp_path / "junk.pth"), str(tmp_path / "b.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert "junk.pth: not a readable PyTorch checkpoint" in err and "\n" not in err
    assert main(["import-checkpoint", "--model", "sgn", str(tmp_path / "missing.pth"), str(tmp_path / "c.pt")]) == 2
    assert "not found" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.pt"))


# A stand-in with the reference's interface (it calls .cuda(), takes (N, 20, 75)); real reference code
# is never stored in the repository.
STAND_IN = '''
import torch
from torch import nn
from skelar.models import create_model

class SGN(nn.Module):
    def __init__(self, num_classes, dataset, seg, args, bias=True):
        super().__init__()
        self.onehot = torch.zeros(args.batch_size, 25, 25, seg).cuda()
        self.inner = create_model("sgn", num_classes=num_classes).cuda()

    def forward(self, x):
        n = x.shape[0]
        assert n == self.onehot.shape[0], "fixed batch size, as the reference"
        return self.inner(x.view(n, 20, 25, 3).permute(0, 3, 1, 2)[..., None])
'''


def test_reference_loader_neutralises_cuda(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(STAND_IN)
    tensor_cuda, module_cuda = torch.Tensor.cuda, torch.nn.Module.cuda
    ref = load_reference("sgn", str(path), batch_size=3, num_classes=7)
    assert torch.Tensor.cuda is tensor_cuda and torch.nn.Module.cuda is module_cuda  # patched only while loading
    x = torch.randn(3, 3, 20, 25, 1)
    assert ref.adapt_input(x).shape == (3, 20, 75)
    ref.model.eval()
    with torch.no_grad():
        torch.testing.assert_close(ref.model(ref.adapt_input(x)), ref.model.inner(x))
    with pytest.raises(FileNotFoundError):
        load_reference("sgn", str(tmp_path / "absent.py"), 3, 7)


def test_benchmark_side_by_side(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(STAND_IN)
    result = benchmark("sgn", reference=str(path), batch_size=2, rounds=2, iters=1, warmup=0, threads=1, check_parity=False)
    for side in (result.ours, result.reference):
        assert side.params == 691_048
        assert side.infer_samples_per_s > 0 and side.train_samples_per_s > 0
        assert len(side.infer_rounds) == 2 and side.infer_best >= side.infer_samples_per_s
        assert 0 < side.infer_peak_fraction < 1.5
    assert result.infer_ratio == pytest.approx(result.ours.infer_samples_per_s / result.reference.infer_samples_per_s)
    assert "speed-up" in result.summary()


def test_benchmark_rejects_bad_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        benchmark("sgn", batch_size=1)
    with pytest.raises(KeyError, match="no reference loader"):
        load_reference("no_such", __file__, 2, 2)


@pytest.mark.skipif(not __import__("pathlib").Path(__file__).parents[1].joinpath(".refs", "sgn_model.py").is_file(),
                    reason="needs a local copy of microsoft/SGN model.py at .refs/sgn_model.py (never committed)")
def test_benchmark_parity_with_real_reference():
    from pathlib import Path

    path = Path(__file__).parents[1] / ".refs" / "sgn_model.py"
    result = benchmark("sgn", reference=str(path), batch_size=4, rounds=1, iters=1, warmup=0, threads=1)
    assert result.parity_max_abs_diff is not None and result.parity_max_abs_diff < 1e-4


class _InPlace(torch.nn.Module):
    """Uses the in-place products that models take under no_grad."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(6, 4))

    def forward(self, x):
        base = x @ self.w  # mm, counted by the stock counter: 2 * N * 6 * 4
        rows = x.new_zeros(x.shape[0], 4)
        rows.addmm_(x, self.w)  # in place: 2 * N * 6 * 4
        g = x.new_ones(x.shape[0], 2, 2)
        return base + rows.view(-1, 2, 2).baddbmm_(g, rows.view(-1, 2, 2)).view(-1, 4)  # 2 * N * 2 * 2 * 2


def test_count_flops_includes_in_place_products():
    from skelar.models.profile import count_flops

    assert count_flops(_InPlace(), torch.randn(5, 6)) == 2 * 6 * 4 + 2 * 6 * 4 + 2 * 2 * 2 * 2


# A stand-in with CTR-GCN's reference interface: Model(num_class, num_point, num_person, graph=<import string>)
CTRGCN_STAND_IN = '''
from skelar.models.ctrgcn import CTRGCN

def import_class(name):
    mod = __import__(name.split(".")[0])
    for comp in name.split(".")[1:]:
        mod = getattr(mod, comp)
    return mod

class Model(CTRGCN):  # the literal form, same state-dict names
    def __init__(self, num_class=60, num_point=25, num_person=2, graph=None, graph_args=dict(), in_channels=3):
        super().__init__(num_classes=num_class, layout="ucla20", num_persons=num_person, fast=False)
        self.A = import_class(graph)(**graph_args).A
        self.shape = (num_class, num_point, num_person)
'''


def test_ctrgcn_reference_is_built_like_ours(tmp_path):
    from skelar.models.graph import spatial_graph

    path = tmp_path / "ctrgcn.py"
    path.write_text(CTRGCN_STAND_IN)
    ours = create_model("ctrgcn", num_classes=10, layout="ucla20", num_frames=16)
    ref = load_reference("ctrgcn", str(path), batch_size=2, num_classes=10, like=ours)
    assert ref.model.shape == (10, 20, 1)
    np.testing.assert_array_equal(ref.model.A, spatial_graph("ucla20"))
    result = benchmark("ctrgcn", reference=str(path), batch_size=2, rounds=1, iters=1, warmup=0, threads=1,
                       model_kwargs={"num_classes": 10, "layout": "ucla20", "num_frames": 16})  # fmt: skip
    assert result.parity_max_abs_diff is not None and result.parity_max_abs_diff < 1e-2  # logits ~1e3 at random init
