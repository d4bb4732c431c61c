"""impSGN — Improved Semantic-Guided Network (acvai/impSGN), a port of ``model_impSGN.py`` + ``ms_tcn_TP1.py``.

Same function and parameters as the reference (reference-notes §2.2) in the default, *faithful*
configuration. The reference's quirks are named constructor options (defaults reproduce them):

* ``tcn_axis="joints"``: the multi-scale "temporal" convolution runs along the joint axis, because
  the reference feeds it ``(N, C, V, T)`` tensors; ``"time"`` runs it along frames.
* ``double_residual=True``: each block adds its residual twice (before the MS-TCN and at the end);
  ``False`` adds it once, at the end of the block.
* ``gcn_zero_init=False``: the GCN ``W`` weights keep the normal init (the reference zeroes them in
  the blocks, then its top-level init loop overwrites them); ``True`` starts them at zero, as SGN does.
* ``double_norm=True``: a second BatchNorm over (channel, joint) + ReLU after the GCN stack, which
  already ends in BN + ReLU (reference ``norm_act``); ``False`` drops it.
* ``trim_velocity=True``: both velocity streams are zero on the last two frames (the first-order one
  could be computed at ``T-2``); ``False`` computes it there.

``"impsgn_corrected"`` is registered with all five corrections. Layout-generic: the relative-joint
stream uses ``layout.center``; bones use the impSGN parent list on ``ntu25`` (root SpineMid, which
differs from the layout's own parents) and the layout's parents elsewhere; the per-joint velocity
weights follow the reference's index formula (see :func:`velocity_weights`).

Implementation: activations are channels-last ``(N, T, V, C)`` as in :mod:`skelar.models.sgn`, whose
embedding, graph and GCN blocks are reused; the input streams are computed without Python loops.
Reference state dicts are mapped with :func:`convert_impsgn_state_dict`.
"""

from __future__ import annotations

import math
import re
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from skelar.layouts import get_layout
from skelar.models.registry import key_mismatch_error, register_model
from skelar.models.sgn import _add, CoordinateEmbedding, FrameModule, GraphConv, JointGraph, SemanticEmbedding

__all__ = [
    "ImpSGN",
    "MultiScaleTCN",
    "STAttBlock",
    "IMPSGN_NTU_PARENTS",
    "CORRECTED",
    "velocity_weights",
    "multi_input_streams",
    "convert_impsgn_state_dict",
]

# bone parents of model_impSGN.py (0-based): NTU joints rooted at SpineMid (1); SpineShoulder (20) hangs from it
IMPSGN_NTU_PARENTS = (1, 1, 20, 2, 20, 4, 5, 6, 20, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18, 1, 22, 7, 24, 11)

# the corrections applied by the "impsgn_corrected" model
CORRECTED = dict(tcn_axis="time", double_residual=False, gcn_zero_init=True, double_norm=False, trim_velocity=False)

_BONE_EPS = 1e-4  # reference: acos(b / (|b| + 1e-4))

# glibc serves allocations above 32 MiB (its largest dynamic mmap threshold) with fresh mmaps, whose page
# faults cost ~30% of CPU inference time at batch 64; eval batches are cut so temporaries stay below it
_ALLOC_LIMIT = 32 * 2**20


def velocity_weights(num_joints: int) -> list[float]:
    """Per-joint velocity weights: ``w_0 = 1``, ``w_1 = 2``, ``w_v = 2v - 1`` for ``v >= 2``.

    This is the reference's index formula (its list for 25 NTU joints is ``[1, 2, 3, 5, ..., 47]``),
    applied to any number of joints.
    """
    return [float(max(v + 1, 2 * v - 1)) for v in range(num_joints)]


def multi_input_streams(
    x: torch.Tensor, center: int, parents: torch.Tensor, vel_weights: torch.Tensor, trim_velocity: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The four 6-channel input streams of impSGN from coordinates ``x (N, T, C, V)``.

    Returns ``(joint, velocity, bone, velocity_prime)``, each ``(N, T, 2C, V)``:
    ``joint = [x ; x - x_center]``, ``velocity = [x(t+1) - x(t) ; x(t+2) - x(t)]`` (zero on the last two
    frames; with ``trim_velocity=False`` the first-order part is also computed at ``T-2``),
    ``bone = [b ; acos(b / (|b| + 1e-4))]`` with ``b = x - x_parent``, ``velocity_prime = velocity * w_v``.
    """
    t = x.shape[1]
    joint = torch.cat([x, x - x[..., center : center + 1]], dim=2)
    first = x[:, 1:] - x[:, :-1]
    second = x[:, 2:] - x[:, :-2]
    first = F.pad(first[:, : t - 2] if trim_velocity else first, (0, 0, 0, 0, 0, 2 if trim_velocity else 1))
    velocity = torch.cat([first, F.pad(second, (0, 0, 0, 0, 0, 2))], dim=2)
    bone = x - x.index_select(3, parents)
    length = bone.square().sum(dim=2, keepdim=True).sqrt() + _BONE_EPS
    bone = torch.cat([bone, torch.acos(bone / length)], dim=2)
    return joint, velocity, bone, velocity * vel_weights


class JointChannelNorm(nn.Module):
    """BatchNorm over every (joint, channel) pair, statistics over samples and frames (reference ``norm_act``'s BN).

    Feature ``v * C + c`` of the internal ``BatchNorm1d(V * C)`` is channel ``c`` at joint ``v``
    (the reference orders them ``c * V + v``; the converter permutes).
    """

    def __init__(self, channels: int, num_joints: int):
        super().__init__()
        self.bn = nn.BatchNorm1d(num_joints * channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, T, V, C)`` -> ``(N, T, V, C)``."""
        n, t, v, c = x.shape
        return self.bn(x.reshape(n * t, v * c)).view(n, t, v, c)


class AxisConv(nn.Module):
    """A 1-D convolution along the joint or the frame axis of ``(N, T, V, C)`` features (weights ``(C_out, C_in, k)``)."""

    def __init__(self, channels: int, kernel_size: int, dilation: int, axis: str):
        super().__init__()
        if axis not in ("joints", "time"):
            raise ValueError(f"tcn_axis must be 'joints' or 'time', got {axis!r}")
        self.axis = axis
        self.dilation = dilation
        self.padding = (kernel_size - 1) * dilation // 2
        self.conv = nn.Conv1d(channels, channels, kernel_size, dilation=dilation, padding=self.padding)

    def kernel(self, weight: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int], tuple[int, int]]:
        """4-d kernel, padding and dilation for ``F.conv2d`` on ``(N, C, T, V)``."""
        if self.axis == "joints":
            return weight.unsqueeze(2), (0, self.padding), (1, self.dilation)
        return weight.unsqueeze(3), (self.padding, 0), (self.dilation, 1)

    def forward(self, x: torch.Tensor, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None) -> torch.Tensor:
        """``(N, T, V, C)`` -> ``(N, T, V, C)``; ``weight``/``bias`` override the module's (BN folding)."""
        w, pad, dil = self.kernel(self.conv.weight if weight is None else weight)
        b = self.conv.bias if weight is None else bias
        y = F.conv2d(x.permute(0, 3, 1, 2), w, b, padding=pad, dilation=dil)
        return y.permute(0, 2, 3, 1)


def _bn_affine(bn: nn.modules.batchnorm._BatchNorm) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode BatchNorm as ``y = x * scale + shift``."""
    scale = torch.rsqrt(bn.running_var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight
    shift = -bn.running_mean * scale
    if bn.bias is not None:
        shift = shift + bn.bias
    return scale, shift


def _folds(bn: nn.modules.batchnorm._BatchNorm) -> bool:
    return not bn.training and bn.running_mean is not None


def _fold_conv(conv: nn.Conv1d, bn: nn.modules.batchnorm._BatchNorm) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of ``bn(conv(x))`` as one convolution (eval mode)."""
    scale, shift = _bn_affine(bn)
    bias = conv.bias * scale + shift if conv.bias is not None else shift
    return conv.weight * scale[:, None, None], bias


def _pointwise(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``F.linear`` on ``(N, T, V, C)`` features, run as a 1x1 convolution of the channels-last view.

    Same product; oneDNN's convolution is markedly faster than ``addmm`` for these tall-skinny
    shapes on CPU (forward and backward).
    """
    return F.conv2d(x.permute(0, 3, 1, 2), weight[:, :, None, None], bias).permute(0, 2, 3, 1)


class _DenseGrad(torch.autograd.Function):
    """Identity whose backward makes the incoming gradient contiguous.

    ``torch.cat``'s backward hands each input a strided slice of the output gradient; the
    channels-last BatchNorm and convolution backward kernels are much slower on such slices than a
    copy into a dense tensor is.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return grad.contiguous()


def _dense_grad(x: torch.Tensor) -> torch.Tensor:
    return _DenseGrad.apply(x) if torch.is_grad_enabled() and x.requires_grad else x


class _PerCallMemo:
    """Mixin: ``_memo(key, fn)`` caches ``fn()`` while the owning model runs one chunked forward.

    Folded and concatenated weights depend only on parameters, so the chunks of one eval forward
    share them; outside such a call (``_memo_store is None``) nothing is cached.
    """

    _memo_store: dict | None = None

    def _memo(self, key: str, fn):
        store = self._memo_store
        if store is None:
            return fn()
        if key not in store:
            store[key] = fn()
        return store[key]


class MultiScaleTCN(_PerCallMemo, nn.Module):
    """MS-G3D style multi-scale convolution (reference ``MultiScale_TemporalConv``) on ``(N, T, V, C)``.

    ``len(dilations) + 2`` branches of ``out // branches`` channels: ``1x1 -> BN -> ReLU -> conv(k,
    dilation d) -> BN`` per dilation, ``1x1 -> BN -> ReLU -> max-pool(3) -> BN``, ``1x1 -> BN``; their
    concatenation plus a residual (``1x1 -> BN`` when ``in != out``, else identity) -> ReLU. The
    branch 1x1 convolutions and the residual one share their input, so they run as one product
    (``proj``) with one BatchNorm (``proj_bn``; BatchNorm is per channel, so this is exact).
    ``axis`` picks the axis of the k-tap convolutions and the pool.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, dilations: Sequence[int] = (1, 2, 3, 4), axis: str = "joints"):
        super().__init__()
        num_branches = len(dilations) + 2
        if out_channels % num_branches:
            raise ValueError(f"MultiScaleTCN: out_channels ({out_channels}) must be a multiple of the {num_branches} branches")
        bc = out_channels // num_branches
        self.branch_channels, self.num_dilations = bc, len(dilations)
        self.residual_conv = in_channels != out_channels
        width = num_branches * bc + (out_channels if self.residual_conv else 0)
        self.proj = nn.Linear(in_channels, width)
        self.proj_bn = nn.BatchNorm1d(width)
        self.convs = nn.ModuleList(AxisConv(bc, kernel_size, d, axis) for d in dilations)
        self.conv_bns = nn.ModuleList(nn.BatchNorm2d(bc) for _ in dilations)
        self.pool_bn = nn.BatchNorm2d(bc)
        self.axis = axis

    def _project(self, x: torch.Tensor) -> tuple[torch.Tensor, bool]:
        """The shared 1x1 product (+ BatchNorm). Returns it and whether the last branch is merged.

        In eval mode with a residual convolution, the last branch (``1x1 -> BN``, no ReLU) and the
        residual rows it is added to are both affine in ``x``, so their weights are summed: the
        product then has ``bc`` fewer columns and its layout is ``[branches 1..nd+1, last + its
        residual, residual of branches 1..nd+1]``.
        """
        if not _folds(self.proj_bn):
            y = _pointwise(x, self.proj.weight, self.proj.bias)
            return self.proj_bn(y.reshape(-1, y.shape[-1])).view(y.shape), False
        w, b, merged = self._memo("proj", self._folded_proj)
        return _pointwise(x, w, b), merged

    def _folded_proj(self) -> tuple[torch.Tensor, torch.Tensor, bool]:
        scale, shift = _bn_affine(self.proj_bn)
        w, b = self.proj.weight * scale[:, None], self.proj.bias * scale + shift
        if not self.residual_conv:
            return w, b, False
        bc, nd = self.branch_channels, self.num_dilations
        head, last, res = (nd + 1) * bc, slice((nd + 1) * bc, (nd + 2) * bc), (nd + 2) * bc
        w = torch.cat([w[:head], w[last] + w[res + head :], w[res : res + head]])
        b = torch.cat([b[:head], b[last] + b[res + head :], b[res : res + head]])
        return w, b, True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, T, V, C_in)`` -> ``(N, T, V, C_out)``."""
        bc, nd = self.branch_channels, self.num_dilations
        y, merged = self._project(x)
        rest = y.shape[-1] - (nd + 2) * bc  # residual columns (none with an identity residual)
        parts = y.split([bc] * (nd + 2) + ([rest] if rest else []), dim=-1)
        outs = []
        for i, (conv, bn) in enumerate(zip(self.convs, self.conv_bns)):
            xi = F.relu(parts[i])  # a contiguous copy of the branch: what the convolution wants
            if _folds(bn):
                outs.append(conv(xi, *self._memo(f"conv{i}", lambda conv=conv, bn=bn: _fold_conv(conv.conv, bn))))
            else:
                outs.append(_dense_grad(bn(conv(xi).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)))
        kernel, pad = ((1, 3), (0, 1)) if self.axis == "joints" else ((3, 1), (1, 0))
        pooled = F.max_pool2d(F.relu(parts[nd]).permute(0, 3, 1, 2), kernel, stride=1, padding=pad)
        if _folds(self.pool_bn):
            scale, shift = self._memo("pool", lambda: _bn_affine(self.pool_bn))
            outs.append(torch.addcmul(shift, pooled.permute(0, 2, 3, 1), scale))
        else:
            outs.append(_dense_grad(self.pool_bn(pooled).permute(0, 2, 3, 1)))
        outs.append(parts[nd + 1])
        out = torch.cat(outs, dim=-1)
        if merged:  # eval: the last branch already holds its residual
            out[..., : (nd + 1) * bc] += parts[nd + 2]
        else:
            out += parts[nd + 2] if self.residual_conv else x
        return out.relu_()


class STAttBlock(_PerCallMemo, nn.Module):
    """Joint-level block (reference ``Spatial_Temporal_Att_Block``) on ``(N, T, V, C)``.

    ``res = 1x1(x)``; adaptive graph ``G`` from ``x``; three GCNs; [BN over (c, v) + ReLU]; ``+ res``
    [only when ``double_residual``]; MS-TCN to ``tcn_channels``; ``1x1`` back to ``out``; ``+ res``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_joints: int,
        dim: int = 256,
        tcn_channels: int = 252,
        tcn_axis: str = "joints",
        double_residual: bool = True,
        double_norm: bool = True,
        bias: bool = True,
    ):
        super().__init__()
        self.double_residual = double_residual
        self.residual = nn.Linear(in_channels, out_channels, bias=bias)
        self.graph = JointGraph(in_channels, dim, bias=bias)
        self.gcn1 = GraphConv(in_channels, dim // 2, bias=bias)
        self.gcn2 = GraphConv(dim // 2, dim, bias=bias)
        self.gcn3 = GraphConv(dim, out_channels, bias=bias)
        self.norm_act = JointChannelNorm(out_channels, num_joints) if double_norm else None
        self.mstcn = MultiScaleTCN(out_channels, tcn_channels, axis=tcn_axis)
        self.upsample = nn.Linear(tcn_channels, out_channels, bias=bias)

    def forward(self, x: torch.Tensor, joint_const: torch.Tensor | None = None) -> torch.Tensor:
        """``(N, T, V, C_x)`` -> ``(N, T, V, C_out)``.

        ``joint_const (V, C')``: further input channels, the same for every sample and frame (the
        joint-type embedding); the block input is then ``cat([x, joint_const])``.
        """
        if self.graph.fast:
            res, y = self._joint_level_fused(x, joint_const)
        else:
            if joint_const is not None:
                x = torch.cat([x, joint_const.expand(*x.shape[:3], -1)], dim=-1)
            res = self.residual(x)
            g = self.graph(x)
            y = self.gcn3(self.gcn2(self.gcn1(x, g), g), g)
        if self.norm_act is not None:
            bn = self.norm_act.bn
            if _folds(bn):
                n, t, v, c = y.shape
                scale, shift = self._memo("norm_act", lambda: _bn_affine(bn))
                y = torch.addcmul(shift.view(v, c), y, scale.view(v, c)).relu_()
            else:
                y = F.relu(self.norm_act(y))
        if self.double_residual:
            y = _add(y, res)
        return _add(_pointwise(self.mstcn(y), self.upsample.weight, self.upsample.bias), res)

    def _joint_level_fused(self, x: torch.Tensor, joint_const: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Residual, graph and GCN stack with the same math as the modules' fast forwards, in fewer passes.

        The block input feeds four linear maps (GCN-1's ``W`` and ``W1``, the residual, the graph
        query): they run as one product. Constant joint channels enter that product as a per-joint
        bias, computed once. Splits use ``split``, so their backward is one concatenation.
        """
        n, t, v, cx = x.shape
        h1, cout = self.gcn1.self_proj.out_features, self.residual.out_features
        c = self.residual.in_features
        # without autograd the logits' per-row shift s_v (constant along the softmax) is left out: G is the same
        shift = torch.is_grad_enabled()
        w, b, fold1 = self._memo("input", lambda: self._input_weights(x.shape[-1], joint_const, shift))
        y = _pointwise(x, w, None if b.dim() > 1 else b)
        if b.dim() > 1:  # per-joint bias from the constant channels
            y = y + b if torch.is_grad_enabled() else y.add_(b)  # no in-place op on a view under autograd
        gw, gs, res, q, *qs = y.split([h1, h1, cout, c] + [1] * shift, dim=-1)
        # graph logits q_v . z_w (+ s_v), z = [x ; joint_const]
        base = qs[0].reshape(n * t, v, 1) if shift else None
        if joint_const is not None:
            const = (q[..., cx:] @ joint_const.t()).reshape(n * t, v, v)
            base = const if base is None else base + const
        qx, xt = q[..., :cx].reshape(n * t, v, cx), x.reshape(n * t, v, cx).transpose(1, 2)
        logits = torch.bmm(qx, xt) if base is None else torch.baddbmm(base, qx, xt)
        g = torch.softmax(logits, dim=-1)
        z = _gcn_finish(self.gcn1, gw, gs, g, fold1)
        for name, gcn in (("gcn2", self.gcn2), ("gcn3", self.gcn3)):
            w, b, fold = self._memo(name, lambda gcn=gcn: _gcn_weights(gcn))
            half, cin = w.shape[0] // 2, w.shape[1]
            if cin < half and fold:
                # widening GCN with BatchNorm folded in: mix the (fewer) input channels, W (G z) + W1 z = [W | W1] [G z ; z]
                wide = self._memo(name + "_wide", lambda w=w: torch.cat([w[:half], w[half:]], dim=1))
                mixed = torch.bmm(g, z.reshape(n * t, v, cin)).view(n, t, v, cin)
                y = _pointwise(torch.cat([mixed, z], dim=-1), wide, b[half:])
                z = y.relu_() if not torch.is_grad_enabled() else F.relu(y)
                continue
            if torch.is_grad_enabled():  # two products: cheaper backward than one product and a split
                gw, gs = _pointwise(z, w[:half]), _pointwise(z, w[half:], b[half:])
            else:
                gw, gs = _pointwise(z, w, b).split(half, dim=-1)
            z = _gcn_finish(gcn, gw, gs, g, fold)
        return res, z

    def _input_weights(self, cx: int, joint_const: torch.Tensor | None, shift: bool = True) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """The block input's four maps as one ``(rows, C_x)`` weight; the bias is per joint ``(V, rows)`` with constant channels.

        ``shift=False`` drops the graph query's last row (the logits' per-row shift, which cannot change ``G``).
        """
        w1, b1, fold1 = _gcn_weights(self.gcn1)
        wq, bq = _graph_query(self.graph)
        if not shift:
            wq, bq = wq[:-1], bq[:-1]
        rb = self.residual.bias if self.residual.bias is not None else b1.new_zeros(self.residual.out_features)
        w, b = torch.cat([w1, self.residual.weight, wq]), torch.cat([b1, rb, bq])
        if joint_const is None:
            return w, b, fold1
        return w[:, :cx], F.linear(joint_const, w[:, cx:], b), fold1


def _graph_query(graph: JointGraph) -> tuple[torch.Tensor, torch.Tensor]:
    """``JointGraph``'s fast form as one linear map ``x -> [q ; s]`` with ``logits = q_v . x_w + s_v`` (C + 1 outputs)."""
    a_w, a_b = graph.theta.weight, graph.theta.bias
    b_w, b_b = graph.phi.weight, graph.phi.bias
    c = a_w.shape[1]
    b_ext = torch.cat([b_w, b_b[:, None] if b_b is not None else b_w.new_zeros(b_w.shape[0], 1)], dim=1)  # (dim, C+1)
    weight = b_ext.t() @ a_w  # (C+1, C)
    bias = b_ext.t() @ a_b if a_b is not None else a_w.new_zeros(c + 1)
    return weight, bias


def _gcn_weights(gcn: GraphConv) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """``[W ; W1]`` and bias of a GCN (BatchNorm folded in when it uses running statistics)."""
    out = gcn.self_proj.out_features
    w = torch.cat([gcn.graph_proj.weight, gcn.self_proj.weight])
    b = gcn.self_proj.bias if gcn.self_proj.bias is not None else w.new_zeros(out)
    fold = _folds(gcn.bn)
    if fold:
        scale, shift = _bn_affine(gcn.bn)
        w = w * torch.cat([scale, scale])[:, None]
        b = b * scale + shift
    return w, torch.cat([b.new_zeros(out), b]), fold


def _gcn_finish(gcn: GraphConv, gw: torch.Tensor, gs: torch.Tensor, g: torch.Tensor, folded: bool) -> torch.Tensor:
    """``ReLU(BN(G @ (W x) + W1 x))`` from the two halves of the GCN's product."""
    n, t, v, out = gw.shape
    y = torch.baddbmm(gs.reshape(n * t, v, out), g, gw.reshape(n * t, v, out))
    if not folded:
        y = gcn.bn(y.view(-1, out))
    return y.relu_().view(n, t, v, out)  # in place on the base tensor, not on a view (cheaper backward)


class ImpSGN(nn.Module):
    """impSGN for ``(N, 3, seg, V, 1)`` clips; returns logits ``(N, num_classes)``.

    Args:
        num_classes: number of action classes.
        layout: joint layout name; ``V`` is its number of joints, ``layout.center`` the joint the
            relative stream subtracts (SpineMid on ``ntu25``, as the reference).
        seg: frames per clip.
        num_persons: must be 1; fold persons into time with the ``interleave_persons`` transform.
        tcn_axis, double_residual, gcn_zero_init, double_norm, trim_velocity: the reference's quirks
            (module docstring); defaults reproduce them.
        bone_parents: ``None`` (impSGN's parents on ``ntu25``, the layout's elsewhere), ``"layout"``,
            ``"reference"`` (``ntu25`` only) or an explicit list of ``V`` parent indices.
        joint_velocity_weights: ``V`` weights of the ``velocity_prime`` stream (default
            :func:`velocity_weights`).
        bias: biases in the 1x1 convolutions (reference ``bias``).
        dropout: channel dropout in the frame-level module.
        fast: algebraically rewritten forward (default) or the literal one (see :mod:`skelar.models.sgn`).
        eval_chunk: largest batch run at once without autograd in eval mode (default: so that no
            temporary exceeds 32 MiB, 16 clips on ``ntu25``; 0 disables chunking).
    """

    def __init__(
        self,
        num_classes: int = 60,
        layout: str = "ntu25",
        seg: int = 20,
        num_persons: int = 1,
        tcn_axis: str = "joints",
        double_residual: bool = True,
        gcn_zero_init: bool = False,
        double_norm: bool = True,
        trim_velocity: bool = True,
        bone_parents: str | Sequence[int] | None = None,
        joint_velocity_weights: Sequence[float] | None = None,
        bias: bool = True,
        dropout: float = 0.2,
        fast: bool = True,
        eval_chunk: int | None = None,
    ):
        super().__init__()
        if num_persons != 1:
            raise ValueError(f"impSGN takes one person per frame (num_persons=1), got {num_persons}; fold persons into time with the 'interleave_persons' transform")
        for key, val in (("num_classes", num_classes), ("seg", seg)):
            if not isinstance(val, int) or isinstance(val, bool) or val < 1:
                raise ValueError(f"impSGN: {key} must be a positive integer, got {val!r}")
        if seg < 3:
            raise ValueError(f"impSGN: seg must be at least 3 (second-order velocity), got {seg}")
        if tcn_axis not in ("joints", "time"):
            raise ValueError(f"impSGN: tcn_axis must be 'joints' or 'time', got {tcn_axis!r}")
        lay = get_layout(layout)
        v = lay.num_joints
        self.num_classes, self.layout, self.seg, self.num_joints = num_classes, layout, seg, v
        self.input_shape = (3, seg, v, 1)
        self.center = lay.center
        self.trim_velocity = trim_velocity
        self.register_buffer("parents", torch.tensor(_resolve_parents(bone_parents, lay), dtype=torch.long), persistent=False)
        weights = velocity_weights(v) if joint_velocity_weights is None else [float(w) for w in joint_velocity_weights]
        if len(weights) != v:
            raise ValueError(f"impSGN: joint_velocity_weights has {len(weights)} entries, layout {layout!r} has {v} joints")
        self.register_buffer("vel_weights", torch.tensor(weights), persistent=False)

        dim = 256
        self.joint_embed = CoordinateEmbedding(v, 6, 64, bias=bias)
        self.velocity_embed = CoordinateEmbedding(v, 6, 64, bias=bias)
        self.bone_embed = CoordinateEmbedding(v, 6, 64, bias=bias)
        self.velocity_prime_embed = CoordinateEmbedding(v, 6, 64, bias=bias)
        self.joint_type_embed = SemanticEmbedding(v, 64, bias=bias)  # reference: spa_embed
        self.frame_embed = SemanticEmbedding(seg, 2 * dim, bias=bias)  # reference: tem_embed
        opts = dict(num_joints=v, dim=dim, tcn_axis=tcn_axis, double_residual=double_residual, double_norm=double_norm, bias=bias)
        self.blocks = nn.ModuleList([STAttBlock(128, dim, **opts), STAttBlock(dim, dim, **opts), STAttBlock(dim, 2 * dim, **opts)])
        self.frame_module = FrameModule(2 * dim, 2 * dim, seg, bias=bias, dropout=dropout)  # reference: cnn
        self.fc = nn.Linear(2 * dim, num_classes)
        if eval_chunk is None:  # widest temporary: the last block's fused product, 4 bytes per value
            widest = dim + 2 * dim + dim + 1
            eval_chunk = max(1, _ALLOC_LIMIT // (seg * v * widest * 4))
        if not isinstance(eval_chunk, int) or isinstance(eval_chunk, bool) or eval_chunk < 0:
            raise ValueError(f"impSGN: eval_chunk must be a non-negative integer (0: no chunking), got {eval_chunk!r}")
        self.eval_chunk = eval_chunk
        self._reset_parameters(gcn_zero_init)
        self.set_fast(fast)

    def _reset_parameters(self, gcn_zero_init: bool) -> None:
        # reference init: every conv weight ~ N(0, sqrt(2 / (kernel_size * out_channels))), out_channels being
        # that of the reference conv (the fused MS-TCN projection holds 6 branch convs and the residual conv)
        for m in self.modules():
            if m is self.fc:
                continue
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / m.out_features))
            elif isinstance(m, (nn.Conv1d, nn.Conv2d)):
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / (math.prod(m.kernel_size) * m.out_channels)))
        for block in self.blocks:
            tcn = block.mstcn
            with torch.no_grad():
                nb = (tcn.num_dilations + 2) * tcn.branch_channels
                tcn.proj.weight[:nb].normal_(0.0, math.sqrt(2.0 / tcn.branch_channels))
                if tcn.residual_conv:
                    tcn.proj.weight[nb:].normal_(0.0, math.sqrt(2.0 / (tcn.proj.out_features - nb)))
            if gcn_zero_init:
                for gcn in (block.gcn1, block.gcn2, block.gcn3):
                    nn.init.zeros_(gcn.graph_proj.weight)

    def set_fast(self, fast: bool) -> "ImpSGN":
        """Switch between the rewritten (fast) and the literal forward; parameters are shared."""
        self.fast = bool(fast)
        for block in self.blocks:
            for m in (block.graph, block.gcn1, block.gcn2, block.gcn3):
                m.fast = self.fast
        return self

    def _check_input(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"impSGN expects input (N, C, T, V, M) = (N, {', '.join(map(str, self.input_shape))}), got shape {tuple(x.shape)}")
        return x[..., 0]

    def streams(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The four input streams ``(joint, velocity, bone, velocity_prime)``, each ``(N, T, 6, V)``, of a canonical input."""
        x = self._check_input(x).transpose(1, 2)  # (N, T, C, V)
        return multi_input_streams(x, self.center, self.parents, self.vel_weights, self.trim_velocity)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Output of the joint-level blocks, ``(N, T, V, 512)``."""
        joint, velocity, bone, velocity_prime = self.streams(x)
        dy = self.joint_embed(joint)
        for embed, stream in ((self.velocity_embed, velocity), (self.bone_embed, bone), (self.velocity_prime_embed, velocity_prime)):
            dy = _add(dy, embed(stream))
        n, t, v, _ = dy.shape
        if self.fast:  # joint semantics are concatenated: constant channels (V, 64) of the first block's input
            z = self.blocks[0](dy, self.joint_type_embed.table())
        else:
            joint_type = self.joint_type_embed(torch.eye(v, dtype=dy.dtype, device=dy.device).expand(n, t, v, v))
            z = self.blocks[0](torch.cat([dy, joint_type], dim=-1))  # (N, T, V, 128)
        for block in self.blocks[1:]:
            z = block(z)
        return z

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, seg, V, 1)`` -> logits ``(N, num_classes)``.

        Without autograd in eval mode, batches larger than ``eval_chunk`` run in chunks of that size
        (samples are independent there; same result, much less time in page faults).
        """
        n, chunk = x.shape[0], self.eval_chunk
        if not (chunk and n > chunk and not self.training and not torch.is_grad_enabled() and not _tracing()):
            return self._logits(x)
        memos = [m for m in self.modules() if isinstance(m, _PerCallMemo)]
        for m in memos:  # weights are folded once for all chunks
            m._memo_store = {}
        try:
            return torch.cat([self._logits(x[i : i + chunk]) for i in range(0, n, chunk)])
        finally:
            for m in memos:
                m._memo_store = None

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        z = self.features(x)
        n, t, v, _ = z.shape
        if self.fast:
            # the frame embedding is constant over joints, so it can be added after the max over joints
            # max's backward is a scatter (cheaper than amax's); without autograd amax skips the indices
            pooled = (z.max(dim=2).values if torch.is_grad_enabled() else z.amax(dim=2)) + self.frame_embed.table()
        else:
            onehot = torch.eye(t, dtype=z.dtype, device=z.device)[None, :, None, :].expand(n, t, v, t)
            pooled = (z + self.frame_embed(onehot)).amax(dim=2)
        feat = self.frame_module(pooled.transpose(1, 2))  # (N, 512, T)
        return self.fc(feat.amax(dim=2))


def _tracing() -> bool:
    """True while TorchScript tracing, ONNX export or torch.compile captures the graph (no Python-level batching then)."""
    return torch.jit.is_tracing() or torch.onnx.is_in_onnx_export() or torch.compiler.is_compiling()


def _resolve_parents(spec: str | Sequence[int] | None, lay) -> list[int]:
    v = lay.num_joints
    if spec is None:
        spec = "reference" if lay.name == "ntu25" else "layout"
    if isinstance(spec, str):
        if spec == "layout":
            return list(lay.parents)
        if spec == "reference":
            if v != len(IMPSGN_NTU_PARENTS):
                raise ValueError(f"impSGN: bone_parents='reference' is the 25-joint NTU list; layout {lay.name!r} has {v} joints")
            return list(IMPSGN_NTU_PARENTS)
        raise ValueError(f"impSGN: bone_parents must be None, 'layout', 'reference' or a list of {v} joint indices, got {spec!r}")
    parents = [int(p) for p in spec]
    if len(parents) != v or any(not 0 <= p < v for p in parents):
        raise ValueError(f"impSGN: bone_parents must list {v} joint indices in [0, {v}), got {list(spec)!r}")
    return parents


# ----------------------------------------------------------------------------------------------------------
# reference state-dict conversion

_BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
_STREAMS = {"joint_embed": "joint_embed", "velocity_embed": "velocity_embed", "bone_embed": "bone_embed", "velocity_prime_embed": "velocity_prime_embed"}


def _strip_module(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k[len("module.") :] if k.startswith("module.") else k: v for k, v in state_dict.items()}


def _joint_major(value: torch.Tensor, channels: int, key: str) -> torch.Tensor:
    """Reference (c, v) BatchNorm order ``c * V + v`` -> ours ``v * C + c``."""
    if value.dim() == 0:
        return value
    if value.numel() % channels:
        raise ValueError(f"impSGN reference key {key!r}: size {value.numel()} is not a multiple of {channels} channels")
    return value.reshape(channels, -1).t().reshape(-1)


def convert_impsgn_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map an acvai/impSGN ``impSGN`` state dict onto :class:`ImpSGN` (faithful options; strict).

    Accepts ``module.``-prefixed keys (DataParallel checkpoints). Raises ``ValueError`` listing
    missing and unexpected keys, or naming a key whose shape cannot be converted.
    """
    src = _strip_module(state_dict)
    used: set[str] = set()
    out: dict[str, torch.Tensor] = {}
    missing: list[str] = []

    def take(key: str) -> torch.Tensor | None:
        if key not in src:
            missing.append(key)
            return None
        used.add(key)
        return src[key]

    def linear(ref: str, ours: str, has_bias: bool = True) -> None:
        w = take(ref + ".weight")
        if w is not None:
            if w.dim() != 4 or w.shape[2:] != (1, 1):
                raise ValueError(f"impSGN reference key {ref + '.weight'!r}: expected a 1x1 conv weight, got shape {tuple(w.shape)}")
            out[ours + ".weight"] = w.reshape(w.shape[0], w.shape[1])
        if has_bias:
            b = take(ref + ".bias")
            if b is not None:
                out[ours + ".bias"] = b

    def bn(ref: str, ours: str, joint_major: int | None = None) -> None:
        for name in _BN:
            val = take(f"{ref}.{name}")
            if val is not None:
                out[f"{ours}.{name}"] = _joint_major(val, joint_major, f"{ref}.{name}") if joint_major else val

    for ref_name, ours in _STREAMS.items():
        bn(f"{ref_name}.cnn.0.bn", f"{ours}.norm")  # same (c * V + v) order as CoordinateEmbedding
        linear(f"{ref_name}.cnn.1.cnn", f"{ours}.fc1")
        linear(f"{ref_name}.cnn.3.cnn", f"{ours}.fc2")
    for ref_name, ours in (("spa_embed", "joint_type_embed"), ("tem_embed", "frame_embed")):
        linear(f"{ref_name}.cnn.0.cnn", f"{ours}.fc1")
        linear(f"{ref_name}.cnn.2.cnn", f"{ours}.fc2")

    blocks = sorted({int(m.group(1)) for k in src if (m := re.match(r"stab_modules\.(\d+)\.", k))})
    if blocks != [0, 1, 2]:
        missing.append(f"stab_modules.0-2 (found blocks {blocks})")
        blocks = [b for b in blocks if b in (0, 1, 2)]
    for i in blocks:
        r, o = f"stab_modules.{i}", f"blocks.{i}"
        linear(f"{r}.residual", f"{o}.residual")
        linear(f"{r}.upsampling", f"{o}.upsample")
        linear(f"{r}.compute_g1.g1.cnn", f"{o}.graph.theta")
        linear(f"{r}.compute_g1.g2.cnn", f"{o}.graph.phi")
        for k in (1, 2, 3):
            linear(f"{r}.gcn{k}.w.cnn", f"{o}.gcn{k}.graph_proj", has_bias=False)
            linear(f"{r}.gcn{k}.w1.cnn", f"{o}.gcn{k}.self_proj")
            bn(f"{r}.gcn{k}.bn", f"{o}.gcn{k}.bn")
        out_channels = src.get(f"{r}.upsampling.weight", torch.empty(1)).shape[0]
        bn(f"{r}.bn_relu.bn", f"{o}.norm_act.bn", joint_major=out_channels)
        _convert_mstcn(f"{r}.mstcn", f"{o}.mstcn", take, out)
    bn("cnn.bn1", "frame_module.bn1")
    bn("cnn.bn2", "frame_module.bn2")
    for ref_name, ours in (("cnn.cnn1", "frame_module.temporal"), ("cnn.cnn2", "frame_module.pointwise")):
        w, b = take(ref_name + ".weight"), take(ref_name + ".bias")
        if w is not None:
            if w.dim() != 4 or w.shape[2] != 1:
                raise ValueError(f"impSGN reference key {ref_name + '.weight'!r}: expected a (1, k) conv weight, got shape {tuple(w.shape)}")
            out[ours + ".weight"] = w[:, :, 0, :]
        if b is not None:
            out[ours + ".bias"] = b
    for name in ("weight", "bias"):
        val = take(f"fc.{name}")
        if val is not None:
            out[f"fc.{name}"] = val

    unexpected = sorted(set(src) - used)
    if missing or unexpected:
        raise key_mismatch_error("an acvai/impSGN state dict", unexpected, list(missing))
    return out


def _convert_mstcn(ref: str, ours: str, take, out: dict[str, torch.Tensor]) -> None:
    """Six branch 1x1 convs + residual 1x1 -> one ``proj``; dilated convs -> ``convs``; pool BN -> ``pool_bn``."""
    ws, bs, bns = [], [], []
    for j in range(6):
        ws.append(take(f"{ref}.branches.{j}.0.weight"))
        bs.append(take(f"{ref}.branches.{j}.0.bias"))
        bns.append(f"{ref}.branches.{j}.1")
    ws.append(take(f"{ref}.residual.conv.weight"))
    bs.append(take(f"{ref}.residual.conv.bias"))
    bns.append(f"{ref}.residual.bn")
    if all(w is not None for w in ws) and all(b is not None for b in bs):
        for j, w in enumerate(ws):
            if w.dim() != 4 or w.shape[2:] != (1, 1):
                raise ValueError(f"impSGN reference key {ref}.branches.{j}.0.weight: expected a 1x1 conv weight, got shape {tuple(w.shape)}")
        out[f"{ours}.proj.weight"] = torch.cat([w.reshape(w.shape[0], w.shape[1]) for w in ws])
        out[f"{ours}.proj.bias"] = torch.cat(bs)
    parts = {name: [take(f"{p}.{name}") for p in bns] for name in _BN}
    for name, vals in parts.items():
        if all(v is not None for v in vals):
            out[f"{ours}.proj_bn.{name}"] = vals[0] if name == "num_batches_tracked" else torch.cat(vals)
    for j in range(4):
        w, b = take(f"{ref}.branches.{j}.3.conv.weight"), take(f"{ref}.branches.{j}.3.conv.bias")
        if w is not None:
            if w.dim() != 4 or w.shape[3] != 1:
                raise ValueError(f"impSGN reference key {ref}.branches.{j}.3.conv.weight: expected a (k, 1) conv weight, got shape {tuple(w.shape)}")
            out[f"{ours}.convs.{j}.conv.weight"] = w[..., 0]
        if b is not None:
            out[f"{ours}.convs.{j}.conv.bias"] = b
        for name in _BN:
            val = take(f"{ref}.branches.{j}.3.bn.{name}")
            if val is not None:
                out[f"{ours}.conv_bns.{j}.{name}"] = val
    for name in _BN:
        val = take(f"{ref}.branches.4.4.{name}")
        if val is not None:
            out[f"{ours}.pool_bn.{name}"] = val


register_model("impsgn", converter=convert_impsgn_state_dict, description="impSGN (faithful port of acvai/impSGN): multi-input SGN with MS-TCN blocks, 3.49M params")(ImpSGN)
register_model(
    "impsgn_corrected",
    description="impSGN with the reference's quirks corrected (MS-TCN over time, one residual, no double BN, zero-init GCN W, full velocity)",
    **CORRECTED,
)(ImpSGN)
