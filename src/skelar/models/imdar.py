"""The descriptor-image CNNs of adjkamel/imdar: ``ResNet_c`` (one descriptor) and ``Fuse5`` (all five).

A port of ``models.py`` @ 724d9e4 (reference-notes §4.4), input from the ``descriptors`` transform
as ``(N, 3, S, S, K)`` (``K`` images in the last axis; ``S = 112`` in the reference):

* trunk: 3x3 conv (3 -> w) + BN + ReLU, avg-pool 4, two residual blocks w -> 2w, avg-pool 4, two residual
  blocks 2w -> 4w (the first with stride 2), avg-pool 4; ``w = 256`` in the reference (``width``);
* :class:`ImdarCNN` (``ResNet_c``): a bias-free 1x1 conv (here a ``Linear``) on the 4w features;
* :class:`ImdarFuse5` (``Fuse5``): one shared trunk applied to each of the five images (order GD, FDD,
  JDD, ADD, LAD) and eight bias-free heads: all five features, one head shared by the five single
  features, GD+FDD and JDD+ADD+LAD. ``logits`` is the all-five head; in training the other seven heads
  are returned as ``aux_logits`` (the reference trains on the sum of all eight cross-entropies).

Not ported: ``layer3``, ``layer4`` and ``fc``, which the reference builds but never calls (45.9M of its
88M parameters). :func:`convert_imdar_state_dict` drops them from reference state dicts.
"""

from __future__ import annotations

import re
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from skelar.models.registry import key_mismatch_error, register_model

__all__ = ["ImdarCNN", "ImdarFuse5", "convert_imdar_state_dict", "FUSE5_HEADS"]

# the single-descriptor heads of Fuse5, in input order, then the pair and triple heads
FUSE5_HEADS = ("gd", "fdd", "jdd", "add", "lad", "pair", "triple")
CPU_WIDTH = 32  # registry default; the reference's width is 256


class ResBlock(nn.Module):
    """``relu([conv3x3(stride) -> BN -> ReLU -> conv3x3 -> BN](x) + shortcut(x))``; 1x1 conv+BN shortcut on shape change."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = stride != 1 or cin != cout
        if self.down:
            self.down_conv = nn.Conv2d(cin, cout, 1, stride, bias=False)
            self.down_bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + (self.down_bn(self.down_conv(x)) if self.down else x))


class Trunk(nn.Module):
    """conv1 + layer1 + layer2 of ``ResNet_c`` with its three ``avg_pool2d(4)``; ``(N, 3, S, S) -> (N, 4w)``."""

    def __init__(self, width: int):
        super().__init__()
        self.stem_conv = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.stem_bn = nn.BatchNorm2d(width)
        self.stage1 = nn.Sequential(ResBlock(width, 2 * width), ResBlock(2 * width, 2 * width))
        self.stage2 = nn.Sequential(ResBlock(2 * width, 4 * width, 2), ResBlock(4 * width, 4 * width))
        self.out_channels = 4 * width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=torch.channels_last)  # about 1.4x faster convolutions on CPU here
        x = F.avg_pool2d(F.relu(self.stem_bn(self.stem_conv(x))), 4)
        x = F.avg_pool2d(self.stage1(x), 4)
        x = F.avg_pool2d(self.stage2(x), 4)
        if x.shape[-2:] != (1, 1):
            raise ValueError(f"imdar trunk: image side must be in [112, 239] (the reference's floor pooling ends in 1x1), got a {tuple(x.shape[-2:])} map")
        return x.flatten(1)


def _check_size(image_size: int) -> int:
    if not 112 <= int(image_size) <= 239:
        raise ValueError(f"image_size must be in [112, 239] (the trunk's three 4x poolings must end in a 1x1 map), got {image_size}")
    return int(image_size)


def _images(x: torch.Tensor, k: int, name: str) -> torch.Tensor:
    """``(N, 3, S, S, K)`` (or ``(N, 3, S, S)`` when ``K == 1``) -> ``(N, 3, S, S, K)``."""
    if x.dim() == 4 and k == 1:
        x = x.unsqueeze(-1)
    if x.dim() != 5 or x.shape[1] != 3 or x.shape[-1] != k:
        raise ValueError(f"{name} expects descriptor images (N, 3, S, S, {k}), got shape {tuple(x.shape)}")
    return x


# reference key -> skelar key (regular expressions, applied to the key without its final parameter name)
_KEY_MAP = [
    (r"conv1\.0", "trunk.stem_conv"),
    (r"conv1\.1", "trunk.stem_bn"),
    (r"layer([12])\.(\d+)\.left\.0", r"trunk.stage\1.\2.conv1"),
    (r"layer([12])\.(\d+)\.left\.1", r"trunk.stage\1.\2.bn1"),
    (r"layer([12])\.(\d+)\.left\.3", r"trunk.stage\1.\2.conv2"),
    (r"layer([12])\.(\d+)\.left\.4", r"trunk.stage\1.\2.bn2"),
    (r"layer([12])\.(\d+)\.shortcut\.0", r"trunk.stage\1.\2.down_conv"),
    (r"layer([12])\.(\d+)\.shortcut\.1", r"trunk.stage\1.\2.down_bn"),
]
_HEADS_CNN = {"convf": "head"}
_HEADS_FUSE5 = {"convf": "head_all", "convf1": "head_single", "convf12": "head_pair", "convf345": "head_triple"}
_UNUSED = ("layer3.", "layer4.", "fc.")


def convert_imdar_state_dict(state_dict: Mapping[str, torch.Tensor], fuse5: bool | None = None) -> dict[str, torch.Tensor]:
    """Map a reference ``ResNet_c`` or ``Fuse5`` state dict onto :class:`ImdarCNN` / :class:`ImdarFuse5`.

    The unused ``layer3``/``layer4``/``fc`` entries are dropped; 1x1 head convs become ``Linear`` weights.
    ``fuse5=None`` decides from the keys (``convf1`` exists only in ``Fuse5``).
    """
    if fuse5 is None:
        fuse5 = any(k.startswith("convf1.") for k in state_dict)
    heads = _HEADS_FUSE5 if fuse5 else _HEADS_CNN
    what = "an imdar Fuse5 state dict" if fuse5 else "an imdar ResNet_c state dict"
    out: dict[str, torch.Tensor] = {}
    unexpected = []
    for key, value in state_dict.items():
        if key.startswith(_UNUSED):
            continue
        prefix, _, leaf = key.rpartition(".")
        if prefix in heads and leaf == "weight":
            if value.dim() != 4 or value.shape[2:] != (1, 1):
                raise ValueError(f"imdar reference key {key!r}: expected a 1x1 conv weight, got shape {tuple(value.shape)}")
            out[f"{heads[prefix]}.weight"] = value.reshape(value.shape[0], value.shape[1])
            continue
        for pat, rep in _KEY_MAP:
            if re.fullmatch(pat, prefix):
                out[f"{re.sub(pat, rep, prefix)}.{leaf}"] = value
                break
        else:
            unexpected.append(key)
    missing = [f"{k}.weight" for k in heads if f"{heads[k]}.weight" not in out]
    if not any(k.startswith("trunk.stem_conv") for k in out):
        missing.append("conv1.0.weight")
    if unexpected or missing:
        raise key_mismatch_error(what, unexpected, missing)
    return out


def _convert_cnn(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return convert_imdar_state_dict(sd, fuse5=False)


def _convert_fuse5(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return convert_imdar_state_dict(sd, fuse5=True)



@register_model("imdar_cnn", converter=_convert_cnn, description="imdar ResNet_c: one descriptor image -> class (reference width 256: 42.0M params, 14.4 GFLOPs)", width=CPU_WIDTH)
class ImdarCNN(nn.Module):
    """Per-descriptor CNN (the reference's ``ResNet_c`` without its unused layers)."""

    def __init__(self, num_classes: int = 60, width: int = 256, image_size: int = 112, layout: str | None = None):
        super().__init__()
        self.trunk = Trunk(int(width))
        self.head = nn.Linear(self.trunk.out_channels, num_classes, bias=False)
        self.input_shape = (3, _check_size(image_size), _check_size(image_size), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(_images(x, 1, "imdar_cnn")[..., 0]))


@register_model("imdar_fuse5", converter=_convert_fuse5, description="imdar Fuse5: shared trunk over the five descriptor images, eight heads (reference width 256: 42.6M params, 72 GFLOPs)", width=CPU_WIDTH)
class ImdarFuse5(nn.Module):
    """Fusion network over five images ``GD, FDD, JDD, ADD, LAD`` (the reference's ``Fuse5``)."""

    def __init__(self, num_classes: int = 60, width: int = 256, image_size: int = 112, joint_trunk: bool = False, layout: str | None = None):
        super().__init__()
        self.trunk = Trunk(int(width))
        self.joint_trunk = bool(joint_trunk)
        c = self.trunk.out_channels
        self.head_all = nn.Linear(5 * c, num_classes, bias=False)
        self.head_single = nn.Linear(c, num_classes, bias=False)
        self.head_pair = nn.Linear(2 * c, num_classes, bias=False)
        self.head_triple = nn.Linear(3 * c, num_classes, bias=False)
        self.input_shape = (3, _check_size(image_size), _check_size(image_size), 5)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The trunk's ``(N, 4w)`` feature of each image.

        The reference calls the trunk once per image, so in training each BatchNorm normalises with one
        descriptor's batch statistics while its running statistics (used in eval) average all five kinds
        of image: eval-mode outputs then differ from what was trained (on NW-UCLA: 81 % train-mode vs 17 %
        eval-mode top-1 on the same training samples). ``joint_trunk=True`` passes the five images in one
        call, so training and eval normalise alike (same function in eval mode).
        """
        x = _images(x, 5, "imdar_fuse5")
        if self.joint_trunk:
            return list(self.trunk(x.permute(4, 0, 1, 2, 3).reshape(-1, *x.shape[1:4])).chunk(5, dim=0))
        return [self.trunk(x[..., i]) for i in range(5)]

    def heads(self, feats: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """All eight logits: ``all`` and :data:`FUSE5_HEADS`."""
        out = {"all": self.head_all(torch.cat(feats, 1))}
        for name, f in zip(FUSE5_HEADS[:5], feats):
            out[name] = self.head_single(f)
        out["pair"] = self.head_pair(torch.cat(feats[:2], 1))
        out["triple"] = self.head_triple(torch.cat(feats[2:], 1))
        return out

    def forward(self, x: torch.Tensor):
        logits = self.heads(self.features(x))
        if not self.training:
            return logits["all"]
        return {"logits": logits["all"], "aux_logits": {k: logits[k] for k in FUSE5_HEADS}}
