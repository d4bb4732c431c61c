"""How sensitive the reference CTR-GCN's float32 training is to rounding: the reference against itself
with every weight scaled by (1 + 1e-7), on the same NW-UCLA batches as train_parity_ctrgcn.py.

    python benchmarks/train_sensitivity_ctrgcn.py --reference PATH/TO/CTR-GCN/model/ctrgcn.py --data data/ucla

The gap it prints is the yardstick for train_parity_ctrgcn.py's float32 comparison: two float32
trajectories that differ only in rounding separate at least this fast.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from skelar.engine.config import load_config
from skelar.engine.data_setup import build_data
from skelar.engine.loaders import train_loader
from skelar.engine.optim import build_optimizer
from skelar.models import create_model
from skelar.reference.benchmark import load_reference

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reference", required=True, help="local copy of Uason-Chen/CTR-GCN model/ctrgcn.py")
    p.add_argument("--data", default="data/ucla", help="prepared NW-UCLA dataset")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--lr", type=float, default=0.02, help="the recipe's first warm-up learning rate")
    p.add_argument("--scale", type=float, default=1e-7, help="relative perturbation of every weight")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    cfg = load_config(ROOT / "configs" / "ctrgcn_ucla.yaml", [f"data.source={args.data}"])
    data = build_data(cfg, progress=False)
    loader, _ = train_loader(data.train_set(cfg.seed), cfg.data.batch_size, cfg.seed, 0, torch.device("cpu"), 0, 1)
    torch.manual_seed(cfg.seed)
    like = create_model("ctrgcn", num_classes=data.source.num_classes, layout=data.source.layout.name, num_persons=1)
    ref = load_reference("ctrgcn", args.reference, cfg.data.batch_size, data.source.num_classes, like=like).model
    other = copy.deepcopy(ref)
    with torch.no_grad():
        for w in other.parameters():
            w.mul_(1 + args.scale)
    o = cfg.optim
    sides = [(m, build_optimizer(m.parameters(), o.name, args.lr, o.weight_decay, o.momentum, o.nesterov)) for m in (ref, other)]
    batches = iter(loader)
    for step in range(args.steps):
        clips, y, _ = next(batches)
        losses = []
        for m, opt in sides:
            m.train()
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(m(clips[:, 0]), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        dw = max(float((a.detach() - b.detach()).abs().max()) for a, b in zip(ref.parameters(), other.parameters()))
        print(f"step {step + 1}: loss reference {losses[0]:.6f}, perturbed {losses[1]:.6f}; max |w - w'| {dw:.2e}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
