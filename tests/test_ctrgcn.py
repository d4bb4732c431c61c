"""CTR-GCN: graph builder, parity with the reference (fixtures), SF-Head placement, sizes, FLOPs and SF losses."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import load_model_fixture
from torch.utils.flop_counter import FlopCounterMode

from skelar.models import SFHead, convert_reference_state_dict, create_model
from skelar.models.ctrgcn import CTRGCN, TCNGCNUnit
from skelar.models.graph import spatial_graph
from skelar.models.sf_head import SFHeadFeatures
from skelar.models.sf_losses import sf_head_losses

FIXTURES = {"ctrgcn_ntu60": dict(num_classes=60), "ctrgcn_ucla": dict(num_classes=10, layout="ucla20")}




def _fixture(shared, name):
    return load_model_fixture(name)


def _flops(model, x) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return counter.get_total_flops()


# ---- graph -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("layout", "name"), [("ntu25", "ctrgcn_ntu60"), ("ucla20", "ctrgcn_ucla")])
def test_graph_equals_reference(shared, layout, name):
    npz, _, _ = _fixture(shared, name)
    graph = spatial_graph(layout)
    assert graph.dtype == np.float32
    np.testing.assert_array_equal(graph, npz["output/graph_A"])


def test_graph_for_any_layout():
    a = spatial_graph("coco17")  # a layout with no reference graph: check the construction rules
    assert a.shape == (3, 17, 17)
    np.testing.assert_array_equal(a[0], np.eye(17))
    assert (a[1] > 0).sum() == 16 and (a[2] > 0).sum() == 16  # one inward and one outward edge per bone
    np.testing.assert_array_equal(a[1] > 0, (a[2] > 0).T)
    for k in (1, 2):
        sums = a[k].sum(axis=0)
        assert np.allclose(sums[sums > 0], 1.0)  # column-normalised


# ---- parity ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def parity_models():
    cache: dict[str, CTRGCN] = {}

    def get(shared, name):
        if name not in cache:
            _, _, state = _fixture(shared, name)
            model = create_model("ctrgcn", **FIXTURES[name])
            model.load_state_dict(convert_reference_state_dict("ctrgcn", state))
            cache[name] = model.eval()
        return cache[name]

    return get


@pytest.mark.parametrize("name", sorted(FIXTURES))
@pytest.mark.parametrize("rows", [[1], [0, 1], [1, 0, 1]], ids=["batch1", "batch2", "batch3"])
def test_parity_logits_and_units(shared, parity_models, name, rows):
    npz, meta, _ = _fixture(shared, name)
    model = parity_models(shared, name)
    x = torch.from_numpy(npz["input/x"])[rows]
    captured = {}
    handles = [getattr(model, u).register_forward_hook(lambda m, i, o, u=u: captured.__setitem__(u, o)) for u in ("l1", "l10")]
    try:
        with torch.no_grad():
            logits = model(x)
    finally:
        for h in handles:
            h.remove()
    np.testing.assert_allclose(logits.numpy(), npz["output/logits"][rows], rtol=1e-4, atol=meta["tolerance"]["atol"])
    m = model.num_persons  # unit outputs are (N·M, C, T, V): person rows of each sample
    unit_rows = [r * m + p for r in rows for p in range(m)]
    for unit in ("l1", "l10"):
        atol = meta["tolerance"]["per_output"][f"hooks/{unit}"]["suggested_atol"]
        np.testing.assert_allclose(captured[unit].numpy(), npz[f"output/hooks/{unit}"][unit_rows], rtol=1e-4, atol=atol, err_msg=unit)


def test_converter_is_strict_and_tolerates_wrappers(shared):
    _, _, state = _fixture(shared, "ctrgcn_ucla")
    wrapped = {"state_dict": {f"module.{k}": v for k, v in state.items()}}
    assert set(convert_reference_state_dict("ctrgcn", wrapped)) == set(state)
    with pytest.raises(ValueError, match="1 missing key.*l3.gcn1.alpha"):
        convert_reference_state_dict("ctrgcn", {k: v for k, v in state.items() if k != "l3.gcn1.alpha"})
    with pytest.raises(ValueError, match="1 unexpected key.*l1.sf.w"):
        convert_reference_state_dict("ctrgcn", {**state, "l1.sf.w": torch.ones(4)})
    with pytest.raises(ValueError, match="is this a CTR-GCN checkpoint"):
        convert_reference_state_dict("ctrgcn", {"fc.weight": torch.zeros(2, 2)})


def test_fixed_graph_keeps_the_reference_state_dict():
    with torch.device("meta"):
        model = CTRGCN(10, "ucla20", adaptive=False)
    sd = model.state_dict()
    assert not any(k.endswith((".PA", ".A")) for k in sd)
    assert set(convert_reference_state_dict("ctrgcn", sd)) == set(sd)


# ---- construction, sizes, FLOPs -----------------------------------------------------------------------


def _meta_model(**kwargs) -> CTRGCN:
    with torch.device("meta"):
        return CTRGCN(**kwargs)


def _params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_parameter_counts():
    assert _params(_meta_model(num_classes=60)) == 1_446_672
    assert _params(_meta_model(num_classes=60, sf_head="all")) == 1_446_672 + 3_392
    assert _params(_meta_model(num_classes=60, sf_head=[1, 5, 8])) == 1_446_672 + 320 + 336 + 368


def test_input_shape_defaults_and_checks():
    assert _meta_model().input_shape == (3, 64, 25, 2)
    assert _meta_model(layout="ucla20").input_shape == (3, 52, 20, 1)
    assert _meta_model(layout="ucla20", num_persons=2, num_frames=40).input_shape == (3, 40, 20, 2)
    model = _meta_model(layout="ucla20")
    with pytest.raises(ValueError, match="C=3, V=20, M=1"):
        model(torch.empty(1, 3, 52, 25, 1, device="meta"))
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        CTRGCN(num_classes=0)
    assert isinstance(_meta_model(drop_out=0.5).drop_out, torch.nn.Dropout)


@pytest.mark.parametrize(
    ("option", "units"),
    [(None, []), (False, []), (True, list(range(1, 11))), ("all", list(range(1, 11))), ([10, 1, 5], [1, 5, 10])],
)
def test_sf_head_placement(option, units):
    model = _meta_model(sf_head=option)
    assert model.sf_units == units
    for i, unit in enumerate(model.units(), start=1):
        assert isinstance(unit.sf, SFHead) == (i in units)
        if unit.sf is not None:
            assert unit.sf.channels == unit.gcn1.bn.num_features and unit.sf.groups == 8


@pytest.mark.parametrize("option", [[0], [11], ["l1"], "some", 3])
def test_bad_sf_head_option(option):
    with pytest.raises(ValueError, match="sf_head"):
        CTRGCN(sf_head=option)


def test_sf_head_sits_between_gcn_and_tcn():
    torch.manual_seed(0)
    unit = TCNGCNUnit(64, 128, spatial_graph("ntu25"), stride=2, sf_head_groups=8).eval()
    with torch.no_grad():
        unit.gcn1.bn.weight.fill_(1.0)  # make the GCN branch visible (reference init is 1e-6)
        unit.sf.cweight.normal_()
        x = torch.randn(2, 64, 6, 25)
        want = torch.relu(unit.tcn1(unit.sf(unit.gcn1(x))) + unit.residual(x))
        without = torch.relu(unit.tcn1(unit.gcn1(x)) + unit.residual(x))
        got = unit(x)
    torch.testing.assert_close(got, want)
    assert (got - without).abs().max() > 1e-3  # the SF-Head really is in the path


def test_flops_sf_head_adds_only_its_own():
    x = torch.empty(1, 3, 64, 25, 2, device="meta")
    # the published figures count the literal form; the fast form skips work (conv1/conv2 on the temporal mean)
    plain = _flops(_meta_model(num_classes=60, fast=False).eval(), x)
    with_sf = _flops(_meta_model(num_classes=60, sf_head="all", fast=False).eval(), x)
    assert _flops(_meta_model(num_classes=60).eval(), x) < 0.95 * plain
    assert plain == pytest.approx(3.88e9, rel=2e-3)  # reference-notes §0.1 (2 FLOPs per multiply-add)
    assert with_sf == pytest.approx(3.92e9, rel=2e-3)
    # SF-Head inputs are the GCN outputs (N·M = 2 rows); strided units downsample in their TCN, after the head
    shapes = [(64, 64)] * 4 + [(128, 64), (128, 32), (128, 32), (256, 32), (256, 16), (256, 16)]
    heads = sum(_flops(SFHead(c, 8).to("meta").eval(), torch.empty(2, c, t, 25, device="meta")) for c, t in shapes)
    assert with_sf - plain == heads


# ---- SF-Head losses inside CTR-GCN -------------------------------------------------------------------


def test_sf_losses_in_training_mode_only(monkeypatch):
    torch.manual_seed(0)
    model = create_model("ctrgcn", num_classes=5, num_persons=1, sf_head="all", sf_losses=("f_rl", "f_cl"))
    recorded: list[SFHeadFeatures] = []
    original = SFHead.forward_with_features

    def recording(self, x):
        y, feats = original(self, x)
        recorded.append(feats)
        return y, feats

    monkeypatch.setattr(SFHead, "forward_with_features", recording)
    x = torch.randn(2, 3, 4, 25, 1)
    out = model.train()(x)
    assert set(out) == {"logits", "aux_losses"} and out["logits"].shape == (2, 5)
    assert set(out["aux_losses"]) == {"f_rl", "f_cl"}
    assert len(recorded) == 10
    expected = sf_head_losses(recorded)
    for name, value in out["aux_losses"].items():
        assert value.dim() == 0 and torch.isfinite(value)
        torch.testing.assert_close(value, expected[name])
    assert 0 <= out["aux_losses"]["f_rl"].item() <= 1 and 0 <= out["aux_losses"]["f_cl"].item() <= 4

    # the auxiliary losses train every SF-Head (and the layers before it), not the classifier
    (out["aux_losses"]["f_rl"] + out["aux_losses"]["f_cl"]).backward()
    for unit in model.units():
        assert unit.sf.w.grad is not None and unit.sf.w.grad.abs().sum() > 0
        assert unit.sf.cweight.grad.abs().sum() > 0
    assert model.fc.weight.grad is None

    # eval: plain logits, identical to the same network built without the losses
    twin = create_model("ctrgcn", num_classes=5, num_persons=1, sf_head="all")
    twin.load_state_dict(model.state_dict())
    with torch.no_grad():
        logits = model.eval()(x)
        assert isinstance(logits, torch.Tensor) and logits.shape == (2, 5)
        torch.testing.assert_close(logits, twin.eval()(x), rtol=0, atol=0)


def test_sf_losses_off_returns_plain_logits_in_training():
    model = create_model("ctrgcn", num_classes=5, num_persons=1, sf_head=[2, 9]).train()
    assert isinstance(model(torch.randn(2, 3, 4, 25, 1)), torch.Tensor)


def test_sf_loss_options_are_checked():
    with pytest.raises(ValueError, match="sf_losses need SF-Heads"):
        CTRGCN(sf_losses=("f_rl",))
    with pytest.raises(ValueError, match="unknown loss"):
        CTRGCN(sf_head="all", sf_losses=("f_xx",))
    assert _meta_model(sf_head="all", sf_losses=True).sf_losses == ("f_rl", "f_cl")
    assert _meta_model(sf_head="all", sf_losses="f_cl").sf_losses == ("f_cl",)
