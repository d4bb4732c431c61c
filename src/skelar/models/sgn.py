"""SGN — Semantics-Guided Neural Network (Zhang et al., CVPR 2020), a port of microsoft/SGN ``model.py``.

Same function and parameters as the reference (reference-notes §1.3), with these differences:

* Input is the canonical ``(N, 3, seg, V, 1)`` instead of ``(N, seg, V*3)``; persons must already be
  folded into time (transform ``interleave_persons``), as the reference's data pipeline does.
* Any batch size works: the joint-type and frame-index one-hot codes are not materialised per sample.
  Their embedding MLP is evaluated once on the V (or T) one-hot rows and broadcast (the reference
  builds one-hot tensors of a fixed batch size, so it can only run at that batch size).
* Activations are kept channels-last, ``(N, T, V, C)``, so every 1x1 convolution is a ``Linear``.
* The default (``fast=True``) forward uses exact algebraic rewrites of the same function (see
  :class:`JointGraph` and :class:`GraphConv`); ``fast=False`` runs the literal layer-by-layer
  formulation, one-hot codes included (the FLOP count of the paper's architecture). Both share one
  state dict and are tested against each other and against the reference fixture.

Reference state dicts are mapped with :func:`convert_sgn_state_dict` (registered as the converter).
"""

from __future__ import annotations

import math
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from skelar.layouts import get_layout
from skelar.models.registry import key_mismatch_error, register_model

__all__ = ["SGN", "convert_sgn_state_dict"]


# reference key prefix -> (our prefix, kind); kind says how to reshape conv weights
_SGN_KEY_MAP: list[tuple[str, str, str]] = [
    ("tem_embed.cnn.0.cnn.", "frame_embed.fc1.", "linear"),
    ("tem_embed.cnn.2.cnn.", "frame_embed.fc2.", "linear"),
    ("spa_embed.cnn.0.cnn.", "joint_type_embed.fc1.", "linear"),
    ("spa_embed.cnn.2.cnn.", "joint_type_embed.fc2.", "linear"),
    ("joint_embed.cnn.0.bn.", "joint_embed.norm.", "bn"),
    ("joint_embed.cnn.1.cnn.", "joint_embed.fc1.", "linear"),
    ("joint_embed.cnn.3.cnn.", "joint_embed.fc2.", "linear"),
    ("dif_embed.cnn.0.bn.", "motion_embed.norm.", "bn"),
    ("dif_embed.cnn.1.cnn.", "motion_embed.fc1.", "linear"),
    ("dif_embed.cnn.3.cnn.", "motion_embed.fc2.", "linear"),
    ("compute_g1.g1.cnn.", "graph.theta.", "linear"),
    ("compute_g1.g2.cnn.", "graph.phi.", "linear"),
    *[(f"gcn{i}.{src}", f"gcn{i}.{dst}", kind) for i in (1, 2, 3) for src, dst, kind in (("bn.", "bn.", "bn"), ("w.cnn.", "graph_proj.", "linear_nobias"), ("w1.cnn.", "self_proj.", "linear"))],
    ("cnn.cnn1.", "frame_module.temporal.", "conv1d"),
    ("cnn.bn1.", "frame_module.bn1.", "bn"),
    ("cnn.cnn2.", "frame_module.pointwise.", "conv1d"),
    ("cnn.bn2.", "frame_module.bn2.", "bn"),
    ("fc.", "fc.", "fc"),
]
_SUFFIXES = {
    "linear": ("weight", "bias"),
    "linear_nobias": ("weight",),
    "conv1d": ("weight", "bias"),
    "fc": ("weight", "bias"),
    "bn": ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"),
}
# conv biases exist only when the reference model was built with bias=True (gcn*.w never has one: "linear_nobias")
_OPTIONAL_BIAS = {"linear", "conv1d"}


def _reshape(key: str, kind: str, name: str, value: torch.Tensor) -> torch.Tensor:
    if name != "weight" or kind in ("bn", "fc"):
        return value
    kind = "linear" if kind == "linear_nobias" else kind
    if value.dim() != 4:
        raise ValueError(f"SGN reference key {key!r}: expected a 4-d conv weight, got shape {tuple(value.shape)}")
    if kind == "linear":
        if value.shape[2:] != (1, 1):
            raise ValueError(f"SGN reference key {key!r}: expected a 1x1 conv weight, got shape {tuple(value.shape)}")
        return value.reshape(value.shape[0], value.shape[1])
    if value.shape[2] != 1:
        raise ValueError(f"SGN reference key {key!r}: expected a (1, k) conv weight, got shape {tuple(value.shape)}")
    return value.reshape(value.shape[0], value.shape[1], value.shape[3])


def convert_sgn_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map a microsoft/SGN ``model.py`` state dict onto :class:`SGN` names and shapes (strict).

    Raises ``ValueError`` listing unexpected and missing keys. The reference built with ``bias=False``
    (no conv biases) is accepted too; then build our model with ``bias=False``.
    """
    out: dict[str, torch.Tensor] = {}
    unexpected: list[str] = []
    for key, value in state_dict.items():
        for src, dst, kind in _SGN_KEY_MAP:
            name = key[len(src):]
            if key.startswith(src) and name in _SUFFIXES[kind]:
                out[dst + name] = _reshape(key, kind, name, value)
                break
        else:
            unexpected.append(key)
    has_bias = any(key.startswith(src) and key.endswith(".bias") for key in state_dict for src, _, kind in _SGN_KEY_MAP if kind in _OPTIONAL_BIAS)
    missing = [
        src + name
        for src, _, kind in _SGN_KEY_MAP
        for name in _SUFFIXES[kind]
        if src + name not in state_dict
        and not (name == "bias" and kind in _OPTIONAL_BIAS and not has_bias)
    ]
    if unexpected or missing:
        raise key_mismatch_error("a microsoft/SGN state dict", unexpected, missing)
    return out


def _add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a + b``, in place when autograd is off (``a`` is a fresh temporary)."""
    return a.add_(b) if not torch.is_grad_enabled() else a + b


class SemanticEmbedding(nn.Module):
    """Embedding of an index (joint type or frame number): the reference's ``embed(norm=False)`` on one-hot codes.

    The reference applies ``1x1 conv -> ReLU -> 1x1 conv -> ReLU`` to one-hot vectors. A linear layer
    applied to the one-hot of ``i`` is column ``i`` of its weight plus the bias, so :meth:`table`
    computes all ``num`` embeddings at once, ``(num, dim)``, without any one-hot tensor.
    """

    def __init__(self, num: int, dim: int, hidden: int = 64, bias: bool = True):
        super().__init__()
        self.fc1 = nn.Linear(num, hidden, bias=bias)
        self.fc2 = nn.Linear(hidden, dim, bias=bias)

    def table(self) -> torch.Tensor:
        """Embedding of every index, ``(num, dim)``."""
        h = self.fc1.weight.t()
        if self.fc1.bias is not None:
            h = h + self.fc1.bias
        return F.relu(self.fc2(F.relu(h)))

    def forward(self, onehot: torch.Tensor) -> torch.Tensor:
        """The literal MLP on one-hot codes ``(..., num)`` -> ``(..., dim)``."""
        return F.relu(self.fc2(F.relu(self.fc1(onehot))))


class CoordinateEmbedding(nn.Module):
    """BatchNorm over (coordinate, joint) channels, then ``Linear -> ReLU -> Linear -> ReLU`` (reference ``embed(norm=True)``).

    The BatchNorm channel of coordinate ``c`` at joint ``v`` is ``c * V + v`` (reference ``norm_data``);
    statistics are taken over samples and frames.
    """

    def __init__(self, num_joints: int, in_channels: int = 3, dim: int = 64, hidden: int = 64, bias: bool = True):
        super().__init__()
        self.norm = nn.BatchNorm1d(in_channels * num_joints)
        self.fc1 = nn.Linear(in_channels, hidden, bias=bias)
        self.fc2 = nn.Linear(hidden, dim, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, T, C, V)`` coordinates -> ``(N, T, V, dim)`` features."""
        n, t, c, v = x.shape
        x = self.norm(x.reshape(n * t, c * v)).view(n, t, c, v).transpose(2, 3)
        inplace = not torch.is_grad_enabled()  # in place only without autograd (outputs may be views)
        return F.relu(self.fc2(F.relu(self.fc1(x), inplace=inplace)), inplace=inplace)


class JointGraph(nn.Module):
    """Data-dependent joint graph per frame: ``G = softmax_w(theta(z_v) . phi(z_w))``, ``(N, T, V, V)`` (reference ``compute_g_spa``).

    No ``1/sqrt(d)`` scaling, as in the reference. The fast form uses
    ``(A z_v + a).(B z_w + b) = [u_v, d_v] . [z_w, 1]`` with ``u_v = B^T (A z_v + a)`` and
    ``d_v = b . (A z_v + a)``: one ``C -> C+1`` projection per position instead of two ``C -> 256``
    ones (``B^T A`` is formed once per forward). ``d_v`` is constant along the softmax axis, so it
    cannot change ``G``; it is kept so the function (and its zero-sum gradient) is exactly the
    reference's. Input channels that are constant over samples and frames (the joint-type
    embedding) are projected once per forward, not once per position.
    """

    def __init__(self, in_channels: int, dim: int, bias: bool = True):
        super().__init__()
        self.theta = nn.Linear(in_channels, dim, bias=bias)
        self.phi = nn.Linear(in_channels, dim, bias=bias)
        self.fast = True

    def forward(self, x: torch.Tensor, joint_const: torch.Tensor | None = None) -> torch.Tensor:
        """``(N, T, V, C)`` -> ``(N, T, V, V)``; rows sum to one.

        ``joint_const (V, C')``, if given, are further input channels that are the same for every
        sample and frame (the joint-type embedding); the input is then ``cat([x, joint_const])``.
        """
        n, t, v, cx = x.shape
        parts = [x] if joint_const is None else [x, joint_const.expand(n, t, v, -1)]
        if not self.fast:
            z = torch.cat(parts, dim=-1) if len(parts) > 1 else x
            logits = self.theta(z) @ self.phi(z).transpose(-1, -2)
            return torch.softmax(logits, dim=-1)
        # logits_vw = [u_v, d_v] . [z_w, 1] with u_v = B^T (A z_v + a) and d_v = b . (A z_v + a)
        a_w, a_b = self.theta.weight, self.theta.bias
        right = self.phi.weight if self.phi.bias is None else torch.cat([self.phi.weight, self.phi.bias[:, None]], dim=1)
        mix = right.t() @ a_w  # (C or C+1, C)
        shift = None if a_b is None else a_b @ right
        if joint_const is None:
            u = F.linear(x, mix, shift)
        else:  # the constant channels contribute a per-joint term, computed once
            u = _add(F.linear(x, mix[:, :cx]), F.linear(joint_const, mix[:, cx:], shift))
        if self.phi.bias is not None:
            parts.append(x.new_ones(1, 1, 1, 1).expand(n, t, v, 1))
        z = torch.cat(parts, dim=-1) if len(parts) > 1 else x
        k = z.shape[-1]
        logits = torch.bmm(u.reshape(n * t, v, k), z.reshape(n * t, v, k).transpose(1, 2))
        return torch.softmax(logits, dim=-1).view(n, t, v, v)


class GraphConv(nn.Module):
    """Graph convolution ``Y = ReLU(BN(W (G X) + W1 X))`` on ``(N, T, V, C)`` (reference ``gcn_spa``).

    Fast form: ``W (G X) = G (W X)`` (``G`` mixes joints, ``W`` channels), so the joint mixing runs
    on whichever side has fewer channels, fused with the ``W1 X + b`` term (``baddbmm``/``addmm``)
    on channels-last rows. In eval mode the BatchNorm affine is folded into ``W``, ``W1`` and ``b``.
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True):
        super().__init__()
        self.graph_proj = nn.Linear(in_channels, out_channels, bias=False)  # W, applied to G X
        self.self_proj = nn.Linear(in_channels, out_channels, bias=bias)  # W1
        self.bn = nn.BatchNorm1d(out_channels)
        self.fast = True

    def forward(self, x: torch.Tensor, g: torch.Tensor, joint_const: torch.Tensor | None = None, relu: bool = True) -> torch.Tensor:
        """``x (N, T, V, C)``, ``g (N, T, V, V)`` -> ``(N, T, V, C_out)``.

        ``joint_const (V, C')``: further input channels shared by all samples and frames (input is
        ``cat([x, joint_const])``). ``relu=False`` returns the pre-ReLU (post-BN) value, for callers
        that apply the ReLU after a max-pool (``max(relu(y)) == relu(max(y))``).
        """
        n, t, v, cx = x.shape
        act = F.relu if relu else (lambda y: y)
        if not self.fast:
            if joint_const is not None:
                x = torch.cat([x, joint_const.expand(n, t, v, -1)], dim=-1)
            y = self.graph_proj(g @ x) + self.self_proj(x)
            return act(self.bn(y.reshape(-1, y.shape[-1]))).view(y.shape)
        w, w1, b = self.graph_proj.weight, self.self_proj.weight, self.self_proj.bias
        fold = not self.bn.training and self.bn.running_mean is not None
        if fold:  # eval: BN(y) = y * scale + shift, folded into both projections
            scale = torch.rsqrt(self.bn.running_var + self.bn.eps)
            if self.bn.affine:
                scale = scale * self.bn.weight
            shift = -self.bn.running_mean * scale + (self.bn.bias if self.bn.affine else 0)
            w, w1 = w * scale[:, None], w1 * scale[:, None]
            b = shift if b is None else b * scale + shift
        rows, g = x.reshape(n * t, v, cx), g.reshape(n * t, v, v)
        grad = torch.is_grad_enabled()  # without autograd, accumulate in place (saves a copy of the output)
        if joint_const is None and cx < w.shape[0]:
            # widening layer: mix joints on the narrower input, W (G x), as the reference does
            base = F.linear(rows.view(-1, cx), w1, b)
            gx = torch.bmm(g, rows).view(-1, cx)
            y = torch.addmm(base, gx, w.t()) if grad else base.addmm_(gx, w.t())
        else:
            if joint_const is None:
                y = F.linear(rows, w)
                base = F.linear(rows, w1, b)
            else:  # the constant channels give per-joint terms, projected once
                y = _add(F.linear(rows, w[:, :cx]), F.linear(joint_const, w[:, cx:]))
                base = _add(F.linear(rows, w1[:, :cx]), F.linear(joint_const, w1[:, cx:], b))
            y = torch.baddbmm(base, g, y) if grad else base.baddbmm_(g, y)
        if not fold:
            y = self.bn(y.view(-1, y.shape[-1]))
        return (F.relu(y, inplace=True) if relu else y).view(n, t, v, -1)  # in place on the base, never on a view


class FrameModule(nn.Module):
    """Frame-level module (reference ``local``): max over joints, ``(1x3) conv -> BN -> ReLU -> Dropout -> 1x1 conv -> BN -> ReLU``.

    Quirk of the reference: it max-pools time adaptively to a hard-coded 20 frames, so a model with
    ``seg != 20`` silently resamples time. Here the pooled length is ``pooled_frames`` (default: ``seg``,
    i.e. no temporal pooling); set ``pooled_frames=20`` to reproduce the reference at other ``seg``.
    """

    def __init__(self, in_channels: int, out_channels: int, pooled_frames: int, bias: bool = True, dropout: float = 0.2):
        super().__init__()
        self.pooled_frames = pooled_frames
        self.temporal = nn.Conv1d(in_channels, in_channels, kernel_size=3, padding=1, bias=bias)
        self.bn1 = nn.BatchNorm1d(in_channels)
        self.dropout = nn.Dropout1d(dropout)  # whole channels per sample, as Dropout2d on (N, C, 1, T)
        self.pointwise = nn.Conv1d(in_channels, out_channels, kernel_size=1, bias=bias)
        self.bn2 = nn.BatchNorm1d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Joint-pooled features ``(N, C_in, T)`` -> ``(N, C_out, pooled_frames)``."""
        if x.shape[-1] != self.pooled_frames:
            x = F.adaptive_max_pool1d(x, self.pooled_frames)
        x = self.dropout(F.relu(self.bn1(self.temporal(x))))
        return F.relu(self.bn2(self.pointwise(x)))


@register_model("sgn", converter=convert_sgn_state_dict, description="SGN (Zhang et al. 2020): semantics-guided GCN, 0.69M params, 20-frame one-person clips")
class SGN(nn.Module):
    """SGN for ``(N, 3, seg, V, 1)`` clips; returns logits ``(N, num_classes)``.

    Args:
        num_classes: number of action classes.
        layout: joint layout name; ``V`` is its number of joints.
        seg: frames per clip (the reference's ``seg``).
        num_persons: must be 1; fold persons into time with the ``interleave_persons`` transform.
        bias: biases in all 1x1/temporal convolutions (reference ``bias``).
        dim: channel width of the GCN stack (reference ``dim1=256``).
        pooled_frames: temporal length after the frame-level max-pool (default ``seg``; the reference
            hard-codes 20, which only matters when ``seg != 20``).
        dropout: channel dropout in the frame-level module.
        fast: use the algebraically rewritten forward (same function, fewer FLOPs); ``False`` runs the
            literal layer-by-layer formulation with one-hot codes.
    """

    def __init__(
        self,
        num_classes: int = 60,
        layout: str = "ntu25",
        seg: int = 20,
        num_persons: int = 1,
        bias: bool = True,
        dim: int = 256,
        pooled_frames: int | None = None,
        dropout: float = 0.2,
        fast: bool = True,
    ):
        super().__init__()
        if num_persons != 1:
            raise ValueError(f"SGN takes one person per frame (num_persons=1), got {num_persons}; fold persons into time with the 'interleave_persons' transform")
        for key, val in (("num_classes", num_classes), ("seg", seg), ("dim", dim)):
            if not isinstance(val, int) or val < 1:
                raise ValueError(f"SGN: {key} must be a positive integer, got {val!r}")
        if dim % 4:
            raise ValueError(f"SGN: dim must be divisible by 4, got {dim}")
        if pooled_frames is not None and (not isinstance(pooled_frames, int) or pooled_frames < 1):
            raise ValueError(f"SGN: pooled_frames must be a positive integer or None, got {pooled_frames!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"SGN: dropout must be in [0, 1), got {dropout!r}")
        self.num_classes = num_classes
        self.layout = layout
        self.seg = seg
        self.num_joints = get_layout(layout).num_joints
        self.input_shape = (3, seg, self.num_joints, 1)
        v, half = self.num_joints, dim // 2

        self.joint_embed = CoordinateEmbedding(v, 3, half // 2, bias=bias)  # reference: joint_embed
        self.motion_embed = CoordinateEmbedding(v, 3, half // 2, bias=bias)  # reference: dif_embed
        self.joint_type_embed = SemanticEmbedding(v, half // 2, bias=bias)  # reference: spa_embed
        self.frame_embed = SemanticEmbedding(seg, dim, bias=bias)  # reference: tem_embed
        self.graph = JointGraph(half, dim, bias=bias)  # reference: compute_g1
        self.gcn1 = GraphConv(half, half, bias=bias)
        self.gcn2 = GraphConv(half, dim, bias=bias)
        self.gcn3 = GraphConv(dim, dim, bias=bias)
        self.frame_module = FrameModule(dim, 2 * dim, pooled_frames or seg, bias=bias, dropout=dropout)  # reference: cnn
        self.fc = nn.Linear(2 * dim, num_classes)
        self._reset_parameters()
        self.set_fast(fast)

    def _reset_parameters(self) -> None:
        # reference init: every conv weight ~ N(0, sqrt(2 / (kernel_size * out_channels))); fc keeps defaults;
        # the graph branch of each GCN starts at zero
        for m in self.modules():
            if m is self.fc:
                continue
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / m.out_features))
            elif isinstance(m, nn.Conv1d):
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / (m.kernel_size[0] * m.out_channels)))
        for gcn in (self.gcn1, self.gcn2, self.gcn3):
            nn.init.zeros_(gcn.graph_proj.weight)

    def set_fast(self, fast: bool) -> "SGN":
        """Switch between the rewritten (fast) and the literal forward; parameters are shared."""
        self.fast = bool(fast)
        for m in (self.graph, self.gcn1, self.gcn2, self.gcn3):
            m.fast = self.fast
        return self

    def _check_input(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5:
            raise ValueError(f"SGN expects input (N, C, T, V, M) = (N, {', '.join(map(str, self.input_shape))}), got shape {tuple(x.shape)}")
        if x.shape[4] != 1:
            raise ValueError(f"SGN takes one person per frame (M=1), got M={x.shape[4]}; fold persons into time with the 'interleave_persons' transform")
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"SGN expects input (N, C, T, V, M) = (N, {', '.join(map(str, self.input_shape))}), got shape {tuple(x.shape)}")
        return x[..., 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, seg, V, 1)`` -> logits ``(N, num_classes)``."""
        x = self._check_input(x).transpose(1, 2)  # (N, T, C, V)
        motion = torch.cat([torch.zeros_like(x[:, :1]), x[:, 1:] - x[:, :-1]], dim=1)
        dy = self.joint_embed(x) + self.motion_embed(motion)  # (N, T, V, 64)
        n, t, v, _ = dy.shape
        if self.fast:
            joint_type = self.joint_type_embed.table()  # (V, 64): joint semantics, concatenated to dy
        else:
            onehot = torch.eye(v, dtype=dy.dtype, device=dy.device).expand(n, t, v, v)
            joint_type = self.joint_type_embed(onehot)  # (N, T, V, 64), per position as in the reference
        g = self.graph(dy, joint_type)
        z = self.gcn2(self.gcn1(dy, g, joint_type), g)
        if self.fast:
            # max over joints commutes with the ReLU, and the frame embedding is constant over joints
            z = self.gcn3(z, g, relu=False)
            pooled = z.max(dim=2).values if torch.is_grad_enabled() else z.amax(dim=2)  # max: cheaper backward
            pooled = F.relu(pooled) + self.frame_embed.table()
        else:
            z = self.gcn3(z, g)  # (N, T, V, 256)
            onehot = torch.eye(t, dtype=z.dtype, device=z.device)[None, :, None, :].expand(n, t, v, t)
            pooled = (z + self.frame_embed(onehot)).max(dim=2).values
        feat = self.frame_module(pooled.transpose(1, 2))  # (N, 512, T')
        return self.fc(feat.max(dim=2).values)


