"""LTSCL parity with the reference fixtures: AIM (ltscl_aim_ntu60) and AS-GCN model1 (ltscl_model1_ntu60)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import load_model_fixture

from skelar.models import convert_reference_state_dict
from skelar.models.asgcn import ASGCNPredictor
from skelar.models.graph import hop_spatial_graph
from skelar.models.ltscl_aim import AIM, actional_links, offdiag_pairs


@pytest.fixture(scope="module")
def aim_fixture():
    return load_model_fixture("ltscl_aim_ntu60")


@pytest.fixture(scope="module")
def model1_fixture():
    return load_model_fixture("ltscl_model1_ntu60")


def _aim(state) -> AIM:
    m = AIM(25, in_frames=50, hidden_enc=128, hidden_dec=128).eval()
    m.load_state_dict(convert_reference_state_dict("ltscl_aim", state), strict=True)
    return m


def _model1(state, **kw) -> ASGCNPredictor:
    kw = {"coord_mixing": True, "momentum_in_eval": True, **kw}
    m = ASGCNPredictor(hop_spatial_graph("ntu25", 4), 60, **kw).eval()
    m.load_state_dict(convert_reference_state_dict("ltscl_backbone", state), strict=True)
    return m


def _run_aim(m, npz):
    with torch.no_grad():
        return m(torch.from_numpy(npz["input/x"]), edges=torch.from_numpy(npz["input/edges"]))


def _run_model1(m, npz, samples: int = 2):
    """Forward on the fixture input (its first ``samples`` clips: each has M = 2 rows of A_act)."""
    inputs = [torch.from_numpy(npz[f"input/{k}"][:samples]) for k in ("x", "x_target", "x_last")]
    inputs.append(torch.from_numpy(npz["input/A_act"][: 2 * samples]))
    with torch.no_grad():
        return m(*inputs, float(npz["input/lamda_act"]))


# ---- AIM ---------------------------------------------------------------------------------------------


def test_aim_matches_reference(aim_fixture):
    npz, meta, state = aim_fixture
    out = _run_aim(_aim(state), npz)
    tol = meta["tolerance"]["per_output"]
    for ours, ref in (("logits", "logits"), ("prob", "prob"), ("outputs", "outputs"), ("x", "x")):
        np.testing.assert_allclose(out[ours].numpy(), npz[f"output/{ref}"], rtol=1e-4, atol=tol[ref]["suggested_atol"], err_msg=ours)
    np.testing.assert_allclose(out["A"].numpy(), npz["output/A_batch"], rtol=1e-5, atol=1e-6)


def test_aim_losses_are_the_reference_formulas(aim_fixture):
    """NLL and KL recomputed in float64 NumPy from the reference's outputs (recognition.py:196-205)."""
    npz, _, state = aim_fixture
    m = _aim(state)
    losses = m.losses(_run_aim(m, npz))
    x, outputs, prob = (npz[f"output/{k}"].astype(np.float64) for k in ("x", "outputs", "prob"))
    nll = ((outputs - x[:, :, 1:]) ** 2 / (2 * 5e-4)).sum() / (x.shape[0] * x.shape[1])
    log_prior = np.log(np.array([0.95, 0.025, 0.025]))
    kl = (prob * (np.log(prob + 1e-16) - log_prior)).sum() / (25 * prob.shape[0])
    np.testing.assert_allclose(float(losses["aim_nll"]), nll, rtol=1e-4)
    np.testing.assert_allclose(float(losses["aim_kl"]), kl, rtol=1e-4)


def test_aim_perturbed_weight_fails(aim_fixture):
    npz, meta, state = aim_fixture
    state = dict(state)
    state["encoder.mlp3.fc2.weight"] = state["encoder.mlp3.fc2.weight"] * 1.05
    out = _run_aim(_aim(state), npz)
    assert np.abs(out["logits"].numpy() - npz["output/logits"]).max() > 10 * meta["tolerance"]["atol"]


def test_aim_decoder_uses_the_injected_edges(aim_fixture):
    npz, meta, state = aim_fixture
    m = _aim(state)
    edges = torch.from_numpy(npz["input/edges"]).roll(1, dims=-1)  # another edge assignment
    with torch.no_grad():
        out = m(torch.from_numpy(npz["input/x"]), edges=edges)
    assert np.abs(out["outputs"].numpy() - npz["output/outputs"]).max() > 10 * meta["tolerance"]["atol"]


def _links_loop(edges: torch.Tensor, v: int) -> torch.Tensor:
    """The reference's per-sample loop, written out independently for the check."""
    send, recv = offdiag_pairs(v)
    out = torch.zeros(edges.shape[0], edges.shape[2] - 1, v, v, dtype=torch.float64)
    for b in range(edges.shape[0]):
        for k in range(1, edges.shape[2]):
            a = torch.eye(v, dtype=torch.float64)
            for e in range(len(send)):
                a[send[e], recv[e]] += float(edges[b, e, k])
            out[b, k - 1] = a @ torch.diag(a.sum(0) ** -1 + 1e-10) * 0.1
    return out


@pytest.mark.parametrize("layout,v", [("ucla20", 20), ("coco17", 17)])
def test_aim_for_other_layouts(layout, v):
    assert len(offdiag_pairs(v)[0]) == v * (v - 1)
    torch.manual_seed(0)
    m = AIM(v, in_frames=6, hidden_enc=16, hidden_dec=16).eval()
    x = torch.randn(3, 3, 6, v, 1)
    with torch.no_grad():
        out = m(x)
    assert out["logits"].shape == (3, v * (v - 1), 3) and out["outputs"].shape == (3, v, 5, 3)
    assert torch.equal(out["edges"].argmax(-1), out["logits"].argmax(-1))  # corrected eval: arg-max links
    torch.testing.assert_close(out["A"].double(), _links_loop(out["edges"], v), rtol=1e-6, atol=1e-7)


def test_aim_gumbel_sampling_in_eval_is_the_faithful_option():
    torch.manual_seed(0)
    m = AIM(10, in_frames=4, hidden_enc=8, hidden_dec=8, eval_sampling="gumbel").eval()
    x = torch.randn(2, 3, 4, 10, 1)
    with torch.no_grad():
        a, b = m(x, decode=False)["edges"], m(x, decode=False)["edges"]
    assert not torch.equal(a, b)
    assert torch.equal(a.sum(-1), torch.ones_like(a[..., 0]))  # hard one-hot samples


# ---- model1 (AS-GCN backbone + prediction head) -------------------------------------------------------


def test_graph_equals_reference(model1_fixture):
    npz, _, _ = model1_fixture
    np.testing.assert_array_equal(hop_spatial_graph("ntu25", 4), npz["state/A"])


def test_model1_matches_reference(model1_fixture):
    npz, meta, state = model1_fixture
    out = _run_model1(_model1(state), npz)
    tol = meta["tolerance"]["per_output"]
    for ours, ref in (("logits", "x_class"), ("pred", "pred"), ("target", "target")):
        np.testing.assert_allclose(out[ours].numpy(), npz[f"output/{ref}"], rtol=1e-4, atol=tol[ref]["suggested_atol"], err_msg=ours)


def test_model1_perturbed_weights_fail(model1_fixture):
    npz, meta, state = model1_fixture
    for key in ("class_layer_1.tcn.2.weight", "edge_importance_recon.6"):
        bad = dict(state)
        bad[key] = bad[key] + 0.05 * bad[key].abs().mean()
        out = _run_model1(_model1(bad), npz, samples=1)
        diff = max(np.abs(out["logits"].numpy() - npz["output/x_class"][:1]).max(), np.abs(out["pred"].numpy() - npz["output/pred"][:1]).max())
        assert diff > 10 * meta["tolerance"]["atol"], key


def test_corrected_prediction_adds_the_same_coordinate(model1_fixture):
    """Per-coordinate prediction differs from the released one exactly by the mixed base frame."""
    npz, meta, state = model1_fixture
    out = _run_model1(_model1(state, coord_mixing=False), npz, samples=1)
    last = npz["input/x_last"][:1, :, 0, :, 0]  # (N, C, V), person 0
    c = np.arange(3)[:, None]
    t = np.arange(10)[None, :]
    mixed = last[:, (10 * c + t) % 3]  # (N, 3, 10, V): the released base
    expected = npz["output/pred"][:1] - mixed + last[:, :, None]
    np.testing.assert_allclose(out["pred"].numpy(), expected, rtol=1e-4, atol=meta["tolerance"]["per_output"]["pred"]["suggested_atol"])


@pytest.mark.parametrize("in_eval", [True, False])
def test_momentum_update_in_eval_only_when_faithful(model1_fixture, in_eval):
    npz, _, state = model1_fixture
    m = _model1(state, momentum_in_eval=in_eval)
    before = m.recon_layer_6_encoder_k.gcn_recon.deconv.weight.clone()
    q = m.recon_layer_6_encoder_q.gcn_recon.deconv.weight
    _run_model1(m, npz, samples=1)
    after = m.recon_layer_6_encoder_k.gcn_recon.deconv.weight
    if in_eval:
        torch.testing.assert_close(after, 0.999 * before + 0.001 * q)
    else:
        assert torch.equal(after, before)


def test_converters_reject_other_state_dicts():
    with pytest.raises(ValueError, match="not an AS-GCN"):
        convert_reference_state_dict("ltscl_backbone", {"fc.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="not an LTSCL AdjacencyLearn"):
        convert_reference_state_dict("ltscl_aim", {"fc.weight": torch.zeros(1)})
