"""SF-Head's auxiliary losses F-RL and F-CL — **reconstructions**, not released code.

The SF-Head paper names a Feature Redundancy Loss (F-RL, ``L_red``) between the temporal and
spatial features and a Feature Consistency Loss (F-CL, ``L_con``) between the refined feature and
the original ones, but neither the released code nor the available text gives formulas. These
are the forms reconstructed from the abstract and the "Loss design" panel of the figure
(docs/models.md, "SF-Head"). All features are SF-Head's grouped tensors ``(B·G, c', T, V)``;
``vec(·)`` flattens one row (one sample's group) and ``cos`` is the cosine similarity of two such
vectors (``torch.nn.functional.cosine_similarity``, eps 1e-8):

* F-RL = mean over rows of ``cos²(vec f_t, vec f_s)``  — 0 when orthogonal, 1 when parallel.
* F-CL = mean over rows of ``(1 − cos(f_r, f_t)) + (1 − cos(f_r, f_s))``
  ``[+ (1 − cos(f_r, f_c))`` when ``include_identity``] — 0 when ``f_r`` is aligned with each.

Over several SF-Head instances each loss is the plain average of the per-instance values.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from skelar.models.sf_head import SFHeadFeatures

__all__ = ["SF_LOSS_NAMES", "row_cosine", "feature_redundancy_loss", "feature_consistency_loss", "sf_head_losses"]

SF_LOSS_NAMES = ("f_rl", "f_cl")


def row_cosine(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Cosine similarity of ``vec(a[i])`` and ``vec(b[i])`` for every row ``i``: shape ``(rows,)``."""
    if a.shape != b.shape:
        raise ValueError(f"row_cosine: shapes differ, {tuple(a.shape)} vs {tuple(b.shape)}")
    return F.cosine_similarity(a.flatten(1), b.flatten(1), dim=1, eps=eps)


def feature_redundancy_loss(f_t: torch.Tensor, f_s: torch.Tensor) -> torch.Tensor:
    """F-RL: ``mean_i cos²(vec f_t[i], vec f_s[i])`` over rows (samples × groups)."""
    return row_cosine(f_t, f_s).pow(2).mean()


def feature_consistency_loss(
    f_r: torch.Tensor, f_t: torch.Tensor, f_s: torch.Tensor, f_c: torch.Tensor | None = None
) -> torch.Tensor:
    """F-CL: ``mean_i [(1 − cos(f_r, f_t)) + (1 − cos(f_r, f_s))]``, plus ``(1 − cos(f_r, f_c))`` if ``f_c`` is given."""
    loss = (1 - row_cosine(f_r, f_t)) + (1 - row_cosine(f_r, f_s))
    if f_c is not None:
        loss = loss + (1 - row_cosine(f_r, f_c))
    return loss.mean()


def sf_head_losses(
    features: Sequence[SFHeadFeatures],
    names: Sequence[str] = SF_LOSS_NAMES,
    include_identity: bool = False,
) -> dict[str, torch.Tensor]:
    """The requested losses (``"f_rl"``, ``"f_cl"``), each averaged over the SF-Head instances in ``features``."""
    unknown = [n for n in names if n not in SF_LOSS_NAMES]
    if unknown:
        raise ValueError(f"unknown SF-Head loss(es) {unknown}; choose from {list(SF_LOSS_NAMES)}")
    if not features:
        raise ValueError("sf_head_losses: no SF-Head features given")
    out: dict[str, torch.Tensor] = {}
    if "f_rl" in names:
        out["f_rl"] = torch.stack([feature_redundancy_loss(f.f_t, f.f_s) for f in features]).mean()
    if "f_cl" in names:
        out["f_cl"] = torch.stack(
            [feature_consistency_loss(f.f_r, f.f_t, f.f_s, f.f_c if include_identity else None) for f in features]
        ).mean()
    return out
