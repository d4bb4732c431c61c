"""LTSCL pieces beyond the fixtures: the clip transform, the contrastive variants, the model's options and losses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skelar.models import create_model
from skelar.models.ltscl_contrast import PredictionContrast
from skelar.transforms import build_transform


def _seq(t: int, v: int = 5, m: int = 1) -> np.ndarray:
    x = np.zeros((3, t, v, m), np.float32)
    x[:] = np.arange(1, t + 1, dtype=np.float32)[None, :, None, None]  # frame index + 1 in every coordinate
    return x


def test_ltscl_clip_layout_and_targets():
    t = build_transform({"name": "ltscl_clip", "window": 20, "future": 4, "aim_frames": 3, "short": 0, "aim_offset": "fixed"})
    out = t(_seq(12), np.random.default_rng(0))
    assert out.shape == (3, 23, 5, 1)
    frames = out[0, :, 0, 0]
    np.testing.assert_array_equal(frames[:12], np.arange(1, 13))  # observed: the sequence ...
    np.testing.assert_array_equal(frames[12:20], np.arange(1, 9))  # ... repeat-padded: the tiled start;
    # the targets are window frames 16..19 (tiled copies of frames 5..8), the observed part frames 0..15
    # AIM frames: floor(j * (L - future) / n) with L = 12 valid frames, offset 0
    np.testing.assert_array_equal(frames[20:], [1, 3, 6])


def test_ltscl_clip_random_offset_only_when_asked():
    spec = {"name": "ltscl_clip", "window": 40, "future": 10, "aim_frames": 5, "short": 0}
    x = _seq(40)
    fixed = build_transform({**spec, "aim_offset": "fixed"})
    rand = build_transform({**spec, "aim_offset": "random"})
    fixed_draws = {tuple(fixed(x, np.random.default_rng(s))[0, 40:, 0, 0]) for s in range(10)}
    rand_draws = {tuple(rand(x, np.random.default_rng(s))[0, 40:, 0, 0]) for s in range(10)}
    assert len(fixed_draws) == 1 and len(rand_draws) > 1
    with pytest.raises(ValueError, match="aim_offset"):
        build_transform({**spec, "aim_offset": "sometimes"})


def test_faithful_contrast_rewards_pushing_positives_apart():
    torch.manual_seed(0)
    c = PredictionContrast((3, 2, 4), queue_size=8, variant="faithful").eval()
    q = torch.randn(2, 3, 2, 4)
    near, far = c(q, q + 0.01), c(q, q + 1.0)
    assert far < near  # the released objective is lower when the positive pair is far apart


def test_corrected_contrast_rewards_matching_keys_and_uses_only_real_keys():
    torch.manual_seed(0)
    c = PredictionContrast((3, 2, 4), queue_size=6, variant="corrected", temperature=0.1).train()
    q = torch.randn(2, 3, 2, 4)
    assert float(c(q, q)) == pytest.approx(0.0, abs=1e-6)  # no negatives stored yet: nothing to contrast
    assert int(c.queue_count) == 2 and int(c.queue_ptr) == 2
    torch.testing.assert_close(c.queue[:2], q)
    c.eval()
    k_other = torch.randn(2, 3, 2, 4)
    assert c(q, q + 0.01) < c(q, q + 1.0)
    for _ in range(3):
        c.train()(k_other, k_other)
    assert int(c.queue_count) == 6 and int(c.queue_ptr) == 2  # wrapped around


def test_faithful_queue_pointer_moves_before_writing():
    c = PredictionContrast((1,), queue_size=4, variant="faithful").train()
    keys = torch.tensor([[5.0], [6.0]])
    c(keys, keys)
    assert int(c.queue_ptr) == 2
    torch.testing.assert_close(c.queue[2:], keys)


def _tiny(**kw):
    torch.manual_seed(0)
    return create_model("ltscl", num_classes=4, layout="ucla20", num_persons=1, input_frames=12, aim_frames=4,
                        base_channels=8, aim_hidden=8, queue_size=16, **kw)


def test_model_returns_prediction_and_the_active_losses():
    m = _tiny().train()
    x = torch.randn(2, *m.input_shape)
    out = m(x)
    assert out["pred"].shape == (2, 3, 10, 20) and set(out["aux_losses"]) == {"aim_nll", "aim_kl", "recon", "contrastive"}
    m.set_active_losses({"aim_nll", "aim_kl"})
    out = m(x)
    assert set(out["aux_losses"]) == {"aim_nll", "aim_kl"} and not out["logits"].any()  # the backbone is skipped
    m.set_active_losses({"cls", "recon"})
    assert set(m(x)["aux_losses"]) == {"recon"}
    with pytest.raises(ValueError, match="frames"):
        m(torch.randn(2, 3, 10, 20, 1))


def test_recon_loss_is_the_mse_to_the_target_frames():
    m = _tiny().train()
    m.set_active_losses({"cls", "recon"})
    x = torch.randn(2, *m.input_shape)
    out = m(x)
    target = x[:, :, 12:22, :, 0]
    torch.testing.assert_close(out["aux_losses"]["recon"], torch.mean((out["pred"] - target) ** 2))


def test_variants_set_the_four_options():
    f, c = _tiny(variant="faithful"), _tiny(variant="corrected")
    assert f.options == {"contrast": "faithful", "coord_mixing": True, "momentum_in_eval": True, "aim_eval_sampling": "gumbel"}
    assert c.options == {"contrast": "corrected", "coord_mixing": False, "momentum_in_eval": False, "aim_eval_sampling": "argmax"}
    assert _tiny(variant="faithful", contrast="corrected").contrast.variant == "corrected"
    x = torch.randn(2, *c.input_shape)
    with torch.no_grad():
        torch.testing.assert_close(c.eval()(x)["logits"], c(x)["logits"])  # corrected evaluation is deterministic
    with pytest.raises(ValueError, match="variant"):
        _tiny(variant="other")


def test_backbone_only_ablation_has_no_prediction_branch():
    m = _tiny(predict=False).train()
    out = m(torch.randn(2, *m.input_shape))
    assert "pred" not in out and set(out["aux_losses"]) == {"aim_nll", "aim_kl"}
    assert not any(n.startswith(("backbone.recon", "contrast")) for n, _ in m.named_parameters())
