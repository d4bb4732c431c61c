"""Collect finished training runs into the markdown table of ``docs/results.md``.

Usage::

    python benchmarks/results_table.py runs/ucla/sgn-s0 runs/ucla/sgn-s1 ... [--json rows.json]

Runs are grouped by their directory name without a trailing ``-s<seed>``; each group gives one row:
the test top-1 of the last epoch's weights as mean ± sample standard deviation over its runs (from the
run's own report when it tested its last epoch, else from ``RUN/eval-last/report.json`` written by
``skelar test --checkpoint RUN/last.pt --out RUN/eval-last``), and, for runs that selected their
checkpoint on validation, that checkpoint's test top-1 and epoch; parameters and FLOPs per clip
(counted on the model rebuilt from the checkpoint's metadata), and the training wall time (sum of the
epochs' ``time_s`` in ``metrics.csv``; evaluation of the validation set included, the final test
excluded). The variant column describes the input stream and, for SF-Head runs, which heads and
auxiliary losses (with weights) trained; the last epoch's validation top-1 is shown beside the test.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import statistics
from collections import defaultdict
from pathlib import Path


_LOSS_NAMES = {"f_rl": "F-RL", "f_cl": "F-CL"}  # in the order the variant column lists them


def _variant(config: dict) -> str:
    """``stream`` plus, for SF-Head runs, where the heads sit and which auxiliary losses train them."""
    stream = (config.get("data") or {}).get("stream") or "joint"
    kwargs = (config.get("model") or {}).get("kwargs") or {}
    if not kwargs.get("sf_head"):
        return stream
    weights = (config.get("loss") or {}).get("aux_weights") or {}
    order = list(_LOSS_NAMES)
    names = sorted((k for k, v in weights.items() if v), key=lambda k: order.index(k) if k in order else len(order))
    losses = " + ".join(f"{_LOSS_NAMES.get(k, k)} {weights[k]:g}" for k in names) or "no aux loss"
    return f"{stream}; SF-Head ({kwargs['sf_head']}), {losses}"


def _run_row(run: Path) -> dict:
    import torch

    from skelar.engine.checkpoint import model_from_checkpoint
    from skelar.models.profile import count_flops, count_parameters, example_input

    report = json.loads((run / "report.json").read_text())
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    model, ckpt = model_from_checkpoint(run / report["checkpoint"])
    torch.manual_seed(0)
    flops = count_flops(model, example_input(model))
    meta = ckpt["metadata"]
    last = run / "eval-last" / "report.json"  # `skelar test --checkpoint RUN/last.pt --out RUN/eval-last`
    return {
        "last_top1": (
            100 * report["test"]["top1"] if report["checkpoint"] == "last.pt"  # the run itself tested its last epoch
            else 100 * json.loads(last.read_text())["top1"] if last.is_file() else float("nan")
        ),
        "selected_on_val": report["checkpoint"] != "last.pt",
        "run": run.name,
        "model": meta["model"]["name"],
        "seed": (meta.get("config") or {}).get("seed"),
        "top1": 100 * report["test"]["top1"],
        "val": 100 * report.get("best_val_top1", float("nan")),
        "epoch": report.get("checkpoint_epoch"),
        "epochs": len(rows),
        "variant": _variant(meta.get("config") or {}),
        "last_val": 100 * float(rows[-1]["val_top1"]) if rows[-1].get("val_top1") else float("nan"),
        "params": count_parameters(model),
        "gflops": flops / 1e9,
        "minutes": sum(float(r["time_s"]) for r in rows) / 60,
    }


def _finite(values) -> list[float]:
    return [v for v in values if v == v]  # NaN: a run without an eval-last report or validation scores


def _mean_std(values: list[float]) -> str:
    values = _finite(values)
    if not values:
        return "–"
    return f"{statistics.mean(values):.2f}" + (f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else " (one run)")


def _mean(values) -> str:
    values = _finite(values)
    return f"{statistics.mean(values):.2f}" if values else "–"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--json", type=Path, help="also write the per-run rows as JSON")
    args = p.parse_args(argv)
    groups: dict[str, list[dict]] = defaultdict(list)
    per_run = []
    for run in args.runs:
        row = _run_row(run)
        per_run.append(row)
        groups[re.sub(r"-s\d+$", "", run.name)].append(row)
    print(
        "| runs | model | variant | seeds | epochs | **test top-1 (%), last epoch**: mean ± std | per seed "
        "| val top-1 (%), last epoch: mean | test top-1 (%) of the best-validation checkpoint (epoch) "
        "| params | GFLOPs/clip | train time/run (min) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, rows in groups.items():
        lasts = [r["last_top1"] for r in rows]
        per_seed = " / ".join(f"{v:.2f}" for v in lasts)
        selected = [f"{r['top1']:.2f} ({r['epoch']})" for r in rows if r["selected_on_val"]]
        print(
            f"| {name} | `{rows[0]['model']}` | {rows[0]['variant']} | {', '.join(str(r['seed']) for r in rows)} | {rows[0]['epochs']} "
            f"| {_mean_std(lasts)} | {per_seed} | {_mean(r['last_val'] for r in rows)} | {' / '.join(selected) or '–'} "
            f"| {rows[0]['params']:,} | {rows[0]['gflops']:.3f} | {statistics.mean(r['minutes'] for r in rows):.1f} |"
        )
    if args.json:
        args.json.write_text(json.dumps(per_run, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
