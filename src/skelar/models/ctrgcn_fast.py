"""CTR-GCN's fast forward: the same function as the literal modules, re-expressed for CPU speed.

Activations stay channels-last, ``(B, T, V, C)`` contiguous, so every 1×1 convolution is one matrix
product (``F.linear``) and every BatchNorm a 2-D ``(rows, C)`` batch norm. Re-expressions (exact up to
float summation order; :mod:`tests.test_ctrgcn_fast` compares them with the literal form):

* CTRGC's ``conv1``/``conv2`` are linear, so ``mean_T(conv(x)) = conv(mean_T(x))``: they run on the
  ``(B, V, C)`` temporal mean, all subsets in one product;
* ``conv3`` of all subsets is one product; the subset sum ``Σ_s value_s · topology_sᵀ`` is one batched
  product with the subsets stacked along the contraction axis;
* MS-TCN's four branch 1×1 convolutions (three when the strided branch is separate) are one product,
  and BatchNorms of parallel branches run as one batch norm over their concatenated channels (each
  module's running statistics and ``num_batches_tracked`` are updated as its own forward would).

The functions here read the parameters of :mod:`skelar.models.ctrgcn`'s modules; they own no state.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["batch_norm_rows", "gcn_forward", "tcn_forward", "linear_1x1"]


def linear_1x1(x: torch.Tensor, conv: nn.Conv2d, stride: int = 1) -> torch.Tensor:
    """A 1×1 ``conv`` (temporal ``stride``) on channels-last ``(B, T, V, C)``."""
    if stride > 1:
        x = x[:, ::stride]
    return F.linear(x, conv.weight.flatten(1), conv.bias)


class _ContiguousGrad(torch.autograd.Function):
    """Identity whose backward hands on a contiguous gradient.

    BatchNorm's CPU backward is about 9× slower on a strided gradient, which is what the channel
    slices of a later ``cat`` deliver.
    """

    @staticmethod
    def forward(ctx: "torch.autograd.function.FunctionCtx", x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx: "torch.autograd.function.FunctionCtx", grad: torch.Tensor) -> torch.Tensor:
        return grad.contiguous()


def _bn_factor(bn: nn.modules.batchnorm._BatchNorm) -> float:
    """Count the batch as BatchNorm's own forward does; return its running-average factor."""
    if not (bn.training and bn.track_running_stats):
        return 0.0
    assert bn.num_batches_tracked is not None
    bn.num_batches_tracked.add_(1)
    return 1.0 / float(bn.num_batches_tracked) if bn.momentum is None else float(bn.momentum)


def batch_norm_rows(x: torch.Tensor, bns: Sequence[nn.modules.batchnorm._BatchNorm]) -> torch.Tensor:
    """BatchNorm over the last axis of ``x`` (channels-last), channels split among ``bns`` in order."""
    first = bns[0]
    factors = {_bn_factor(b) for b in bns}
    if len(factors) != 1 or len({b.eps for b in bns}) != 1:
        raise ValueError("batch_norm_rows: the fused BatchNorms need one momentum and one eps")
    use_batch_stats = first.training or first.running_mean is None
    rows = x.reshape(-1, x.shape[-1])
    if len(bns) == 1:
        y = F.batch_norm(rows, first.running_mean, first.running_var, first.weight, first.bias, use_batch_stats, factors.pop(), first.eps)
        return _ContiguousGrad.apply(y.view(x.shape))
    stats = first.running_mean is not None
    mean = torch.cat([b.running_mean for b in bns]) if stats else None  # type: ignore[misc]
    var = torch.cat([b.running_var for b in bns]) if stats else None  # type: ignore[misc]
    weight = torch.cat([b.weight for b in bns]) if first.affine else None  # type: ignore[misc]
    bias = torch.cat([b.bias for b in bns]) if first.affine else None  # type: ignore[misc]
    y = F.batch_norm(rows, mean, var, weight, bias, use_batch_stats, factors.pop(), first.eps)
    if stats and first.training and first.track_running_stats:
        with torch.no_grad():
            start = 0
            for b in bns:
                c = b.num_features
                b.running_mean.copy_(mean[start : start + c])  # type: ignore[index,union-attr]
                b.running_var.copy_(var[start : start + c])  # type: ignore[index,union-attr]
                start += c
    return _ContiguousGrad.apply(y.view(x.shape))


def gcn_forward(gcn: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """:class:`UnitGCN` on channels-last ``x`` ``(B, T, V, C_in)``; returns ``(B, T, V, C_out)``."""
    b, t, v, _ = x.shape
    convs = gcn.convs
    s = len(convs)
    rel_ch = convs[0].conv1.out_channels
    c_out = convs[0].conv3.out_channels
    # relation features from the temporal mean: all subsets' conv1 and conv2 in one product
    w_qk = torch.cat([c.conv1.weight.flatten(1) for c in convs] + [c.conv2.weight.flatten(1) for c in convs])
    b_qk = torch.cat([c.conv1.bias for c in convs] + [c.conv2.bias for c in convs])
    qk = F.linear(x.mean(1), w_qk, b_qk).view(b, v, 2, s, rel_ch)  # (B, V, q|k, S, r)
    q, k = qk[:, :, 0].permute(0, 2, 3, 1), qk[:, :, 1].permute(0, 2, 3, 1)  # (B, S, r, V)
    rel_t = torch.tanh(q.unsqueeze(-2) - k.unsqueeze(-1))  # (B, S, r, V(v), U(u)): tanh(q_u - k_v)
    # topologyᵀ = α·conv4(rel)ᵀ + Aᵀ with α folded into conv4's (small) weight and bias
    w4 = torch.stack([c.conv4.weight.flatten(1) for c in convs]) * gcn.alpha  # (S, C, r)
    b4 = torch.stack([c.conv4.bias for c in convs]) * gcn.alpha  # (S, C)
    a = gcn.PA if gcn.adaptive else gcn.A
    shift = (b4.view(s, c_out, 1, 1) + a.transpose(-1, -2).unsqueeze(1)).transpose(0, 1)  # (C, S, V(v), U(u))
    refinement_t = torch.matmul(w4, rel_t.flatten(3)).view(b, s, c_out, v, v).transpose(1, 2)
    # shift first: the sum takes its (C, S, V, U) order, so the result is contiguous in that order
    topology_t = (shift.contiguous() + refinement_t).reshape(b * c_out, s * v, v)
    # values of all subsets in one product, laid out (B, C, T, S, V) for the aggregation
    w3 = torch.cat([c.conv3.weight.flatten(1) for c in convs])
    b3 = torch.cat([c.conv3.bias for c in convs])
    value = F.linear(x, w3, b3).view(b, t, v, s, c_out).permute(0, 4, 1, 3, 2).reshape(b * c_out, t, s * v)
    y = torch.bmm(value, topology_t).view(b, c_out, t, v).permute(0, 2, 3, 1).contiguous()  # (B, T, U, C)
    y = batch_norm_rows(y, [gcn.bn])
    if isinstance(gcn.down, nn.Sequential):
        y = y + batch_norm_rows(linear_1x1(x, gcn.down[0]), [gcn.down[1]])
    else:
        y = y + x
    return torch.relu(y)


def _temporal(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """A ``(k, 1)`` convolution on channels-last ``(B, T, V, C)`` (no BN); returns channels-last."""
    y = conv(x.contiguous().permute(0, 3, 1, 2))  # a channels_last NCHW view: oneDNN's channels-last path
    return y.permute(0, 2, 3, 1).contiguous()


def tcn_forward(tcn: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """:class:`MultiScaleTemporalConv` on channels-last ``x``; returns channels-last ``(B, T', V, C)``."""
    branches = list(tcn.branches)
    dilated, pool, strided = branches[:-2], branches[-2], branches[-1]
    stride = int(strided[0].stride[0])
    heads = [br[0] for br in dilated] + [pool[0]]  # the 1×1 convolutions at the start of each branch
    head_bns = [br[1] for br in dilated] + [pool[1]]
    if stride == 1:
        heads.append(strided[0])
        head_bns.append(strided[1])
    w = torch.cat([h.weight.flatten(1) for h in heads])
    bias = torch.cat([h.bias for h in heads])
    h = batch_norm_rows(F.linear(x, w, bias), head_bns)
    bc = heads[0].out_channels
    relu = torch.relu(h[..., : (len(dilated) + 1) * bc])
    outs = [_temporal(relu[..., i * bc : (i + 1) * bc], br[3].conv) for i, br in enumerate(dilated)]
    p = relu[..., len(dilated) * bc :].contiguous().permute(0, 3, 1, 2)
    mp = pool[3]
    outs.append(F.max_pool2d(p, mp.kernel_size, mp.stride, mp.padding).permute(0, 2, 3, 1))
    y = batch_norm_rows(torch.cat(outs, dim=-1), [br[3].bn for br in dilated] + [pool[4]])
    last = h[..., (len(dilated) + 1) * bc :] if stride == 1 else batch_norm_rows(linear_1x1(x, strided[0], stride), [strided[1]])
    return torch.cat([y, last], dim=-1)
