"""LTSCL (IJCNN 2022): AS-GCN with actional links, future-frame prediction and a contrastive loss.

Input: the canonical ``(N, C, T, V, M)`` clip produced by the ``ltscl_clip`` transform, whose time
axis holds ``input_frames`` observed frames, then ``future_frames`` target frames, then the
``aim_frames`` down-sampled frames the AIM reads. The last observed frame is the prediction base.

Output: ``{"logits", "pred"}`` (``pred`` = predicted future frames of person 0, ``(N, C, F, V)``);
in training also ``"aux_losses"``: ``aim_nll``, ``aim_kl`` (AIM), ``recon`` (MSE of the prediction)
and ``contrastive``. Losses whose weight is 0 in the current training stage are not computed
(:meth:`LTSCL.set_active_losses`, called by the engine).

``variant`` picks the defaults of the four faithful/corrected options (each can also be set
alone): ``contrast`` (:mod:`skelar.models.ltscl_contrast`), ``coord_mixing``, ``momentum_in_eval``
and ``aim_eval_sampling`` (see :mod:`skelar.models.asgcn`, :mod:`skelar.models.ltscl_aim`).
``predict=False`` drops the prediction and contrastive branches (the backbone-only ablation).
"""

from __future__ import annotations

from typing import Iterable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from skelar.layouts import get_layout
from skelar.models.asgcn import ASGCNPredictor, convert_asgcn_state_dict
from skelar.models.graph import hop_spatial_graph
from skelar.models.ltscl_aim import AIM, convert_aim_state_dict
from skelar.models.ltscl_contrast import PredictionContrast
from skelar.models.registry import key_mismatch_error, register_model

__all__ = ["LTSCL", "convert_ltscl_state_dict", "VARIANTS", "AUX_LOSSES"]

AUX_LOSSES = ("aim_nll", "aim_kl", "recon", "contrastive")
VARIANTS = {
    "faithful": {"contrast": "faithful", "coord_mixing": True, "momentum_in_eval": True, "aim_eval_sampling": "gumbel"},
    "corrected": {"contrast": "corrected", "coord_mixing": False, "momentum_in_eval": False, "aim_eval_sampling": "argmax"},
}


class LTSCL(nn.Module):
    """LTSCL: AIM (actional links) + AS-GCN classifier/predictor; see the module docstring."""

    def __init__(
        self,
        num_classes: int = 60,
        layout: str = "ntu25",
        num_persons: int = 2,
        in_channels: int = 3,
        input_frames: int = 24,
        future_frames: int = 10,
        aim_frames: int = 8,
        base_channels: int = 16,
        aim_hidden: int = 32,
        max_hop: int = 4,
        lamda_act: float = 0.5,
        dropout: float = 0.5,
        trunk_dropout: float = 1.0,
        variant: str = "corrected",
        contrast: str | None = None,
        coord_mixing: bool | None = None,
        momentum_in_eval: bool | None = None,
        aim_eval_sampling: str | None = None,
        queue_size: int = 32768,
        temperature: float = 0.1,
        predict: bool = True,
    ) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {sorted(VARIANTS)}, got {variant!r}")
        opts = dict(VARIANTS[variant])
        for key, value in (("contrast", contrast), ("coord_mixing", coord_mixing), ("momentum_in_eval", momentum_in_eval),
                           ("aim_eval_sampling", aim_eval_sampling)):
            if value is not None:
                opts[key] = value
        lay = get_layout(layout)
        v = lay.num_joints
        self.frames = (int(input_frames), int(future_frames), int(aim_frames))
        self.lamda_act, self.predict = float(lamda_act), bool(predict)
        self.aim = AIM(v, aim_frames, in_channels, aim_hidden, aim_hidden, eval_sampling=opts["aim_eval_sampling"])
        self.backbone = ASGCNPredictor(
            hop_spatial_graph(lay, max_hop), num_classes, in_channels, input_frames, future_frames, base_channels, dropout, trunk_dropout,
            coord_mixing=opts["coord_mixing"], momentum_in_eval=opts["momentum_in_eval"], predict=predict,
        )
        if predict:
            self.contrast = PredictionContrast((in_channels, future_frames, v), queue_size, opts["contrast"], temperature)
        self.options = opts
        self.active_losses = set(AUX_LOSSES if predict else AUX_LOSSES[:2]) | {"cls"}
        self.input_shape = (in_channels, sum(self.frames), v, num_persons)

    def set_active_losses(self, names: Iterable[str]) -> None:
        """Compute only these losses in training (``"cls"`` = the classification logits need gradients)."""
        self.active_losses = set(names)

    def split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The clip → observed frames, target frames, AIM frames (all ``(N, C, *, V, M)``)."""
        t_in, t_f, t_aim = self.frames
        if x.shape[2] != t_in + t_f + t_aim:
            raise ValueError(f"LTSCL expects {t_in}+{t_f}+{t_aim} frames (ltscl_clip transform), got {x.shape[2]}")
        return x[:, :, :t_in], x[:, :, t_in : t_in + t_f], x[:, :, t_in + t_f :]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor | dict[str, torch.Tensor]]:
        observed, target, aim_clip = self.split(x)
        active = self.active_losses if self.training else set()
        aim = self.aim(aim_clip, decode="aim_nll" in active or "aim_kl" in active)
        if self.training and not active - {"aim_nll", "aim_kl"}:
            # an AIM-only stage: the backbone is not run; its logits are reported as zeros
            n = x.shape[0]
            return {"logits": x.new_zeros(n, self.backbone.fcn.out_channels), "aux_losses": self.aim.losses(aim)}
        out = self.backbone(observed, target, observed[:, :, -1:], aim["A"], self.lamda_act)
        result: dict = {"logits": out["logits"]}
        if self.predict:
            result["pred"] = out["pred"]
        if not self.training:
            return result
        aux = {}
        if "aim_nll" in active or "aim_kl" in active:
            aux.update({k: v for k, v in self.aim.losses(aim).items() if k in active})
        if self.predict and "recon" in active:
            aux["recon"] = F.mse_loss(out["pred"], out["target"])
        if self.predict and "contrastive" in active:
            aux["contrastive"] = self.contrast(out["pred"], out["pred_key"])
        result["aux_losses"] = aux
        return result


def convert_ltscl_state_dict(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Reference weights → :class:`LTSCL`: model1 keys as ``model1.*`` (or bare), model2 (AIM) keys as ``model2.*``."""
    m1 = {k[len("model1."):] if k.startswith("model1.") else k: v for k, v in sd.items() if not k.startswith("model2.")}
    m2 = {k[len("model2."):]: v for k, v in sd.items() if k.startswith("model2.")}
    if not m2:
        raise key_mismatch_error("a combined LTSCL state dict", [], ["model2.* (the AIM)"])
    out = {f"backbone.{k}": v for k, v in convert_asgcn_state_dict(m1).items()}
    out.update({f"aim.{k}": v for k, v in convert_aim_state_dict(m2).items()})
    return out


register_model("ltscl", converter=convert_ltscl_state_dict,
               description="LTSCL: AS-GCN + actional links (AIM) + future-frame prediction + contrastive loss")(LTSCL)
