"""SGN against the microsoft/SGN fixture (../shared/parity/models/sgn_ntu60), plus converter and path checks."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
import torch

from skelar.models import convert_reference_state_dict, create_model
from skelar.models.profile import count_flops, count_parameters, example_input


@functools.lru_cache(maxsize=1)
def _load_fixture(npz_path: str, json_path: str):
    npz = np.load(npz_path, allow_pickle=False)
    data = {k: npz[k] for k in npz.files}
    state = {k[len("state/"):]: torch.from_numpy(v) for k, v in data.items() if k.startswith("state/")}
    return data, state, json.loads(open(json_path).read())


@pytest.fixture
def fixture_data(shared):
    """(arrays, reference state dict, json) of the sgn_ntu60 fixture; loaded once per session."""
    return _load_fixture(str(shared("parity", "models", "sgn_ntu60.npz")), str(shared("parity", "models", "sgn_ntu60.json")))


def _canonical(x_ref: np.ndarray) -> torch.Tensor:
    """Reference input (N, 20, 75) with xyz fastest -> canonical (N, 3, 20, 25, 1)."""
    x = torch.from_numpy(x_ref)
    return x.view(x.shape[0], x.shape[1], -1, 3).permute(0, 3, 1, 2)[..., None].contiguous()


def _loaded(state, fast: bool = True):
    model = create_model("sgn", num_classes=60, fast=fast)
    model.load_state_dict(convert_reference_state_dict("sgn", state), strict=True)
    return model.eval()


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "plain"])
@pytest.mark.parametrize("batch", [1, 4, 7])
def test_logits_match_reference(fixture_data, fast, batch):
    data, state, meta = fixture_data
    model = _loaded(state, fast)
    idx = np.arange(batch) % 4 if batch != 1 else np.array([2])
    x = _canonical(data["input/x"][idx])
    with torch.no_grad():
        out = model(x).numpy()
    np.testing.assert_allclose(out, data["output/logits"][idx], rtol=1e-4, atol=meta["tolerance"]["atol"])


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "plain"])
def test_intermediates_match_reference(fixture_data, fast):
    data, state, meta = fixture_data
    model = _loaded(state, fast)
    seen = {}
    model.graph.register_forward_hook(lambda m, i, o: seen.__setitem__("compute_g1", o))
    # the fast form returns gcn3 before its ReLU (applied after the joint max-pool); relu is idempotent
    model.gcn3.register_forward_hook(lambda m, i, o: seen.__setitem__("gcn3", torch.relu(o).permute(0, 3, 2, 1)))  # -> (N, C, V, T)
    model.frame_module.register_forward_hook(lambda m, i, o: seen.__setitem__("cnn", o[:, :, None]))  # -> (N, C, 1, T)
    with torch.no_grad():
        model(_canonical(data["input/x"]))
    per_output = meta["tolerance"]["per_output"]
    for name, ours in seen.items():
        np.testing.assert_allclose(
            ours.numpy(), data[f"output/hooks/{name}"], rtol=1e-4, atol=per_output[f"hooks/{name}"]["suggested_atol"], err_msg=name
        )


@pytest.mark.parametrize(
    "key", ["gcn2.w1.cnn.weight", "compute_g1.g1.cnn.weight", "spa_embed.cnn.0.cnn.bias", "cnn.bn2.running_var", "tem_embed.cnn.2.cnn.weight"]
)
def test_parity_check_detects_a_perturbed_weight(fixture_data, key):
    data, state, meta = fixture_data
    broken = dict(state)
    gen = torch.Generator().manual_seed(0)
    broken[key] = state[key] * (1 + 0.1 * torch.rand(state[key].shape, generator=gen))
    model = _loaded(broken)
    with torch.no_grad():
        out = model(_canonical(data["input/x"])).numpy()
    assert not np.allclose(out, data["output/logits"], rtol=1e-4, atol=meta["tolerance"]["atol"])


def test_parameter_counts():
    assert count_parameters(create_model("sgn", num_classes=60)) == 691_048
    assert count_parameters(create_model("sgn", num_classes=120)) == 721_828


def test_flops_per_sample():
    plain = create_model("sgn", fast=False)
    fast = create_model("sgn")
    x = example_input(plain, 4)
    assert count_flops(plain, x) == pytest.approx(0.359e9, rel=2e-3)  # the architecture's count (reference: 0.359 G)
    assert count_flops(fast, x) < 0.85 * count_flops(plain, x)


def test_converter_accepts_wrappers(fixture_data):
    _, state, _ = fixture_data
    direct = convert_reference_state_dict("sgn", state)
    wrapped = convert_reference_state_dict("sgn", {"epoch": 3, "state_dict": {f"module.{k}": v for k, v in state.items()}})
    assert direct.keys() == wrapped.keys()
    assert all(torch.equal(direct[k], wrapped[k]) for k in direct)


def test_converter_rejects_bad_keys(fixture_data):
    _, state, _ = fixture_data
    bad = dict(state)
    bad["gcn1.w1.cnn.wieght"] = bad.pop("gcn1.w1.cnn.weight")
    with pytest.raises(ValueError, match=r"unexpected keys: gcn1\.w1\.cnn\.wieght.*missing keys: gcn1\.w1\.cnn\.weight"):
        convert_reference_state_dict("sgn", bad)


def test_converter_rejects_bad_shapes(fixture_data):
    _, state, _ = fixture_data
    bad = dict(state)
    bad["gcn1.w.cnn.weight"] = torch.zeros(128, 128, 3, 3)
    with pytest.raises(ValueError, match="gcn1.w.cnn.weight"):
        convert_reference_state_dict("sgn", bad)


def test_fast_and_plain_agree_in_training(fixture_data):
    """The fixture is eval-only; in training mode (batch statistics, dropout) both forms must still agree."""
    _, state, _ = fixture_data
    models = [_loaded(state, fast).train() for fast in (True, False)]
    x = example_input(models[0], 6, seed=3)
    target = torch.arange(6)
    outs, grads = [], []
    for model in models:
        torch.manual_seed(7)  # same dropout mask
        out = model(x)
        torch.nn.functional.cross_entropy(out, target).backward()
        outs.append(out.detach())
        grads.append({n: p.grad for n, p in model.named_parameters()})
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-4, atol=1e-4)
    for name, g in grads[1].items():
        # the phi bias only shifts softmax logits by a per-row constant: its true gradient is 0
        atol = 1e-6 if name == "graph.phi.bias" else 1e-4 * max(1.0, float(g.abs().max()))
        torch.testing.assert_close(grads[0][name], g, rtol=1e-3, atol=atol, msg=name)
    for (name, a), (_, b) in zip(models[0].named_buffers(), models[1].named_buffers()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)


def test_rejects_bad_input():
    model = create_model("sgn")
    with pytest.raises(ValueError, match="interleave_persons"):
        model(torch.zeros(2, 3, 20, 25, 2))
    with pytest.raises(ValueError, match=r"\(N, 3, 20, 25, 1\)"):
        model(torch.zeros(2, 3, 30, 25, 1))
    with pytest.raises(ValueError, match="interleave_persons"):
        create_model("sgn", num_persons=2)
    for bad in ({"seg": 0}, {"num_classes": -1}, {"pooled_frames": 0}, {"dropout": 1.5}, {"dim": 130}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            create_model("sgn", **bad)
    with pytest.raises(KeyError, match="no_such_layout"):
        create_model("sgn", layout="no_such_layout")


def test_other_layouts_and_lengths():
    model = create_model("sgn", layout="ucla20", seg=30, num_classes=10).eval()
    assert model.input_shape == (3, 30, 20, 1)
    with torch.no_grad():
        assert model(example_input(model, 2)).shape == (2, 10)
    # the reference's hard-coded 20-frame pooling, on request
    quirk = create_model("sgn", seg=30, pooled_frames=20).eval()
    seen = {}
    quirk.frame_module.register_forward_hook(lambda m, i, o: seen.__setitem__("out", o))
    with torch.no_grad():
        quirk(example_input(quirk, 2))
    assert seen["out"].shape == (2, 512, 20)
