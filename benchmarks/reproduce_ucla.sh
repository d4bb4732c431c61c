#!/usr/bin/env bash
# Train the full NW-UCLA recipes side by side on one GPU and collect the results.
#
#   benchmarks/reproduce_ucla.sh [--data DIR] [--out DIR] [--jobs N] [--device DEV] [--workers N]
#                                [--no-amp] [--torchrun] [--dry-run]
#
# Runs (configs/*.yaml, full recipes): CTR-GCN joint; CTR-GCN + SF-Head in four streams (joint,
# bone, joint motion, bone motion); SGN; impSGN. Up to --jobs trainings run at once (default 7: all
# of them; they are small), each with --amp (fp16 + gradient scaler on CUDA, bf16 on CPU). Every run
# is resumable: rerunning the script skips finished runs and resumes interrupted ones (--resume).
# Afterwards the SF-Head streams are scored on the validation part and combined with
# `skelar ensemble`, the weights chosen on validation scores only; summary.txt lists every result.
#
# --dry-run: CPU, a class-stratified subset of the data (benchmarks/ucla_subset.py: 4 training and
# 2 validation/test sequences per class), one epoch of two steps per run, two jobs at once. It checks
# the whole chain (configs, training, resume layout, validation scoring, ensemble) in a few minutes;
# its accuracies mean nothing.
#
# --torchrun launches each training through `torch.distributed.run --standalone --nproc_per_node=1`
# (the data-parallel code path with one process). PYTHON (default: python) is the interpreter.
set -euo pipefail

DATA=data/ucla
OUT=runs/reproduce-ucla
JOBS=7
DEVICE=cuda
WORKERS=2
AMP=(--amp)
LAUNCH=()
DRY=0
PY=${PYTHON:-python}

while [ $# -gt 0 ]; do
  case "$1" in
    --data) DATA=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    --device) DEVICE=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --no-amp) AMP=(); shift ;;
    --torchrun) LAUNCH=(-m torch.distributed.run --standalone --nproc_per_node=1); shift ;;
    --dry-run) DRY=1; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "reproduce_ucla.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
mkdir -p "$OUT"
EXTRA=()
if [ "$DRY" = 1 ]; then
  DEVICE=cpu; WORKERS=0
  [ "$JOBS" = 7 ] && JOBS=2
  if [ ! -f "$OUT/data-subset/dataset.yaml" ]; then
    "$PY" "$here/ucla_subset.py" "$DATA" "$OUT/data-subset"
  fi
  DATA=$OUT/data-subset
  EXTRA=(--set train.epochs=1 --set train.max_steps_per_epoch=2 --set data.train_repeat=1
         --set sched.warmup_epochs=0 --set "sched.milestones=[]" --set data.eval_batch_size=16)
fi
if [ ! -d "$DATA" ]; then
  echo "reproduce_ucla.sh: no prepared dataset at $DATA (skelar prepare ucla --src .../all_sqe --out $DATA)" >&2
  exit 2
fi

# name  config  extra overrides
RUNS=(
  "ctrgcn-joint configs/ctrgcn_ucla.yaml"
  "sfhead-joint configs/sfhead_ucla.yaml --set data.stream=joint"
  "sfhead-bone configs/sfhead_ucla.yaml --set data.stream=bone"
  "sfhead-motion configs/sfhead_ucla.yaml --set data.stream=motion"
  "sfhead-bone_motion configs/sfhead_ucla.yaml --set data.stream=bone_motion"
  "sgn configs/sgn_ucla.yaml"
  "impsgn configs/impsgn_ucla.yaml"
)

run_one() {  # name config [overrides...]
  local name=$1 cfg=$2; shift 2
  local dir=$OUT/$name
  if [ -f "$dir/report.json" ]; then
    echo "[$name] done already"; return 0
  fi
  local cmd
  if [ -f "$dir/last.pt" ]; then
    cmd=(train --resume "$dir" -q)
  else
    cmd=(train -c "$root/$cfg" "$@" --set "data.source=$DATA" --set "device=$DEVICE" --set "data.num_workers=$WORKERS"
         --set "name=$name" "${AMP[@]}" "${EXTRA[@]}" --run-dir "$dir" -q)
  fi
  echo "[$name] started $(date -u +%H:%M:%S)"
  if "$PY" "${LAUNCH[@]}" -m skelar "${cmd[@]}" > "$OUT/$name.log" 2>&1; then
    echo "[$name] finished $(date -u +%H:%M:%S)"
  else
    echo "[$name] FAILED (see $OUT/$name.log)"; return 1
  fi
}

start=$(date +%s)
failed=0
for spec in "${RUNS[@]}"; do
  # shellcheck disable=SC2086
  run_one $spec &
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || failed=1; done
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || failed=1; done
[ "$failed" = 0 ] || { echo "some trainings failed; rerun the script to resume them" >&2; exit 1; }
train_s=$(( $(date +%s) - start ))

# the SF-Head 4-stream ensemble: weights chosen on the validation part
streams=(sfhead-joint sfhead-bone sfhead-motion sfhead-bone_motion)
vals=()
for s in "${streams[@]}"; do
  if [ ! -f "$OUT/$s/eval-val/val_scores.npz" ]; then
    "$PY" -m skelar test --checkpoint "$OUT/$s" --split val --device "$DEVICE" --out "$OUT/$s/eval-val" -q > "$OUT/$s.val.log" 2>&1
  fi
  vals+=("$OUT/$s/eval-val/val_scores.npz")
done
"$PY" -m skelar ensemble "${streams[@]/#/$OUT/}" --val "${vals[@]}" \
  --candidates 1,1,1,1 1,1,0.5,0.5 0.6,0.6,0.4,0.4 --out "$OUT/ensemble-sfhead" > "$OUT/ensemble-sfhead.log" 2>&1

"$PY" - "$OUT" "$train_s" <<'EOF' | tee "$OUT/summary.txt"
import json, sys
from pathlib import Path
out, secs = Path(sys.argv[1]), int(sys.argv[2])
print(f"trainings of this invocation: {secs // 60} min {secs % 60} s wall clock (side by side; finished runs are skipped)")
for rep in sorted(out.glob("*/report.json")):
    r = json.loads(rep.read_text())
    if "test" not in r:  # the ensemble's report
        choice = r.get("weight_choice") or {}
        print(f"{rep.parent.name:22} test top-1 {100 * r['top1']:6.2f}%  ({r['num_samples']} samples, weights {r.get('weights')}"
              f"{', chosen on validation' if choice else ''})")
        continue
    amp = (r.get("amp") or {}).get("mode", "off")
    print(f"{rep.parent.name:22} test top-1 {100 * r['test']['top1']:6.2f}%  ({r['test']['num_samples']} samples, "
          f"{r.get('epochs_trained', '?')} epochs, amp {amp}, checkpoint {r.get('checkpoint', '?')})")
EOF
