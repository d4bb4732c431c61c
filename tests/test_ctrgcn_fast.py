"""CTR-GCN's fast (channels-last, fused) forward computes the literal form's function.

Compared in float64, where re-associated sums agree to ~1e-12: outputs, SF-Head auxiliary losses,
every gradient, BatchNorm running statistics and batch counters, in training and eval mode. The fp32
fixture parity of the default (fast) form is in ``test_ctrgcn.py``.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from skelar.models import create_model
from skelar.models.ctrgcn_fast import batch_norm_rows


def _pair(**kwargs):
    torch.manual_seed(0)
    literal = create_model("ctrgcn", num_classes=5, layout="ucla20", fast=False, **kwargs).double()
    with torch.no_grad():  # a non-zero refinement weight, so the learned topology matters
        for name, p in literal.named_parameters():
            if name.endswith("alpha"):
                p.fill_(0.6)
    fast = copy.deepcopy(literal).set_fast(True)
    return literal, fast


def _loss(model, x, y):
    out = model(x)
    if isinstance(out, dict):
        return F.cross_entropy(out["logits"], y) + sum(out["aux_losses"].values()), out
    return F.cross_entropy(out, y), out


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"adaptive": False}, {"sf_head": [1, 5, 8], "sf_losses": ["f_rl", "f_cl"]}],
    ids=["plain", "fixed_graph", "sf_head"],
)
def test_fast_equals_literal_in_float64(kwargs):
    literal, fast = _pair(**kwargs)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(3, 3, 16, 20, 1, generator=gen, dtype=torch.float64)
    y = torch.tensor([0, 3, 4])
    for _ in range(2):  # two steps: the second runs on updated running statistics
        for m in (literal, fast):
            m.zero_grad(set_to_none=True)
        loss_l, out_l = _loss(literal, x, y)
        loss_f, out_f = _loss(fast, x, y)
        loss_l.backward()
        loss_f.backward()
        assert loss_f.item() == pytest.approx(loss_l.item(), rel=1e-12)
        if isinstance(out_l, dict):
            for k in out_l["aux_losses"]:
                assert out_f["aux_losses"][k].item() == pytest.approx(out_l["aux_losses"][k].item(), rel=1e-10)
        for (name, p_l), (_, p_f) in zip(literal.named_parameters(), fast.named_parameters()):
            assert (p_l.grad is None) == (p_f.grad is None), name
            if p_l.grad is not None:
                torch.testing.assert_close(p_f.grad, p_l.grad, rtol=1e-9, atol=1e-11, msg=name)
    state_l, state_f = literal.state_dict(), fast.state_dict()
    for k in state_l:
        torch.testing.assert_close(state_f[k], state_l[k], rtol=1e-12, atol=1e-14, msg=k)
    literal.eval()
    fast.eval()
    with torch.no_grad():
        torch.testing.assert_close(fast(x), literal(x), rtol=1e-10, atol=1e-10)


def test_unit_hooks_see_the_canonical_layout():
    model = create_model("ctrgcn", num_classes=5, layout="ucla20").eval()
    seen = []
    model.l5.register_forward_hook(lambda m, i, o: seen.append((tuple(i[0].shape), tuple(o.shape))))
    with torch.no_grad():
        model(torch.randn(2, 3, 16, 20, 1))
    assert seen == [((2, 64, 16, 20), (2, 128, 8, 20))]  # (B, C, T, V) in and out, as in the literal form


def test_set_fast_switches_every_unit():
    model = create_model("ctrgcn", num_classes=5, layout="ucla20")
    assert model.fast and all(u.fast for u in model.units())
    model.set_fast(False)
    assert not model.fast and not any(u.fast for u in model.units())


@pytest.mark.parametrize("momentum", [0.1, None])
def test_fused_batch_norm_updates_each_module(momentum):
    torch.manual_seed(0)
    a, b = nn.BatchNorm2d(3, momentum=momentum), nn.BatchNorm2d(5, momentum=momentum)
    for bn in (a, b):
        nn.init.normal_(bn.weight)
        nn.init.normal_(bn.bias)
    a2, b2 = copy.deepcopy(a), copy.deepcopy(b)
    x = torch.randn(4, 6, 7, 8, dtype=torch.float32)  # (B, T, V, C) channels-last
    for _ in range(3):
        fused = batch_norm_rows(x, [a, b])
        sep = torch.cat([a2(x[..., :3].permute(0, 3, 1, 2)), b2(x[..., 3:].permute(0, 3, 1, 2))], 1).permute(0, 2, 3, 1)
        torch.testing.assert_close(fused, sep, rtol=1e-5, atol=1e-5)
    for bn, ref in ((a, a2), (b, b2)):
        assert int(bn.num_batches_tracked) == int(ref.num_batches_tracked) == 3
        torch.testing.assert_close(bn.running_mean, ref.running_mean)
        torch.testing.assert_close(bn.running_var, ref.running_var)
    a.eval(), b.eval(), a2.eval(), b2.eval()
    sep = torch.cat([a2(x[..., :3].permute(0, 3, 1, 2)), b2(x[..., 3:].permute(0, 3, 1, 2))], 1).permute(0, 2, 3, 1)
    torch.testing.assert_close(batch_norm_rows(x, [a, b]), sep, rtol=1e-5, atol=1e-5)


def test_fused_batch_norm_needs_one_momentum():
    with pytest.raises(ValueError, match="momentum"):
        batch_norm_rows(torch.randn(2, 3, 4, 5), [nn.BatchNorm2d(2, momentum=0.1), nn.BatchNorm2d(3, momentum=0.2)])
