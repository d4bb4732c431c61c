"""LTSCL's actional-link inference module (AIM), after AS-GCN's NRI-style encoder/decoder.

* :class:`InteractionEncoder` — node MLP → edges over the ``V·(V-1)`` directed joint pairs →
  edge MLP → nodes (mean of incoming edges over ``V``) → node MLP → edges + skip → edge MLP →
  edge-type logits ``(B, E, K)``.
* Hard edge types: straight-through Gumbel-softmax (τ = 0.5) in training; at evaluation the
  faithful variant keeps sampling (as released), the corrected one takes the arg-max. ``forward``
  also accepts fixed ``edges``, so tests and tools can inject them.
* :class:`InteractionDecoder` — GRU-style graph message passing over edge types ``1..K-1`` that
  predicts frame ``t+1`` from frame ``t`` (teacher forcing).
* :func:`actional_links` — the per-sample link matrices ``A_batch (B, K-1, V, V)``, vectorised.
* :func:`aim_losses` — Gaussian NLL of the one-step predictions and KL to the edge-type prior.

Edge ``e`` enumerates the off-diagonal pairs ``(i, j)`` in row-major order; ``i`` sends, ``j``
receives, and ``A_batch[b, k, i, j]`` carries it (the backbone aggregates ``Σ_i x_i A[i, j]``).
Rows of the batch are ``n·M + m`` (sample-major), the clip is ``(N, C, T, V, M)``.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from skelar.models.registry import key_mismatch_error, register_converter

__all__ = [
    "AIM",
    "InteractionEncoder",
    "InteractionDecoder",
    "offdiag_pairs",
    "actional_links",
    "aim_losses",
    "convert_aim_state_dict",
]


def offdiag_pairs(num_nodes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(senders, receivers)`` of the ``V·(V-1)`` directed pairs ``(i, j)``, ``i != j``, row-major."""
    i, j = np.nonzero(1 - np.eye(num_nodes, dtype=np.int64))
    return torch.from_numpy(i), torch.from_numpy(j)


class EdgeMLP(nn.Module):
    """``elu(fc1) → dropout → elu(fc2) → BatchNorm1d`` over the flattened ``(B·items, features)`` view."""

    def __init__(self, n_in: int, n_hid: int, n_out: int, dropout: float = 0.0, batch_norm: bool = True) -> None:
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hid)
        self.fc2 = nn.Linear(n_hid, n_out)
        self.bn = nn.BatchNorm1d(n_out) if batch_norm else None
        self.dropout = nn.Dropout(dropout)
        for fc in (self.fc1, self.fc2):
            nn.init.xavier_normal_(fc.weight)
            nn.init.constant_(fc.bias, 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.elu(self.fc2(self.dropout(F.elu(self.fc1(x)))))
        if self.bn is None:
            return x
        b, n, f = x.shape
        return self.bn(x.reshape(b * n, f)).reshape(b, n, f)


class _PairGraph(nn.Module):
    """One-hot sender/receiver matrices ``(E, V)`` (buffers, not state) shared by encoder and decoder."""

    def __init__(self, num_nodes: int) -> None:
        super().__init__()
        send, recv = offdiag_pairs(num_nodes)
        eye = torch.eye(num_nodes)
        self.register_buffer("rel_send", eye[send], persistent=False)
        self.register_buffer("rel_rec", eye[recv], persistent=False)

    def node2edge(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.rel_rec @ x, self.rel_send @ x], dim=-1)


class InteractionEncoder(_PairGraph):
    """Edge-type logits ``(B, E, K)`` from node trajectories ``(B, V, T, C)``."""

    def __init__(self, n_in: int, n_hid: int, edge_types: int, num_nodes: int, dropout: float = 0.5) -> None:
        super().__init__(num_nodes)
        self.mlp1 = EdgeMLP(n_in, n_hid, n_hid, dropout)
        self.mlp2 = EdgeMLP(2 * n_hid, n_hid, n_hid, dropout)
        self.mlp3 = EdgeMLP(n_hid, n_hid, n_hid, dropout)
        self.mlp4 = EdgeMLP(3 * n_hid, n_hid, n_hid, dropout)
        self.fc_out = nn.Linear(n_hid, edge_types)
        nn.init.xavier_normal_(self.fc_out.weight)
        nn.init.constant_(self.fc_out.bias, 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, v = x.shape[:2]
        h = self.mlp1(x.reshape(b, v, -1))
        skip = self.mlp2(self.node2edge(h))
        nodes = (self.rel_rec.t() @ skip) / v  # mean over the V nodes, as released
        h = self.node2edge(self.mlp3(nodes))
        return self.fc_out(self.mlp4(torch.cat([h, skip], dim=-1)))


class InteractionDecoder(_PairGraph):
    """Teacher-forced one-step prediction ``(B, V, T-1, C)`` given hard edge types ``(B, E, K)``."""

    def __init__(self, n_in: int, edge_types: int, n_hid: int, num_nodes: int, dropout: float = 0.5) -> None:
        super().__init__(num_nodes)
        # message MLPs for edge types 1..K-1 only: type 0 ("no link") sends nothing (the reference
        # builds an unused pair for it; the converter drops it)
        self.msg_fc1 = nn.ModuleList(nn.Linear(2 * n_hid, n_hid) for _ in range(edge_types - 1))
        self.msg_fc2 = nn.ModuleList(nn.Linear(n_hid, n_hid) for _ in range(edge_types - 1))
        self.hidden_r = nn.Linear(n_hid, n_hid, bias=False)
        self.hidden_i = nn.Linear(n_hid, n_hid, bias=False)
        self.hidden_n = nn.Linear(n_hid, n_hid, bias=False)
        self.input_r = nn.Linear(n_in, n_hid)
        self.input_i = nn.Linear(n_in, n_hid)
        self.input_n = nn.Linear(n_in, n_hid)
        self.out_fc1 = nn.Linear(n_hid, n_hid)
        self.out_fc2 = nn.Linear(n_hid, n_hid)
        self.out_fc3 = nn.Linear(n_hid, n_in)
        self.dropout = nn.Dropout(dropout)
        self.n_hid = n_hid

    def step(self, inputs: torch.Tensor, edges: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pre = self.node2edge(hidden)
        msgs = 0.0
        links = len(self.msg_fc1)
        for k, (fc1, fc2) in enumerate(zip(self.msg_fc1, self.msg_fc2), start=1):
            m = torch.tanh(fc2(self.dropout(torch.tanh(fc1(pre)))))
            msgs = msgs + m * edges[..., k : k + 1] / links
        # the released code divides the summed messages by inputs.size(2): the coordinate count
        agg = (self.rel_rec.t() @ msgs) / inputs.shape[-1]
        r = torch.sigmoid(self.input_r(inputs) + self.hidden_r(agg))
        i = torch.sigmoid(self.input_i(inputs) + self.hidden_i(agg))
        n = torch.tanh(self.input_n(inputs) + r * self.hidden_n(agg))
        hidden = (1 - i) * n + i * hidden
        out = self.dropout(F.relu(self.out_fc1(hidden)))
        out = self.dropout(F.relu(self.out_fc2(out)))
        return inputs + self.out_fc3(out), hidden

    def forward(self, x: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
        b, v, t, _ = x.shape
        hidden = x.new_zeros(b, v, self.n_hid)
        preds = []
        for s in range(t - 1):
            pred, hidden = self.step(x[:, :, s], edges, hidden)
            preds.append(pred)
        return torch.stack(preds, dim=2)


def actional_links(edges: torch.Tensor, num_nodes: int, decay: float = 0.1) -> torch.Tensor:
    """``A_batch (B, K-1, V, V)``: per edge type ``k ≥ 1``, ``(dense(edges) + I) · diag(1/colsum + 1e-10) · decay``."""
    b, e, k = edges.shape
    send, recv = offdiag_pairs(num_nodes)
    flat = (send * num_nodes + recv).to(edges.device)
    scatter = torch.zeros(e, num_nodes * num_nodes, dtype=edges.dtype, device=edges.device)
    scatter[torch.arange(e, device=edges.device), flat] = 1.0
    a = (edges[..., 1:].transpose(1, 2) @ scatter).reshape(b, k - 1, num_nodes, num_nodes)
    a = a + torch.eye(num_nodes, dtype=edges.dtype, device=edges.device)
    d = 1.0 / a.sum(dim=-2) + 1e-10  # (B, K-1, V): one factor per column
    return a * d.unsqueeze(-2) * decay


def aim_losses(outputs: torch.Tensor, x: torch.Tensor, prob: torch.Tensor, prior: torch.Tensor, variance: float = 5e-4) -> dict[str, torch.Tensor]:
    """AS-GCN's AIM losses: ``nll = Σ (outputs - x[:, :, 1:])² / (2σ²) / (B·V)``, ``kl = Σ p (log(p + 1e-16) - log prior) / (V·B)``."""
    b, v = x.shape[:2]
    nll = ((outputs - x[:, :, 1:]) ** 2 / (2 * variance)).sum() / (b * v)
    kl = (prob * (torch.log(prob + 1e-16) - torch.log(prior))).sum() / (v * b)
    return {"aim_nll": nll, "aim_kl": kl}


class AIM(nn.Module):
    """Actional-link inference: ``forward(x (N, C, T, V, M), edges=None) -> dict``.

    Returns ``x`` (the clip as ``(N·M, V, T, C)``), ``logits``, ``prob`` (softmax over edge types),
    ``edges`` (hard one-hot), ``A`` (the link matrices) and, when ``decode`` is true, ``outputs``
    (the decoder's one-step predictions). ``eval_sampling``: ``"gumbel"`` (as released: fresh noise
    also at evaluation) or ``"argmax"`` (deterministic links at evaluation).
    """

    def __init__(
        self,
        num_nodes: int,
        in_frames: int = 50,
        in_channels: int = 3,
        hidden_enc: int = 128,
        hidden_dec: int = 128,
        edge_types: int = 3,
        tau: float = 0.5,
        decay: float = 0.1,
        prior: tuple[float, ...] = (0.95, 0.025, 0.025),
        eval_sampling: str = "argmax",
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if eval_sampling not in ("gumbel", "argmax"):
            raise ValueError(f"eval_sampling must be 'gumbel' or 'argmax', got {eval_sampling!r}")
        if len(prior) != edge_types:
            raise ValueError(f"prior has {len(prior)} entries for {edge_types} edge types")
        self.num_nodes, self.in_frames, self.edge_types = num_nodes, in_frames, edge_types
        self.tau, self.decay, self.eval_sampling = tau, decay, eval_sampling
        self.encoder = InteractionEncoder(in_frames * in_channels, hidden_enc, edge_types, num_nodes, dropout)
        self.decoder = InteractionDecoder(in_channels, edge_types, hidden_dec, num_nodes, dropout)
        self.register_buffer("prior", torch.tensor(prior, dtype=torch.float32), persistent=False)

    def sample_edges(self, logits: torch.Tensor) -> torch.Tensor:
        if self.training or self.eval_sampling == "gumbel":
            return F.gumbel_softmax(logits, tau=self.tau, hard=True)
        return F.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)

    def forward(self, clip: torch.Tensor, edges: torch.Tensor | None = None, decode: bool = True) -> dict[str, torch.Tensor]:
        n, c, t, v, m = clip.shape
        x = clip.permute(0, 4, 3, 2, 1).reshape(n * m, v, t, c)
        logits = self.encoder(x)
        prob = F.softmax(logits, dim=-1)
        if edges is None:
            edges = self.sample_edges(logits)
        out = {"x": x, "logits": logits, "prob": prob, "edges": edges, "A": actional_links(edges, v, self.decay)}
        if decode:
            out["outputs"] = self.decoder(x, edges)
        return out

    def losses(self, out: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return aim_losses(out["outputs"], out["x"], out["prob"], self.prior)


def convert_aim_state_dict(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Reference ``AdjacencyLearn`` state dict → :class:`AIM`: the unused type-0 message MLP and the
    ``video_encoder.*`` self-supervision heads (not ported) are dropped."""
    out = {}
    for k, v in sd.items():
        if k.startswith("decoder.msg_fc"):
            head, idx, rest = k.split(".", 3)[1], int(k.split(".")[2]), k.split(".", 3)[3]
            if idx > 0:  # type 0's message MLP is never used
                out[f"decoder.{head}.{idx - 1}.{rest}"] = v
        elif k.startswith(("encoder.", "decoder.")):
            out[k] = v
    unexpected = [k for k in sd if not k.startswith(("encoder.", "decoder.", "video_encoder."))]
    if unexpected or not out:
        raise key_mismatch_error("an LTSCL AdjacencyLearn state dict", unexpected, [] if out else ["encoder.*"])
    return out


register_converter("ltscl_aim", convert_aim_state_dict)
