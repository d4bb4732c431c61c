"""SF-Head (Synchronized and Fine-grained Head), the module released in HaoHuang2003/SFHead.

A shape-preserving block on ``(B, C, T, V)`` feature maps, meant to sit between the GCN and the TCN
of a graph-convolutional unit. Per group of ``C/G`` channels, split in four chunks of ``c' = C/(4G)``:

* ``f_t = x1 · σ(cweight · mean_{T,V}(x1) + cbias)``             — SSTE "temporal" feature
* ``f_s = x3 · σ(sweight · GroupNorm(x3) + sbias)``              — SSTE "spatial" feature
* ``f_c = x2`` (identity), ``f_o = x4`` (passed through unchanged)
* ``f_r = a0·gate_cv(f_t) + a1·gate_tc(f_s) + a2·gate_tv(f_c) + a3·f_c`` with ``a = softmax(w)`` — AC-FA

The output is ``channel_shuffle(cat[f_t, f_s, f_r, f_o], groups=2)``. Each gate is a triplet-attention
gate (max+mean pooling over one axis, 7×7 conv, BN, sigmoid) on a different plane: ``cv`` pools
over T, ``tc`` over V, ``tv`` over channels.

State-dict names equal the reference's, including the member ``bn`` that the reference defines but
never uses. It is kept so official state dicts load strictly and the parameter count is the
published one (320 at C=64, G=8; +3,392 in all ten CTR-GCN units).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from skelar.models.registry import register_converter

__all__ = ["SFHead", "SFHeadFeatures", "AttentionGate", "channel_shuffle", "convert_sf_head_state_dict"]


class SFHeadFeatures(NamedTuple):
    """Branch features of one SF-Head call, each in the grouped layout ``(B·G, C/(4G), T, V)``."""

    f_t: torch.Tensor
    f_s: torch.Tensor
    f_c: torch.Tensor
    f_r: torch.Tensor
    f_o: torch.Tensor


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet channel shuffle of ``(B, C, T, V)``: channel ``g·C/groups + i`` moves to ``i·groups + g``."""
    b, c, t, v = x.shape
    return x.reshape(b, groups, c // groups, t, v).transpose(1, 2).reshape(b, c, t, v)


class _ConvBN(nn.Module):
    """Bias-free convolution followed by BatchNorm (the reference ``BasicConv`` without ReLU)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=(kernel_size - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class AttentionGate(nn.Module):
    """Triplet-attention gate: ``x · σ(BN(conv7x7([max_1(x), mean_1(x)])))`` (pooling over dim 1)."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.conv = _ConvBN(2, 1, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(pooled))


class SFHead(nn.Module):
    """SF-Head on ``(B, C, T, V)``; ``C`` must be a multiple of ``4 · groups``. Output shape = input shape.

    ``forward_with_features(x)`` returns ``(y, SFHeadFeatures)`` — the same ``y`` as ``forward(x)``
    plus the branch features for the auxiliary losses in :mod:`skelar.models.sf_losses`.
    ``forward`` stays a plain tensor-to-tensor call, so tracing and ONNX export are unaffected.
    """

    def __init__(self, channels: int, groups: int = 8) -> None:
        super().__init__()
        if groups < 1 or channels < 1 or channels % (4 * groups) != 0:
            raise ValueError(f"SFHead: channels ({channels}) must be a positive multiple of 4 * groups (groups={groups})")
        self.channels = channels
        self.groups = groups
        sub = channels // (4 * groups)
        self.gn = nn.GroupNorm(sub, sub)
        self.cweight = nn.Parameter(torch.zeros(1, sub, 1, 1))
        self.cbias = nn.Parameter(torch.ones(1, sub, 1, 1))
        self.sweight = nn.Parameter(torch.zeros(1, sub, 1, 1))
        self.sbias = nn.Parameter(torch.ones(1, sub, 1, 1))
        self.w = nn.Parameter(torch.ones(4))
        self.cv = AttentionGate()
        self.tc = AttentionGate()
        self.tv = AttentionGate()
        self.bn = nn.BatchNorm2d(sub)  # unused in forward, as in the reference (state-dict and param-count parity)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_features(x)[0]

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, SFHeadFeatures]:
        """The output and the branch features ``(f_t, f_s, f_c, f_r, f_o)``, each ``(B·G, C/(4G), T, V)``."""
        b, c, t, v = x.shape
        grouped = x.reshape(b * self.groups, c // self.groups, t, v)
        x1, f_c, x3, f_o = grouped.chunk(4, dim=1)

        # SSTE: channel attention from the (T, V) mean; per-channel GroupNorm attention
        f_t = x1 * torch.sigmoid(self.cweight * x1.mean(dim=(2, 3), keepdim=True) + self.cbias)
        f_s = x3 * torch.sigmoid(self.sweight * self.gn(x3) + self.sbias)

        # AC-FA: gates on the (c', V), (T, c') and (T, V) planes, mixed with softmax weights
        o_cv = self.cv(f_t.transpose(1, 2)).transpose(1, 2)
        o_tc = self.tc(f_s.permute(0, 3, 2, 1)).permute(0, 3, 2, 1)
        o_tv = self.tv(f_c)
        a = torch.softmax(self.w, dim=0)
        f_r = a[0] * o_cv + a[1] * o_tc + a[2] * o_tv + a[3] * f_c

        y = channel_shuffle(torch.cat([f_t, f_s, f_r, f_o], dim=1).reshape(b, c, t, v), 2)
        return y, SFHeadFeatures(f_t, f_s, f_c, f_r, f_o)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, groups={self.groups}"


_SF_KEYS = (
    "gn.weight", "gn.bias", "cweight", "cbias", "sweight", "sbias", "w",
    *(f"{g}.conv.{k}" for g in ("cv", "tc", "tv") for k in
      ("conv.weight", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked")),
    "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked",
)  # fmt: skip


def convert_sf_head_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map the released ``SFHead`` state dict onto :class:`SFHead` (same names; strict key check)."""
    sd = {k.removeprefix("module."): v for k, v in state_dict.items()}
    missing = [k for k in _SF_KEYS if k not in sd]
    unexpected = sorted(set(sd) - set(_SF_KEYS))
    if missing or unexpected:
        raise ValueError(f"sf_head state dict: missing keys {missing[:5]}, unexpected keys {unexpected[:5]}")
    return dict(sd)


register_converter("sf_head", convert_sf_head_state_dict)
