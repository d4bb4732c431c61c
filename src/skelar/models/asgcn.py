"""AS-GCN backbone with LTSCL's future-frame prediction head (reference ``net/as_gcn.py : Model``).

:class:`ASGCNPredictor` ``forward(x, x_target, x_last, A_act, lam)`` takes the input frames
``(N, C, T, V, M)``, the target frames ``(N, C, F, V, M)``, the last input frame ``(N, C, 1, V, M)``
and the actional links ``(N·M, 2, V, V)``; it returns the class logits, the predicted frames of
person 0 ``(N, C, F, V)``, their momentum-key version and the target of person 0. State-dict names
follow the reference, so :func:`convert_asgcn_state_dict` is nearly the identity.

Architecture (reference-notes §5.3): ST-GCN graph ``(1 + 2·max_hop, V, V)`` from the dataset's
layout, each spatial GCN mixing the structural links (× learnable importance) with ``λ`` × the
per-sample actional links; ``L1`` applied twice; a prediction trunk down to one frame; the
prediction block ``R6`` and its momentum (EMA) copy for the contrastive keys.

Named options: ``coord_mixing`` (``True``: AS-GCN's ``repeat``/``view`` mismatch, the x_last
coordinate added at ``[c, t]`` is ``(F·c + t) mod C``; ``False``: per coordinate) and
``momentum_in_eval`` (``True``: the EMA update also runs in eval mode, as released).
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import torch
from torch import nn

from skelar.models.registry import key_mismatch_error, register_converter

__all__ = ["ASGCNPredictor", "StgcnBlock", "SpatialGcn", "convert_asgcn_state_dict", "trunk_lengths"]

EDGE_TYPES = 2  # actional link types fed by the AIM (edge types 1 and 2)


def _conv_out(t: int, kernel: int, stride: int, padding: int) -> int:
    return (t + 2 * padding - kernel) // stride + 1


class SpatialGcn(nn.Module):
    """``conv → (n, K, C, T, V)``; groups ``< K-2`` use the graph ``A``, the last 2 the actional links ``B``."""

    def __init__(self, in_channels: int, out_channels: int, k_num: int, transposed: bool = False) -> None:
        super().__init__()
        self.k_num = k_num
        conv = nn.ConvTranspose2d if transposed else nn.Conv2d
        layer = conv(in_channels, out_channels * k_num, kernel_size=(1, 1))
        if transposed:
            self.deconv = layer
        else:
            self.conv = layer

    def forward(self, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor, lam: float) -> torch.Tensor:
        x = (self.deconv if hasattr(self, "deconv") else self.conv)(x)
        n, kc, t, v = x.shape
        x = x.view(n, self.k_num, kc // self.k_num, t, v)
        x1 = torch.einsum("nkctv,kvw->nctw", x[:, : self.k_num - EDGE_TYPES], a)
        x2 = torch.einsum("nkctv,nkvw->nctw", x[:, self.k_num - EDGE_TYPES :], b)
        return x1 + x2 * lam


class StgcnBlock(nn.Module):
    """``relu(tcn(gcn(x)) + residual(x))``, ``tcn = BN → ReLU → Conv(k×1, stride) → BN → Dropout``."""

    def __init__(self, cin: int, cout: int, k_num: int, kernel: int = 9, stride: int = 1, padding: bool = True,
                 residual: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        pad = (kernel - 1) // 2 if padding else 0
        self.gcn = SpatialGcn(cin, cout, k_num)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(cout), nn.ReLU(inplace=True), nn.Conv2d(cout, cout, (kernel, 1), (stride, 1), (pad, 0)),
            nn.BatchNorm2d(cout), nn.Dropout(dropout),
        )
        self.kernel, self.stride, self.pad = kernel, stride, pad
        self.has_residual = residual
        if residual and not (cin == cout and stride == 1):
            self.residual = nn.Sequential(nn.Conv2d(cin, cout, 1, (stride, 1)), nn.BatchNorm2d(cout))

    def out_frames(self, t: int) -> int:
        return _conv_out(t, self.kernel, self.stride, self.pad)

    def forward(self, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor, lam: float) -> torch.Tensor:
        res = (self.residual(x) if hasattr(self, "residual") else x) if self.has_residual else 0
        return torch.relu(self.tcn(self.gcn(x, a, b, lam)) + res)


class StgcnReconBlock(nn.Module):
    """The prediction block R6: transposed 1×1 GCN, ``BN → ReLU → ConvTranspose(1×1) → BN → Dropout``, no residual or activation."""

    def __init__(self, cin: int, cout: int, k_num: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.gcn_recon = SpatialGcn(cin, cout, k_num, transposed=True)
        self.tcn_recon = nn.Sequential(
            nn.BatchNorm2d(cout), nn.ReLU(inplace=True), nn.ConvTranspose2d(cout, cout, (1, 1)), nn.BatchNorm2d(cout), nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor, lam: float) -> torch.Tensor:
        return self.tcn_recon(self.gcn_recon(x, a, b, lam))


def trunk_lengths(frames: int) -> list[int]:
    """Frames after L8 and after R0..R4 for an input of ``frames`` (R5's kernel takes the rest to 1)."""
    t = math.ceil(math.ceil(frames / 2) / 2)
    out = [t]
    for _ in range(5):  # R0 (stride 1) keeps it; R1..R4 halve it
        out.append(t if len(out) == 1 else math.ceil(out[-1] / 2))
    return out


def asgcn_init(module: nn.Module) -> None:
    """AS-GCN's ``weights_init``: ``Conv2d`` weights N(0, 0.02), bias 0; BatchNorm weights N(1, 0.02), bias 0.

    Classes are matched by name as in the reference, so ``ConvTranspose2d`` keeps PyTorch's init.
    """
    name = type(module).__name__
    if "Conv2d" in name and "Transpose" not in name:
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif "BatchNorm" in name:
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class ASGCNPredictor(nn.Module):
    """AS-GCN classifier + future-frame predictor (see the module docstring)."""

    def __init__(
        self,
        graph: np.ndarray,
        num_classes: int,
        in_channels: int = 3,
        input_frames: int = 290,
        future_frames: int = 10,
        base_channels: int = 64,
        dropout: float = 0.5,
        trunk_dropout: float = 1.0,
        momentum: float = 0.999,
        key_noise: float = 0.1,
        coord_mixing: bool = False,
        momentum_in_eval: bool = False,
        predict: bool = True,
    ) -> None:
        super().__init__()
        a = torch.as_tensor(graph, dtype=torch.float32)
        self.register_buffer("A", a)
        s, v = a.shape[0], a.shape[1]
        k = s + EDGE_TYPES
        self.num_subsets, self.in_channels, self.future = s, in_channels, future_frames
        self.momentum, self.key_noise = momentum, key_noise
        self.coord_mixing, self.momentum_in_eval, self.predict = coord_mixing, momentum_in_eval, predict
        c1, c2, c3 = base_channels, 2 * base_channels, 4 * base_channels
        self.data_bn = nn.BatchNorm1d(in_channels * v)
        plan = [(in_channels, c1, 1, False), (c1, c1, 1, True), (c1, c1, 1, True), (c1, c2, 2, True), (c2, c2, 1, True),
                (c2, c2, 1, True), (c2, c3, 2, True), (c3, c3, 1, True), (c3, c3, 1, True)]
        for i, (cin, cout, st, res) in enumerate(plan):
            setattr(self, f"class_layer_{i}", StgcnBlock(cin, cout, k, 9, st, residual=res, dropout=dropout))
        self.edge_importance = nn.ParameterList(nn.Parameter(torch.ones_like(a)) for _ in range(9))
        self.fcn = nn.Conv2d(c3, num_classes, 1)
        # the reference's fixed dropouts (0.6, 0.5, 0.25, 0.75), scaled by trunk_dropout (1 = as released)
        self.dropout_classifier = nn.Dropout(0.6 * trunk_dropout)
        self.dropout_1 = nn.Dropout(0.5 * trunk_dropout)
        self.dropout_3 = nn.Dropout(0.25 * trunk_dropout)
        if predict:
            t4 = trunk_lengths(input_frames)[-1]
            rplan = [(c3, c2, 9, 1), (c2, c2, 9, 2), (c2, c2, 9, 2), (c2, c2, 9, 2), (c2, c2, 3, 2)]
            for i, (cin, cout, ker, st) in enumerate(rplan):
                setattr(self, f"recon_layer_{i}", StgcnBlock(cin, cout, k, ker, st, dropout=dropout))
            # R5 (kernel 5 for the reference's 290 frames) takes the remaining frames down to one
            self.recon_layer_5 = StgcnBlock(c2, c2, k, t4, 1, padding=False, residual=False, dropout=dropout)
            self.recon_layer_6_encoder_q = StgcnReconBlock(c2 + in_channels, in_channels * future_frames, k, dropout)
            self.recon_layer_6_encoder_k = StgcnReconBlock(c2 + in_channels, in_channels * future_frames, k, dropout)
            # the reference builds 9 recon importance masks and uses 7 (R0..R6)
            self.edge_importance_recon = nn.ParameterList(nn.Parameter(torch.ones_like(a)) for _ in range(7))
            self.dropout_2 = nn.Dropout(0.75 * trunk_dropout)
        self.apply(asgcn_init)
        if predict:
            self.recon_layer_6_encoder_k.load_state_dict(self.recon_layer_6_encoder_q.state_dict())
            for p in self.recon_layer_6_encoder_k.parameters():
                p.requires_grad_(False)

    @torch.no_grad()
    def momentum_update(self) -> None:
        """Key encoder ← m · key + (1 - m) · query (parameters only, as released)."""
        for q, k in zip(self.recon_layer_6_encoder_q.parameters(), self.recon_layer_6_encoder_k.parameters()):
            k.mul_(self.momentum).add_(q.detach(), alpha=1.0 - self.momentum)

    def features(self, x: torch.Tensor, a_act: torch.Tensor, lam: float) -> torch.Tensor:
        """The classification trunk: ``(N, C, T, V, M) → (N·M, 4·base, T/4, V)``."""
        n, c, t, v, m = x.shape
        x = self.data_bn(x.permute(0, 4, 3, 1, 2).reshape(n * m, v * c, t))
        h = x.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)
        order = [0, 1, 1, 2, "d1", 3, 4, 5, "d3", 6, 7, 8]  # L1 twice, as released
        for i in order:
            if i == "d1":
                h = self.dropout_1(h)
            elif i == "d3":
                h = self.dropout_3(h)
            else:
                h = getattr(self, f"class_layer_{i}")(h, self.A * self.edge_importance[i], a_act, lam)
        return h

    def classify(self, h8: torch.Tensor, n: int, m: int) -> torch.Tensor:
        pooled = h8.mean(dim=(2, 3)).view(n, m, -1).mean(dim=1)
        return self.fcn(self.dropout_classifier(pooled[:, :, None, None])).flatten(1)

    def _frames(self, r6: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
        """``(N·M, C·F, 1, V)`` residuals + the last frame ``(N·M, C, 1, V)`` → frames ``(N·M, C, F, V)``."""
        b, c, _, v = last.shape
        if self.coord_mixing:  # AS-GCN: repeat lays out (F reps × C), view reads (C × F)
            base = last.reshape(b, 1, c, v).repeat(1, self.future, 1, 1).reshape(b, c, self.future, v)
        else:
            base = last.expand(b, c, self.future, v)
        return base + r6.reshape(b, c, self.future, v)

    def forward(self, x: torch.Tensor, x_target: torch.Tensor, x_last: torch.Tensor, a_act: torch.Tensor, lam: float) -> dict[str, torch.Tensor]:
        n, c, t, v, m = x.shape
        h8 = self.features(x, a_act, lam)
        out = {"logits": self.classify(h8, n, m)}
        if not self.predict:
            return out
        r = h8
        for i in range(6):
            r = getattr(self, f"recon_layer_{i}")(r, self.A * self.edge_importance_recon[i], a_act, lam)
        last = x_last.permute(0, 4, 1, 2, 3).reshape(n * m, c, 1, v)
        a6 = self.A * self.edge_importance_recon[6]
        r6 = self.recon_layer_6_encoder_q(torch.cat([self.dropout_2(r), last], 1), a6, a_act, lam)
        with torch.no_grad():
            if self.training or self.momentum_in_eval:
                self.momentum_update()
            r_key = self.dropout_2(r.detach() + math.sqrt(self.key_noise) * torch.randn_like(r))
            r6_key = self.recon_layer_6_encoder_k(torch.cat([r_key, last], 1), a6, a_act, lam)
        out["pred"] = self._frames(r6, last).view(n, m, c, self.future, v)[:, 0]
        out["pred_key"] = self._frames(r6_key, last).view(n, m, c, self.future, v)[:, 0]
        out["target"] = x_target[..., 0]
        return out


def convert_asgcn_state_dict(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Reference ``net.as_gcn.Model`` state dict → :class:`ASGCNPredictor`.

    Dropped: the memory bank ``queue``/``queue_ptr`` (skelar's contrastive loss owns its queue) and the
    never-used ``edge_importance_recon.7/.8``.
    """
    drop = {"queue", "queue_ptr", "edge_importance_recon.7", "edge_importance_recon.8"}
    out = {k: v for k, v in sd.items() if k not in drop}
    if "data_bn.weight" not in out or "class_layer_0.gcn.conv.weight" not in out:
        raise key_mismatch_error("an AS-GCN / LTSCL model1 state dict", [], ["data_bn.weight", "class_layer_0.gcn.conv.weight"])
    return out


register_converter("ltscl_backbone", convert_asgcn_state_dict)
