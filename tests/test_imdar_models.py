"""imdar ResNet_c / Fuse5: parity with the adjkamel/imdar fixtures at batch 1, 2, 5, conversion, perturbation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import load_model_fixture

from skelar.models import convert_reference_state_dict, create_model
from skelar.models.imdar import FUSE5_HEADS

FUSE5_INPUTS = ("x1_gd", "x2_fdd", "x3_jdd", "x4_add", "x5_lad")
FUSE5_OUTPUTS = {"all": "out", "gd": "out1", "fdd": "out2", "jdd": "out3", "add": "out4", "lad": "out5", "pair": "out12", "triple": "out345"}
BATCH_ROWS = {1: [0], 2: [0, 1], 5: [0, 1, 1, 0, 1]}


def _load(name: str, fixture: str):
    npz, meta, state = load_model_fixture(fixture)
    model = create_model(name, num_classes=60, width=256).eval()
    model.load_state_dict(convert_reference_state_dict(name, state), strict=True)
    return model, npz, meta


@pytest.fixture(scope="module")
def cnn():
    return _load("imdar_cnn", "imdar_resnet_c_ntu60")


@pytest.fixture(scope="module")
def fuse5():
    model, npz, meta = _load("imdar_fuse5", "imdar_fuse5_ntu60")
    x = torch.stack([torch.from_numpy(npz[f"input/{k}"]) for k in FUSE5_INPUTS], dim=-1)
    with torch.no_grad():
        feats = model.features(x)
    return model, npz, meta, x, feats


def _close(got: torch.Tensor, want: np.ndarray, atol: float) -> None:
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-4, atol=atol)


@pytest.mark.parametrize("batch", [1, 2, 5])
def test_resnet_c_matches_reference(cnn, batch):
    model, npz, meta = cnn
    rows = BATCH_ROWS[batch]
    x = torch.from_numpy(npz["input/x"][rows])[..., None]  # (N, 3, 112, 112, 1)
    with torch.no_grad():
        out = model(x)
    _close(out, npz["output/logits"][rows], meta["tolerance"]["atol"])


def _check_fuse5(model, npz, meta, feats) -> None:
    with torch.no_grad():
        heads = model.heads(feats)
    rows = list(range(feats[0].shape[0]))
    per = meta["tolerance"]["per_output"]
    for ours, ref in FUSE5_OUTPUTS.items():
        _close(heads[ours], npz[f"output/{ref}"][rows], per[ref]["suggested_atol"])
    for i, ref in enumerate(("feat1", "feat2", "feat3", "feat4", "feat5")):
        _close(feats[i], npz[f"output/{ref}"][:, :, 0, 0][rows], per[ref]["suggested_atol"])


def test_fuse5_matches_reference_all_outputs(fuse5):
    model, npz, meta, x, feats = fuse5
    _check_fuse5(model, npz, meta, feats)
    with torch.no_grad():
        logits = model(x)  # eval forward = the all-five head
    _close(logits, npz["output/out"], meta["tolerance"]["atol"])


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 5])
def test_fuse5_matches_reference_other_batch_sizes(fuse5, batch):
    model, npz, meta, x, _ = fuse5
    rows = BATCH_ROWS[batch]
    with torch.no_grad():
        out = model(x[rows])
    _close(out, npz["output/out"][rows], meta["tolerance"]["per_output"]["out"]["suggested_atol"])


def test_perturbed_weights_fail(cnn, fuse5):
    """The parity checks can fail: a small change to one trunk or head weight breaks them."""
    model, npz, meta = cnn
    x = torch.from_numpy(npz["input/x"])[..., None]
    for param in (model.trunk.stage2[1].bn2.bias, model.head.weight):
        with torch.no_grad():
            saved = param.clone()
            param.add_(0.05 * torch.randn_like(param))
            out = model(x)
            param.copy_(saved)
        with pytest.raises(AssertionError):
            _close(out, npz["output/logits"], meta["tolerance"]["atol"])
    f_model, f_npz, f_meta, _, feats = fuse5
    with torch.no_grad():
        saved = f_model.head_single.weight.clone()
        f_model.head_single.weight.add_(0.05 * torch.randn_like(saved))
        try:
            with pytest.raises(AssertionError):
                _check_fuse5(f_model, f_npz, f_meta, feats)
        finally:
            f_model.head_single.weight.copy_(saved)


def test_training_returns_the_seven_auxiliary_heads():
    model = create_model("imdar_fuse5", num_classes=4, width=4).train()
    out = model(torch.rand(2, 3, 112, 112, 5))
    assert out["logits"].shape == (2, 4) and tuple(out["aux_logits"]) == FUSE5_HEADS
    assert model.eval()(torch.rand(2, 3, 112, 112, 5)).shape == (2, 4)


def test_converter_drops_unused_layers_and_rejects_other_state_dicts():
    ref = {"conv1.0.weight": torch.zeros(8, 3, 3, 3), "convf.weight": torch.zeros(5, 32, 1, 1), "layer3.0.left.0.weight": torch.zeros(1), "fc.bias": torch.zeros(5)}
    out = convert_reference_state_dict("imdar_cnn", ref)
    assert set(out) == {"trunk.stem_conv.weight", "head.weight"} and out["head.weight"].shape == (5, 32)
    with pytest.raises(ValueError, match="not an imdar ResNet_c state dict.*unexpected keys: bogus"):
        convert_reference_state_dict("imdar_cnn", {**ref, "bogus": torch.zeros(1)})
    with pytest.raises(ValueError, match="missing keys: convf1.weight"):
        convert_reference_state_dict("imdar_fuse5", ref)


def test_width_and_image_size_options():
    small = create_model("imdar_cnn", num_classes=3, width=8, image_size=120)
    assert small.input_shape == (3, 120, 120, 1)
    assert small(torch.rand(1, 3, 120, 120, 1)).shape == (1, 3)
    with pytest.raises(ValueError, match="image_size"):
        create_model("imdar_cnn", num_classes=3, image_size=64)
    with pytest.raises(ValueError, match=r"\(N, 3, S, S, 5\)"):
        create_model("imdar_fuse5", num_classes=3, width=4).eval()(torch.rand(1, 3, 112, 112, 1))


def test_parameter_counts_and_info(capsys):
    """The reference's live parameters (reference-notes §0.1); `skelar info` takes constructor arguments."""
    from skelar.cli.main import main
    from skelar.models.profile import count_parameters

    assert count_parameters(create_model("imdar_cnn", num_classes=60, width=256)) == 42_027_264
    assert count_parameters(create_model("imdar_fuse5", num_classes=60, width=256)) == 42_641_664
    assert main(["info", "imdar_fuse5", "--num-classes", "10", "--kwarg", "width=16"]) == 0
    out = capsys.readouterr().out
    assert "parameters   172,304" in out and "FLOPs/sample 0.332 G" in out and "width=16" in out
    assert main(["info", "imdar_cnn", "--kwarg", "width"]) == 2


def test_joint_trunk_is_the_same_function_in_eval_and_normalises_jointly_in_training():
    torch.manual_seed(0)
    a = create_model("imdar_fuse5", num_classes=3, width=4).eval()
    b = create_model("imdar_fuse5", num_classes=3, width=4, joint_trunk=True).eval()
    b.load_state_dict(a.state_dict())
    x = torch.rand(2, 3, 112, 112, 5) * torch.tensor([1.0, 5.0, 0.2, 3.0, 0.5])  # five kinds of image
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x), rtol=1e-4, atol=1e-5)
        a.train()(x), b.train()(x)
    # per-image calls update the running mean five times per batch, the joint call once
    assert not torch.allclose(a.trunk.stem_bn.running_mean, b.trunk.stem_bn.running_mean)
