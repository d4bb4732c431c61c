"""Training parity: skelar's CTR-GCN (fast and literal forms) against the reference model code.

    python benchmarks/train_parity_ctrgcn.py --reference PATH/TO/CTR-GCN/model/ctrgcn.py \
        --data data/ucla [--steps 60] [--dtype float64] [--json OUT]

All three models start from the reference's random initial weights (converted with the registered
converter), see the same NW-UCLA training batches (the recipe's pipeline, configs/ctrgcn_ucla.yaml:
batch 16, 52 frames, view augmentation) and are trained with the recipe's optimiser (SGD, momentum
0.9, Nesterov, lr 0.1, weight decay 1e-4) and its linear warm-up (here over 5 "epochs" of
``--steps-per-epoch`` steps). Dropout is off in the recipe. After every step the script records each
side's loss and the largest weight difference to the reference (absolute, and relative to the
largest weight). The reference's code is never part of skelar: give the path of a local copy.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from skelar.engine.config import load_config
from skelar.engine.data_setup import build_data
from skelar.engine.loaders import train_loader
from skelar.engine.optim import build_optimizer, build_scheduler
from skelar.models import convert_reference_state_dict, create_model
from skelar.reference.benchmark import load_reference

ROOT = Path(__file__).resolve().parents[1]


def _max_diff(a: torch.nn.Module, b: torch.nn.Module) -> tuple[float, float]:
    sa, sb = a.state_dict(), b.state_dict()
    worst = max(float((sa[k].double() - sb[k].double()).abs().max()) for k in sa if sa[k].is_floating_point())
    scale = max(float(sb[k].double().abs().max()) for k in sb if sb[k].is_floating_point())
    return worst, worst / scale


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reference", required=True, help="local copy of Uason-Chen/CTR-GCN model/ctrgcn.py")
    p.add_argument("--data", default="data/ucla", help="prepared NW-UCLA dataset")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--steps-per-epoch", type=int, default=10, help="scheduler epochs are this many steps here")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", help="write the per-step record here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)

    cfg = load_config(ROOT / "configs" / "ctrgcn_ucla.yaml", [f"data.source={args.data}"])
    data = build_data(cfg, progress=False)
    loader, _ = train_loader(data.train_set(cfg.seed), cfg.data.batch_size, cfg.seed, 0, torch.device("cpu"), 0, 1)
    num_classes = data.source.num_classes

    torch.manual_seed(cfg.seed)
    fast = create_model("ctrgcn", num_classes=num_classes, layout=data.source.layout.name, num_persons=1)
    ref = load_reference("ctrgcn", args.reference, cfg.data.batch_size, num_classes, like=fast).model
    fast.load_state_dict(convert_reference_state_dict("ctrgcn", ref.state_dict()))
    literal = create_model("ctrgcn", num_classes=num_classes, layout=data.source.layout.name, num_persons=1, fast=False)
    literal.load_state_dict(fast.state_dict())
    sides = {"reference": ref, "fast": fast, "literal": literal}
    o, s = cfg.optim, cfg.sched
    opts, scheds = {}, {}
    for name, m in sides.items():
        m.to(dtype).train()
        opts[name] = build_optimizer(m.parameters(), o.name, o.lr, o.weight_decay, o.momentum, o.nesterov)
        scheds[name] = build_scheduler(opts[name], s.name, cfg.train.epochs, s.milestones, s.gamma, s.warmup_epochs, s.min_lr)

    record = []
    batches = iter(loader)
    for step in range(args.steps):
        clips, y, _ = next(batches)
        x = clips[:, 0].to(dtype)  # one clip per training sample
        row: dict[str, float] = {"step": step + 1, "lr": opts["fast"].param_groups[0]["lr"]}
        for name, m in sides.items():
            opts[name].zero_grad(set_to_none=True)
            loss = F.cross_entropy(m(x), y)
            loss.backward()
            opts[name].step()
            row[f"loss_{name}"] = loss.item()
            if (step + 1) % args.steps_per_epoch == 0:
                scheds[name].step()
        for name in ("fast", "literal"):
            row[f"weights_absdiff_{name}"], row[f"weights_reldiff_{name}"] = _max_diff(sides[name], ref)
        record.append(row)
        print(f"step {step + 1:3d} lr {row['lr']:.4f}  loss ref {row['loss_reference']:.6f} fast {row['loss_fast']:.6f} "
              f"literal {row['loss_literal']:.6f}  max |w - w_ref| fast {row['weights_absdiff_fast']:.2e} "
              f"literal {row['weights_absdiff_literal']:.2e}", flush=True)
    worst_loss = max(abs(r[f"loss_{n}"] - r["loss_reference"]) for r in record for n in ("fast", "literal"))
    worst_w = max(max(r["weights_reldiff_fast"], r["weights_reldiff_literal"]) for r in record)
    print(f"{args.steps} steps, {args.dtype}: largest loss difference {worst_loss:.2e}; largest weight difference {worst_w:.2e} of the largest weight")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"dtype": args.dtype, "steps": record}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
