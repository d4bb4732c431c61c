"""impSGN: parity with the acvai/impSGN fixture, vectorised input streams, quirk options, layouts, conversion."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from skelar.models import convert_reference_state_dict, create_model
from skelar.models.impsgn import IMPSGN_NTU_PARENTS, multi_input_streams, velocity_weights

FIXTURE = ("parity", "models", "impsgn_ntu60")
STREAMS = ("joint", "velocity", "bone", "velocity_prime")


@functools.lru_cache(maxsize=1)
def _read_fixture(npz_path: str, json_path: str):
    npz = np.load(npz_path, allow_pickle=False)
    meta = json.loads(open(json_path).read())
    state = {k[len("state/") :]: torch.from_numpy(npz[k]) for k in npz.files if k.startswith("state/")}
    outputs = {k[len("output/") :]: npz[k] for k in npz.files if k.startswith("output/")}
    # reference input (N, T, V*3), coordinates fastest -> canonical (N, 3, T, V, 1)
    x = torch.from_numpy(npz["input/x"]).view(4, 20, 25, 3).permute(0, 3, 1, 2).unsqueeze(-1).contiguous()
    return state, outputs, x, meta


@pytest.fixture
def fixture_data(shared):
    """(reference state dict, reference outputs, canonical input, fixture json) of impsgn_ntu60."""
    return _read_fixture(str(shared(*FIXTURE[:-1], FIXTURE[-1] + ".npz")), str(shared(*FIXTURE[:-1], FIXTURE[-1] + ".json")))


def _loaded(state, **kwargs) -> torch.nn.Module:
    model = create_model("impsgn", num_classes=60, **kwargs)
    model.load_state_dict(convert_reference_state_dict("impsgn", state), strict=True)
    return model.eval()


def _atol(meta, name: str) -> float:
    return meta["tolerance"]["per_output"][name]["suggested_atol"]


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "literal"])
@pytest.mark.parametrize("batch", [1, 4, 7, 64])  # 64: eval batches are cut into chunks internally
def test_logits_match_reference(fixture_data, batch, fast):
    state, out, x, meta = fixture_data
    model = _loaded(state, fast=fast)
    idx = torch.arange(batch) % 4  # batch 7 repeats samples: any batch size works (the reference's cannot)
    with torch.no_grad():
        logits = model(x[idx]).numpy()
    np.testing.assert_allclose(logits, out["logits"][idx.numpy()], rtol=meta["tolerance"]["rtol"], atol=meta["tolerance"]["atol"])


def test_vectorised_streams_match_reference(fixture_data):
    state, out, x, meta = fixture_data
    model = _loaded(state)
    for name, stream in zip(STREAMS, model.streams(x)):
        ours = stream.permute(0, 2, 3, 1).numpy()  # (N, T, 6, V) -> reference (N, 6, V, T)
        np.testing.assert_allclose(ours, out[f"multi_input/{name}"], rtol=1e-4, atol=_atol(meta, f"multi_input/{name}"), err_msg=name)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "literal"])
def test_block_and_frame_module_intermediates(fixture_data, fast):
    state, out, x, meta = fixture_data
    model = _loaded(state, fast=fast)
    seen = {}
    model.blocks[0].register_forward_hook(lambda m, i, o: seen.__setitem__("block0", o))
    model.frame_module.register_forward_hook(lambda m, i, o: seen.__setitem__("cnn", o))
    with torch.no_grad():
        model(x)
    block0 = seen["block0"].permute(0, 3, 2, 1).numpy()  # (N, T, V, C) -> (N, C, V, T)
    np.testing.assert_allclose(block0, out["hooks/stab_modules.0"], rtol=1e-4, atol=_atol(meta, "hooks/stab_modules.0"))
    cnn = seen["cnn"].unsqueeze(2).numpy()  # (N, C, T) -> (N, C, 1, T)
    np.testing.assert_allclose(cnn, out["hooks/cnn"], rtol=1e-4, atol=_atol(meta, "hooks/cnn"))


def _loop_streams(x: torch.Tensor, parents, weights, center: int = 1, trim: bool = True):
    """Straightforward per-joint/per-frame loops (the reference's way) on ``(N, C, V, T)``."""
    n, c, v, t = x.shape
    joint, vel, bone = (torch.zeros(n, 2 * c, v, t) for _ in range(3))
    joint[:, :c] = x
    for i in range(v):
        joint[:, c:, i] = x[:, :, i] - x[:, :, center]
    for i in range(t - 2 if trim else t - 1):
        vel[:, :c, :, i] = x[..., i + 1] - x[..., i]
    for i in range(t - 2):
        vel[:, c:, :, i] = x[..., i + 2] - x[..., i]
    for i, p in enumerate(parents):
        bone[:, :c, i] = x[:, :, i] - x[:, :, p]
    length = sum(bone[:, i] ** 2 for i in range(c)).sqrt() + 1e-4
    for i in range(c):
        bone[:, c + i] = torch.acos(bone[:, i] / length)
    prime = vel * torch.tensor(weights).view(1, 1, v, 1)
    return joint, vel, bone, prime


@pytest.mark.parametrize("trim", [True, False])
def test_streams_equal_loop_formulation(trim):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 3, 25, 11, generator=gen)  # (N, C, V, T)
    x[0, :, 5] = x[0, :, 6]  # a zero bone: angles must be exactly pi/2
    parents, weights = torch.tensor(IMPSGN_NTU_PARENTS), torch.tensor(velocity_weights(25))
    ours = multi_input_streams(x.permute(0, 3, 1, 2), 1, parents, weights, trim_velocity=trim)
    for name, a, b in zip(STREAMS, ours, _loop_streams(x, IMPSGN_NTU_PARENTS, velocity_weights(25), trim=trim)):
        torch.testing.assert_close(a.permute(0, 2, 3, 1), b, rtol=1e-6, atol=1e-6, msg=name)
    assert torch.allclose(ours[2][0, :, 3:, 6], torch.tensor(torch.pi / 2))


def test_velocity_weights_formula():
    assert velocity_weights(25) == [1, 2, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, 33, 35, 37, 39, 41, 43, 45, 47]
    assert velocity_weights(20)[-1] == 37 and len(velocity_weights(20)) == 20


def test_parameter_counts():
    assert sum(p.numel() for p in create_model("impsgn", num_classes=60).parameters()) == 3_489_560
    assert sum(p.numel() for p in create_model("impsgn", num_classes=120).parameters()) == 3_520_340


def test_faithful_gcn_init_is_not_zero_and_option_zeroes_it():
    torch.manual_seed(0)
    faithful = create_model("impsgn")
    stds = [float(getattr(b, f"gcn{k}").graph_proj.weight.detach().std()) for b in faithful.blocks for k in (1, 2, 3)]
    assert min(stds) > 0.05  # reference: N(0, sqrt(2 / out)), std ~0.06-0.12
    zeroed = create_model("impsgn", gcn_zero_init=True)
    assert all(not getattr(b, f"gcn{k}").graph_proj.weight.any() for b in zeroed.blocks for k in (1, 2, 3))


@pytest.mark.parametrize(
    "option",
    [dict(tcn_axis="time"), dict(double_residual=False), dict(double_norm=False), dict(trim_velocity=False), dict(bone_parents="layout")],
    ids=lambda o: next(iter(o)),
)
def test_each_quirk_option_changes_the_output(fixture_data, option):
    state, out, x, meta = fixture_data
    model = create_model("impsgn", num_classes=60, **option)
    converted = convert_reference_state_dict("impsgn", state)
    if option.get("double_norm") is False:
        converted = {k: v for k, v in converted.items() if ".norm_act." not in k}
    model.load_state_dict(converted, strict=True)
    with torch.no_grad():
        logits = model.eval()(x).numpy()
    assert np.abs(logits - out["logits"]).max() > 100 * meta["tolerance"]["atol"]


def test_gcn_zero_init_changes_the_output():
    x = torch.randn(2, 3, 20, 25, 1, generator=torch.Generator().manual_seed(1))
    outs = []
    for zero in (False, True):
        torch.manual_seed(0)
        model = create_model("impsgn", gcn_zero_init=zero).eval()
        with torch.no_grad():
            outs.append(model(x))
    assert (outs[0] - outs[1]).abs().max() > 1e-3


def test_corrected_variant_options_and_training_steps():
    torch.manual_seed(0)
    model = create_model("impsgn_corrected", num_classes=10, seg=12)
    assert model.skelar_kwargs["tcn_axis"] == "time" and model.blocks[0].norm_act is None
    assert not model.blocks[0].double_residual and not model.trim_velocity
    assert all(not b.gcn1.graph_proj.weight.any() for b in model.blocks)
    x = torch.randn(4, 3, 12, 25, 1, generator=torch.Generator().manual_seed(0))
    y = torch.arange(4)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(model.train()(x), y)
        loss.backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
        opt.step()
        losses.append(float(loss))
    assert np.isfinite(losses).all() and losses[-1] < losses[0]


def test_fast_and_literal_paths_agree_in_training_mode():
    # float64: at random init the float32 gradients are dominated by rounding (saturated softmax, and
    # biases in front of training-mode BatchNorm have a true gradient of zero)
    torch.manual_seed(0)
    model = create_model("impsgn", num_classes=7, seg=12).train().double()
    x = torch.randn(3, 3, 12, 25, 1, generator=torch.Generator().manual_seed(5), dtype=torch.float64) * 0.5
    results = []
    for fast in (True, False):
        model.set_fast(fast).zero_grad()
        torch.manual_seed(1)  # same dropout mask in both passes
        out = model(x)
        out.square().sum().backward()
        results.append((out.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=1e-9, atol=1e-9 * float(results[1][0].abs().max()))
    scale = max(float(g.abs().max()) for g in results[1][1].values())
    for name, grad in results[1][1].items():
        torch.testing.assert_close(results[0][1][name], grad, rtol=1e-7, atol=1e-9 * scale, msg=name)


def test_ucla20_layout_uses_its_parents_and_runs():
    model = create_model("impsgn", layout="ucla20", num_classes=10).eval()
    from skelar.layouts import get_layout

    assert model.input_shape == (3, 20, 20, 1)
    assert model.parents.tolist() == list(get_layout("ucla20").parents)
    assert model.vel_weights.tolist() == velocity_weights(20)
    with torch.no_grad():
        out = model(torch.randn(2, *model.input_shape))
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    assert create_model("impsgn").parents.tolist() == list(IMPSGN_NTU_PARENTS)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(tcn_axis="frames"), "tcn_axis"),
        (dict(bone_parents="reference", layout="ucla20"), "25-joint"),
        (dict(bone_parents=[0] * 5), "bone_parents"),
        (dict(joint_velocity_weights=[1.0] * 3), "joint_velocity_weights"),
        (dict(num_persons=2), "num_persons"),
        (dict(seg=2), "seg"),
    ],
)
def test_bad_options_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        create_model("impsgn", **kwargs)


def test_bad_input_shape_raises():
    model = create_model("impsgn").eval()
    with pytest.raises(ValueError, match=r"\(N, 3, 20, 25, 1\)"):
        model(torch.randn(2, 3, 16, 25, 1))


def test_converter_accepts_module_prefix_and_is_strict(fixture_data):
    state = fixture_data[0]
    prefixed = {f"module.{k}": v for k, v in state.items()}
    a, b = convert_reference_state_dict("impsgn", state), convert_reference_state_dict("impsgn", prefixed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    missing = dict(state)
    del missing["stab_modules.1.mstcn.branches.2.3.conv.weight"]
    with pytest.raises(ValueError, match=r"missing keys: stab_modules\.1\.mstcn\.branches\.2\.3\.conv\.weight"):
        convert_reference_state_dict("impsgn", missing)
    with pytest.raises(ValueError, match="unexpected keys: extra.weight"):
        convert_reference_state_dict("impsgn", {**state, "extra.weight": torch.zeros(1)})
    bad = dict(state)
    bad["stab_modules.0.residual.weight"] = torch.zeros(256, 128, 3, 1)
    with pytest.raises(ValueError, match="stab_modules.0.residual.weight"):
        convert_reference_state_dict("impsgn", bad)


def test_benchmark_loader_stubs_reference_imports(tmp_path):
    """The bench loader imports model_impSGN.py with its missing imports stubbed and .cuda() a no-op."""
    import sys

    from skelar.reference.benchmark import load_reference

    (tmp_path / "ms_tcn_TP1.py").write_text("from activation_TP1 import activation_factory\n")
    (tmp_path / "model_impSGN.py").write_text(
        "import torch\nfrom torch import nn\n"
        "from ms_tcn_TP1 import activation_factory\n"
        "from Efficient_modules.graphs import Graph\n"
        "from Efficient_modules.layers import Basic_Layer, Spatial_Graph_Layer\n"
        "from Efficient_modules.activations import Swish\n"
        "from Efficient_modules.attentions import ST_Joint_Att\n"
        "class impSGN(nn.Module):\n"
        "    def __init__(self, num_classes, dataset, seg, args, bias=True):\n"
        "        super().__init__()\n"
        "        self.A, self.act = Graph('ntu').A, activation_factory('relu')\n"
        "        self.ones = torch.ones(args.batch_size, 1).cuda()\n"
        "        self.fc = nn.Linear(75, num_classes)\n"
        "    def forward(self, x):\n"
        "        return self.fc(x.mean(1)) * self.ones\n"
    )
    ref = load_reference("impsgn", str(tmp_path / "model_impSGN.py"), 3, 7)
    x = torch.randn(3, 3, 20, 25, 1)
    adapted = ref.adapt_input(x)
    assert adapted.shape == (3, 20, 75) and torch.equal(adapted.view(3, 20, 25, 3)[:, 4, 7], x[:, :, 4, 7, 0])
    assert ref.model(adapted).shape == (3, 7) and isinstance(ref.model.act, torch.nn.ReLU)
    assert "activation_TP1" not in sys.modules and "Efficient_modules" not in sys.modules and "ms_tcn_TP1" not in sys.modules
    (tmp_path / "ms_tcn_TP1.py").unlink()
    with pytest.raises(FileNotFoundError, match="ms_tcn_TP1.py"):
        load_reference("impsgn", str(tmp_path / "model_impSGN.py"), 3, 7)
