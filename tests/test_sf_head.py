"""SF-Head: parity with the released module (fixtures), state-dict conversion, and the reconstructed losses."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import load_model_fixture

from skelar.models import SFHead, convert_reference_state_dict
from skelar.models.sf_head import SFHeadFeatures, channel_shuffle
from skelar.models.sf_losses import feature_consistency_loss, feature_redundancy_loss, sf_head_losses

FIXTURES = {"sfhead_c64_g8": 64, "sfhead_c128_g8": 128}




def _load(shared, name):
    return load_model_fixture(name)


def _head(state, channels):
    head = SFHead(channels, groups=8)
    head.load_state_dict(convert_reference_state_dict("sf_head", state))
    return head.eval()


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_parity_output_and_branch_features(shared, name):
    npz, meta, state = _load(shared, name)
    head = _head(state, FIXTURES[name])
    tol = meta["tolerance"]["per_output"]
    gates = {}
    for gate in ("cv", "tc", "tv"):
        getattr(head, gate).register_forward_hook(lambda m, i, o, g=gate: gates.__setitem__(g, o))
    x = torch.from_numpy(npz["input/x"])
    with torch.no_grad():
        y, feats = head.forward_with_features(x)
        y_plain = head(x)
    assert torch.equal(y, y_plain), "forward_with_features must return the same output as forward"
    np.testing.assert_allclose(y.numpy(), npz["output/y"], rtol=1e-4, atol=meta["tolerance"]["atol"])
    for key in ("f_t", "f_s", "f_c", "f_r", "f_o"):
        np.testing.assert_allclose(getattr(feats, key).numpy(), npz[f"output/{key}"], rtol=1e-4, atol=tol[key]["suggested_atol"], err_msg=key)
    back = {"cv": gates["cv"].transpose(1, 2), "tc": gates["tc"].permute(0, 3, 2, 1), "tv": gates["tv"]}
    for gate, value in back.items():
        np.testing.assert_allclose(value.numpy(), npz[f"output/gate_{gate}"], rtol=1e-4, atol=tol[f"gate_{gate}"]["suggested_atol"], err_msg=gate)


def test_parity_per_sample(shared):
    npz, meta, state = _load(shared, "sfhead_c64_g8")
    head = _head(state, 64)
    x = torch.from_numpy(npz["input/x"])
    with torch.no_grad():
        y = head(x[[1, 0, 1]])
    np.testing.assert_allclose(y.numpy(), npz["output/y"][[1, 0, 1]], rtol=1e-4, atol=meta["tolerance"]["atol"])


def test_state_dict_keys_match_reference_including_dead_bn(shared):
    _, meta, state = _load(shared, "sfhead_c128_g8")
    assert set(SFHead(128, 8).state_dict()) == set(state)
    assert len(state) == meta["state"]["num_keys_in_reference_state_dict"]


def test_converter_is_strict_and_accepts_wrappers(shared):
    _, _, state = _load(shared, "sfhead_c64_g8")
    wrapped = {"state_dict": {f"module.{k}": v for k, v in state.items()}}
    assert set(convert_reference_state_dict("sf_head", wrapped)) == set(state)
    with pytest.raises(ValueError, match="missing keys.*cweight"):
        convert_reference_state_dict("sf_head", {k: v for k, v in state.items() if k != "cweight"})
    with pytest.raises(ValueError, match="unexpected keys.*extra"):
        convert_reference_state_dict("sf_head", {**state, "extra": torch.zeros(1)})


@pytest.mark.parametrize(("channels", "params"), [(64, 320), (128, 336), (256, 368)])
def test_parameter_counts(channels, params):
    assert sum(p.numel() for p in SFHead(channels, 8).parameters()) == params


@pytest.mark.parametrize(("channels", "groups"), [(48, 8), (64, 0), (0, 8)])
def test_bad_channel_group_combination_is_rejected(channels, groups):
    with pytest.raises(ValueError, match="multiple of 4 \\* groups"):
        SFHead(channels, groups)


def test_channel_shuffle_interleaves_halves():
    x = torch.arange(6.0).reshape(1, 6, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 3, 1, 4, 2, 5]


def test_untouched_quarter_passes_through():
    torch.manual_seed(0)
    head = SFHead(32, groups=2).eval()
    x = torch.randn(2, 32, 5, 7)
    with torch.no_grad():
        _, feats = head.forward_with_features(x)
    torch.testing.assert_close(feats.f_o, x.reshape(4, 16, 5, 7)[:, 12:], rtol=0, atol=0)


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")  # from torch's group_norm batch-size check
def test_onnx_export_matches_torch(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    head = SFHead(64, 8).eval()
    path = tmp_path / "sf_head.onnx"
    torch.onnx.export(head, (torch.randn(2, 64, 12, 25),), str(path), dynamo=False, input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "batch", 2: "frames"}, "y": {0: "batch", 2: "frames"}})  # fmt: skip
    x = torch.randn(3, 64, 20, 25)
    (got,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(got, head(x).numpy(), rtol=1e-4, atol=1e-5)


# ---- reconstructed losses -------------------------------------------------------------------------


def _rows(*vectors):
    """Stack per-row vectors into an SF-Head-like (rows, c', T, V) = (rows, 1, 1, len) tensor."""
    return torch.tensor(vectors, dtype=torch.float32).reshape(len(vectors), 1, 1, -1)


def test_redundancy_loss_known_values():
    a = _rows([1, 0, 0], [0, 2, 0])
    assert feature_redundancy_loss(a, _rows([0, 3, 0], [5, 0, 1])).item() == pytest.approx(0.0, abs=1e-7)  # orthogonal
    assert feature_redundancy_loss(a, a).item() == pytest.approx(1.0)  # identical
    assert feature_redundancy_loss(a, -2 * a).item() == pytest.approx(1.0)  # anti-parallel: cos² = 1
    # row 0: cos = 1/2 → 0.25; row 1: orthogonal → 0; mean over rows 0.125
    b = _rows([1, 3**0.5, 0], [1, 0, 0])
    assert feature_redundancy_loss(a, b).item() == pytest.approx(0.125, rel=1e-5)


def test_consistency_loss_known_values():
    t = _rows([1, 2, 3], [0, 1, 0])
    assert feature_consistency_loss(t, t, t).item() == pytest.approx(0.0, abs=1e-6)  # f_r equal to f_t and f_s
    assert feature_consistency_loss(3 * t, t, t, f_c=t).item() == pytest.approx(0.0, abs=1e-6)  # scale-invariant
    r, s = _rows([1, 0, 0]), _rows([0, 1, 0])
    assert feature_consistency_loss(r, r, s).item() == pytest.approx(1.0)  # aligned with f_t, orthogonal to f_s
    assert feature_consistency_loss(r, s, s, f_c=-r).item() == pytest.approx(4.0)  # 1 + 1 + (1 − (−1))


def test_losses_average_over_instances():
    one = SFHeadFeatures(*([_rows([1, 0])] * 5))  # all identical: F-RL 1, F-CL 0
    f_t, f_s = _rows([1, 0]), _rows([0, 1])
    two = SFHeadFeatures(f_t, f_s, f_t, f_t, f_t)  # orthogonal: F-RL 0, F-CL (1-1) + (1-0) = 1
    out = sf_head_losses([one, two])
    assert out["f_rl"].item() == pytest.approx(0.5)
    assert out["f_cl"].item() == pytest.approx(0.5)
    assert set(sf_head_losses([one], names=("f_cl",))) == {"f_cl"}
    with pytest.raises(ValueError, match="unknown SF-Head loss"):
        sf_head_losses([one], names=("f_xl",))


def test_losses_give_gradients_to_every_live_sf_head_parameter():
    torch.manual_seed(0)
    head = SFHead(64, 8).train()
    with torch.no_grad():  # the reference init (cweight = sweight = 0) blocks the GroupNorm's gradient
        head.cweight.normal_()
        head.sweight.normal_()
    _, feats = head.forward_with_features(torch.randn(2, 64, 8, 25))
    losses = sf_head_losses([feats], include_identity=True)
    (losses["f_rl"] + losses["f_cl"]).backward()
    for name, p in head.named_parameters():
        if name.startswith("bn."):
            assert p.grad is None, name  # the reference's dead member
        else:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
