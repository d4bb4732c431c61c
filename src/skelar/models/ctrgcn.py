"""CTR-GCN (Chen et al., ICCV 2021): channel-wise topology refinement GCN, ported from Uason-Chen/CTR-GCN.

Same function and state-dict names as the reference ``model/ctrgcn.py : Model``, for any joint
layout (the graph comes from :func:`skelar.models.graph.spatial_graph`). Optionally an
:class:`~skelar.models.sf_head.SFHead` sits between the GCN and the TCN of chosen units
(``y = relu(tcn(sf(gcn(x))) + residual(x))``, the placement inferred for SF-Head), and the model
can return SF-Head's reconstructed auxiliary losses F-RL / F-CL in training mode.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from skelar.layouts import JointLayout, get_layout
from skelar.models.ctrgcn_fast import batch_norm_rows, gcn_forward, linear_1x1, tcn_forward
from skelar.models.graph import spatial_graph
from skelar.models.registry import register_model
from skelar.models.sf_head import SFHead, SFHeadFeatures
from skelar.models.sf_losses import SF_LOSS_NAMES, sf_head_losses

__all__ = ["CTRGCN", "convert_ctrgcn_state_dict", "NUM_UNITS"]

NUM_UNITS = 10
# (in, out, stride) multipliers of the base width 64 for units l1..l10; l1 takes the input channels
_UNIT_PLAN = [(0, 1, 1), (1, 1, 1), (1, 1, 1), (1, 1, 1), (1, 2, 2), (2, 2, 1), (2, 2, 1), (2, 4, 2), (4, 4, 1), (4, 4, 1)]
# default clip per layout, as in the reference configs: (persons, frames)
_DEFAULT_CLIP = {"ucla20": (1, 52)}
_FALLBACK_CLIP = (2, 64)


def _conv_init(conv: nn.Conv2d) -> None:
    nn.init.kaiming_normal_(conv.weight, mode="fan_out")
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


def _bn_init(bn: nn.modules.batchnorm._BatchNorm, scale: float) -> None:
    nn.init.constant_(bn.weight, scale)
    nn.init.zeros_(bn.bias)


class CTRGC(nn.Module):
    """Channel-wise topology refinement for one adjacency subset.

    Returns ``(refinement, value)``: the channel-wise topology ``conv4(tanh(φ(x)_u − ψ(x)_v))``
    ``(n, C_out, V, V)`` and the transformed features ``conv3(x)`` ``(n, C_out, T, V)``. The owner
    (:class:`UnitGCN`, which holds ``PA`` and ``α``) aggregates ``value`` with ``α·refinement + A``.
    """

    def __init__(self, in_channels: int, out_channels: int, rel_reduction: int = 8) -> None:
        super().__init__()
        # the reference hard-codes 8 relation channels for 3- or 9-channel inputs; small inputs get the same
        rel = 8 if in_channels in (3, 9) or in_channels < 2 * rel_reduction else in_channels // rel_reduction
        self.conv1 = nn.Conv2d(in_channels, rel, 1)
        self.conv2 = nn.Conv2d(in_channels, rel, 1)
        self.conv3 = nn.Conv2d(in_channels, out_channels, 1)
        self.conv4 = nn.Conv2d(rel, out_channels, 1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                _conv_init(m)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        q, k = self.conv1(x).mean(-2), self.conv2(x).mean(-2)  # (n, r, V): means over T
        rel = torch.tanh(q.unsqueeze(-1) - k.unsqueeze(-2))  # (n, r, U, V)
        return self.conv4(rel), self.conv3(x)


class UnitGCN(nn.Module):
    """Sum of CTRGC over the adjacency subsets, BN (init 1e-6), residual ``down`` and ReLU."""

    def __init__(self, in_channels: int, out_channels: int, graph: np.ndarray, adaptive: bool = True) -> None:
        super().__init__()
        self.adaptive = adaptive
        self.num_subsets = graph.shape[0]
        self.convs = nn.ModuleList(CTRGC(in_channels, out_channels) for _ in range(self.num_subsets))
        if in_channels != out_channels:
            self.down = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels))
        else:
            self.down = nn.Identity()
        a = torch.tensor(np.asarray(graph, dtype=np.float32))  # a copy: units must not share storage
        if adaptive:
            self.PA = nn.Parameter(a)
        else:  # fixed graph: not part of the state dict, as in the reference
            self.register_buffer("A", a, persistent=False)
        self.alpha = nn.Parameter(torch.zeros(1))
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                _conv_init(m)
            elif isinstance(m, nn.BatchNorm2d):
                _bn_init(m, 1.0)
        _bn_init(self.bn, 1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.PA if self.adaptive else self.A
        y: torch.Tensor | None = None
        for i, conv in enumerate(self.convs):
            refinement, value = conv(x)
            topology = refinement * self.alpha + a[i]  # (n, c, U, V): weight joint v sends to joint u
            z = torch.matmul(value, topology.transpose(-1, -2))  # (n, c, T, U)
            y = z if y is None else y + z
        assert y is not None
        return self.relu(self.bn(y) + self.down(x))


class TemporalConv(nn.Module):
    """``(k, 1)`` temporal convolution with dilation and stride, then BN."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        pad = (kernel_size + (kernel_size - 1) * (dilation - 1) - 1) // 2
        self.conv = nn.Conv2d(in_channels, out_channels, (kernel_size, 1), padding=(pad, 0), stride=(stride, 1), dilation=(dilation, 1))
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class MultiScaleTemporalConv(nn.Module):
    """MS-TCN without residual: one branch per dilation, a max-pool branch and a strided 1×1 branch, concatenated."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 5, stride: int = 1, dilations: Sequence[int] = (1, 2)) -> None:
        super().__init__()
        num_branches = len(dilations) + 2
        if out_channels % num_branches:
            raise ValueError(f"MS-TCN: out_channels ({out_channels}) must be a multiple of the {num_branches} branches")
        bc = out_channels // num_branches
        branches: list[nn.Module] = [
            nn.Sequential(nn.Conv2d(in_channels, bc, 1), nn.BatchNorm2d(bc), nn.ReLU(), TemporalConv(bc, bc, kernel_size, stride, d))
            for d in dilations
        ]
        branches.append(nn.Sequential(
            nn.Conv2d(in_channels, bc, 1), nn.BatchNorm2d(bc), nn.ReLU(),
            nn.MaxPool2d((3, 1), stride=(stride, 1), padding=(1, 0)), nn.BatchNorm2d(bc),
        ))  # fmt: skip
        branches.append(nn.Sequential(nn.Conv2d(in_channels, bc, 1, stride=(stride, 1)), nn.BatchNorm2d(bc)))
        self.branches = nn.ModuleList(branches)
        for m in self.modules():  # the reference's weights_init
            if isinstance(m, nn.Conv2d):
                _conv_init(m)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([b(x) for b in self.branches], dim=1)


class UnitTCN(nn.Module):
    """Strided ``(k, 1)`` convolution + BN (used as the unit residual when shapes change)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, stride: int = 1) -> None:
        super().__init__()
        pad = (kernel_size - 1) // 2
        self.conv = nn.Conv2d(in_channels, out_channels, (kernel_size, 1), padding=(pad, 0), stride=(stride, 1))
        self.bn = nn.BatchNorm2d(out_channels)
        _conv_init(self.conv)
        _bn_init(self.bn, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class TCNGCNUnit(nn.Module):
    """``relu(tcn1(sf(gcn1(x))) + residual(x))``; ``sf`` is an optional SF-Head (identity when absent)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        graph: np.ndarray,
        stride: int = 1,
        residual: bool = True,
        adaptive: bool = True,
        sf_head_groups: int | None = None,
    ) -> None:
        super().__init__()
        self.gcn1 = UnitGCN(in_channels, out_channels, graph, adaptive=adaptive)
        self.sf = SFHead(out_channels, sf_head_groups) if sf_head_groups else None
        self.tcn1 = MultiScaleTemporalConv(out_channels, out_channels, kernel_size=5, stride=stride, dilations=(1, 2))
        self.relu = nn.ReLU()
        if not residual:
            self.residual: nn.Module | None = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = UnitTCN(in_channels, out_channels, kernel_size=1, stride=stride)
        self.fast = True  # set by CTRGCN.set_fast

    def _forward_channels_last(self, x: torch.Tensor, features: list[SFHeadFeatures] | None) -> torch.Tensor:
        """The unit on ``(B, T, V, C)`` contiguous input and output (:mod:`skelar.models.ctrgcn_fast`)."""
        y = gcn_forward(self.gcn1, x)
        if self.sf is not None:  # SF-Head works on (B, C, T, V)
            y = y.permute(0, 3, 1, 2)
            if features is not None:
                y, f = self.sf.forward_with_features(y)
                features.append(f)
            else:
                y = self.sf(y)
            y = y.permute(0, 2, 3, 1).contiguous()
        y = tcn_forward(self.tcn1, y)
        if isinstance(self.residual, UnitTCN):
            y = y + batch_norm_rows(linear_1x1(x, self.residual.conv, int(self.residual.conv.stride[0])), [self.residual.bn])
        elif self.residual is not None:
            y = y + x
        return torch.relu(y)

    def forward(self, x: torch.Tensor, features: list[SFHeadFeatures] | None = None) -> torch.Tensor:
        """``(B, C, T, V)`` in and out; with ``fast`` the tensors are stored channels-last (``(B, T, V, C)`` memory)."""
        if self.fast:
            return self._forward_channels_last(x.permute(0, 2, 3, 1).contiguous(), features).permute(0, 3, 1, 2)
        y = self.gcn1(x)
        if self.sf is not None:
            if features is not None:
                y, f = self.sf.forward_with_features(y)
                features.append(f)
            else:
                y = self.sf(y)
        y = self.tcn1(y)
        if self.residual is not None:
            y = y + self.residual(x)
        return self.relu(y)


def _sf_units(sf_head: Any) -> list[int]:
    """Normalise the ``sf_head`` option to sorted 1-based unit numbers."""
    if sf_head is None or sf_head is False:
        return []
    if sf_head is True or sf_head == "all":
        return list(range(1, NUM_UNITS + 1))
    if isinstance(sf_head, (str, int)) or not isinstance(sf_head, Iterable):
        raise ValueError(f"sf_head must be None, True, 'all' or a list of unit numbers 1..{NUM_UNITS}, got {sf_head!r}")
    units = list(sf_head)
    bad = [u for u in units if isinstance(u, bool) or not isinstance(u, int) or not 1 <= u <= NUM_UNITS]
    if bad:
        raise ValueError(f"sf_head: unit numbers must be integers 1..{NUM_UNITS} (l1..l{NUM_UNITS}), got {bad}")
    return sorted(set(units))


def _sf_loss_names(sf_losses: Any) -> tuple[str, ...]:
    if sf_losses is None or sf_losses is False:
        return ()
    if sf_losses is True:
        return SF_LOSS_NAMES
    names = (sf_losses,) if isinstance(sf_losses, str) else tuple(sf_losses)
    unknown = [n for n in names if n not in SF_LOSS_NAMES]
    if unknown:
        raise ValueError(f"sf_losses: unknown loss(es) {unknown}; choose from {list(SF_LOSS_NAMES)}")
    return tuple(dict.fromkeys(names))


def _placeholder_layout(num_joints: int) -> JointLayout:
    return JointLayout(name=f"_chain{num_joints}", names=tuple(f"j{i}" for i in range(num_joints)), parents=(0, *range(num_joints - 1)))


def convert_ctrgcn_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map an official CTR-GCN ``Model`` state dict (or checkpoint) onto :class:`CTRGCN` (strict).

    Names are identical; ``module.`` prefixes are dropped. Raises ``ValueError`` listing missing and
    unexpected keys (checked against a CTR-GCN built with the checkpoint's classes, joints, persons
    and input channels); shapes are checked when the result is loaded.
    """
    sd = {k.removeprefix("module."): v for k, v in state_dict.items()}
    for key in ("fc.weight", "data_bn.weight", "l1.gcn1.convs.0.conv3.weight"):
        if key not in sd:
            raise ValueError(f"ctrgcn state dict: missing key {key!r} (is this a CTR-GCN checkpoint?)")
    num_classes = int(sd["fc.weight"].shape[0])
    in_channels = int(sd["l1.gcn1.convs.0.conv3.weight"].shape[1])
    adaptive = "l1.gcn1.PA" in sd
    v = int(sd["l1.gcn1.PA"].shape[-1]) if adaptive else 1
    m = max(1, int(sd["data_bn.weight"].numel()) // (in_channels * v)) if adaptive else 1
    with torch.device("meta"):
        expected = CTRGCN(num_classes, _placeholder_layout(v), num_persons=m, in_channels=in_channels, adaptive=adaptive).state_dict()
    missing = sorted(set(expected) - set(sd))
    unexpected = sorted(set(sd) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"ctrgcn state dict does not match CTR-GCN: {len(missing)} missing key(s) {missing[:5]}, "
            f"{len(unexpected)} unexpected key(s) {unexpected[:5]}"
        )
    return sd


@register_model("ctrgcn", converter=convert_ctrgcn_state_dict, description="CTR-GCN (Chen et al. 2021), 1.45M params at 60 classes; optional SF-Head plug-in")
class CTRGCN(nn.Module):
    """CTR-GCN on ``(N, C, T, V, M)``; returns logits ``(N, num_classes)``.

    Args:
        num_classes: output classes.
        layout: joint layout name (graph and ``V`` come from it).
        num_persons: ``M`` (size of the input BatchNorm); default 1 for ``ucla20``, else 2.
        in_channels: ``C``.
        num_frames: ``T`` reported in ``input_shape`` only (the network is length-agnostic);
            default 52 for ``ucla20``, else 64.
        drop_out: dropout before the classifier.
        adaptive: learn the adjacency ``PA`` (reference default) or keep the graph fixed.
        sf_head: SF-Head between GCN and TCN of these units: None/False (none), True/"all" (all
            ten) or a list of unit numbers 1..10 (= module names ``l1``..``l10``).
        sf_head_groups: SF-Head groups ``G`` (unit widths must be multiples of ``4·G``).
        sf_losses: SF-Head auxiliary losses to return in training mode: a list from
            ``("f_rl", "f_cl")``, True for both, None for none. Then the training-mode output is
            ``{"logits": ..., "aux_losses": {...}}``; eval mode always returns plain logits.
        sf_cl_identity: F-CL also aligns ``f_r`` with the identity branch ``f_c``.
        fast: run the channels-last re-expressed forward (:mod:`skelar.models.ctrgcn_fast`; same
            function and parameters, faster on CPU); ``False`` runs the literal module-by-module form.
    """

    def __init__(
        self,
        num_classes: int = 60,
        layout: str | JointLayout = "ntu25",
        num_persons: int | None = None,
        in_channels: int = 3,
        num_frames: int | None = None,
        drop_out: float = 0.0,
        adaptive: bool = True,
        sf_head: Any = None,
        sf_head_groups: int = 8,
        sf_losses: Any = None,
        sf_cl_identity: bool = False,
        fast: bool = True,
    ) -> None:
        super().__init__()
        lay = get_layout(layout)
        default_m, default_t = _DEFAULT_CLIP.get(lay.name, _FALLBACK_CLIP)
        num_persons = default_m if num_persons is None else num_persons
        num_frames = default_t if num_frames is None else num_frames
        for key, val in (("num_classes", num_classes), ("num_persons", num_persons), ("in_channels", in_channels),
                         ("num_frames", num_frames), ("sf_head_groups", sf_head_groups)):  # fmt: skip
            if isinstance(val, bool) or not isinstance(val, int) or val < 1:
                raise ValueError(f"ctrgcn: {key} must be a positive integer, got {val!r}")
        if not 0.0 <= float(drop_out) < 1.0:
            raise ValueError(f"ctrgcn: drop_out must be in [0, 1), got {drop_out!r}")
        self.sf_units = _sf_units(sf_head)
        self.sf_losses = _sf_loss_names(sf_losses)
        if self.sf_losses and not self.sf_units:
            raise ValueError("ctrgcn: sf_losses need SF-Heads; set sf_head (e.g. 'all')")
        self.sf_cl_identity = bool(sf_cl_identity)
        self.num_classes = num_classes
        self.num_persons = num_persons
        self.in_channels = in_channels
        self.num_joints = lay.num_joints
        self.layout = lay
        self.input_shape = (in_channels, num_frames, lay.num_joints, num_persons)

        graph = spatial_graph(lay)
        base = 64
        self.data_bn = nn.BatchNorm1d(num_persons * in_channels * lay.num_joints)
        for i, (cin, cout, stride) in enumerate(_UNIT_PLAN, start=1):
            unit = TCNGCNUnit(
                cin * base if cin else in_channels, cout * base, graph, stride=stride, residual=i > 1,
                adaptive=adaptive, sf_head_groups=sf_head_groups if i in self.sf_units else None,
            )  # fmt: skip
            self.add_module(f"l{i}", unit)
        self.drop_out = nn.Dropout(drop_out) if drop_out else nn.Identity()
        self.fc = nn.Linear(4 * base, num_classes)
        nn.init.normal_(self.fc.weight, 0, math.sqrt(2.0 / num_classes))
        _bn_init(self.data_bn, 1.0)
        self.set_fast(fast)

    def set_fast(self, fast: bool) -> "CTRGCN":
        """Switch between the fast (channels-last, fused) and the literal forward; parameters are shared."""
        self.fast = bool(fast)
        for unit in self.units():
            unit.fast = self.fast
        return self

    def units(self) -> list[TCNGCNUnit]:
        """The ten TCN-GCN units ``l1``..``l10`` in order."""
        return [getattr(self, f"l{i}") for i in range(1, NUM_UNITS + 1)]

    def forward(self, x: torch.Tensor) -> "torch.Tensor | dict[str, Any]":
        if x.dim() != 5:
            raise ValueError(f"ctrgcn expects (N, C, T, V, M) input, got shape {tuple(x.shape)}")
        n, c, t, v, m = x.shape
        if (c, v, m) != (self.in_channels, self.num_joints, self.num_persons):
            raise ValueError(
                f"ctrgcn expects C={self.in_channels}, V={self.num_joints}, M={self.num_persons}; got shape {tuple(x.shape)}"
            )
        x = x.permute(0, 4, 3, 1, 2).reshape(n, m * v * c, t)  # BN channel index m*V*C + v*C + c
        x = self.data_bn(x)
        features: list[SFHeadFeatures] | None = [] if (self.training and self.sf_losses) else None
        if self.fast:  # (N·M, C, T, V) views of channels-last (N·M, T, V, C) memory
            x = x.reshape(n, m, v, c, t).permute(0, 1, 4, 2, 3).reshape(n * m, t, v, c).permute(0, 3, 1, 2)
        else:
            x = x.reshape(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)
        for unit in self.units():
            x = unit(x, features)
        if self.fast:
            x = x.permute(0, 2, 3, 1).reshape(n, m, -1, x.shape[1]).mean(2).mean(1)  # mean over T·V, then persons
        else:
            x = x.reshape(n, m, x.shape[1], -1).mean(3).mean(1)
        logits = self.fc(self.drop_out(x))
        if features is None:
            return logits
        return {"logits": logits, "aux_losses": sf_head_losses(features, self.sf_losses, self.sf_cl_identity)}
