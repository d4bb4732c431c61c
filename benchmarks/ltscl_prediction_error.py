"""Frame-prediction error of an LTSCL checkpoint on a dataset split.

For every sample of the split (the checkpoint's own test transforms, first clip): the mean squared error
between the model's predicted future frames and the target frames of the ``ltscl_clip`` view (person 0),
beside two baselines that need no model: repeating the last observed frame, and predicting zeros.

    python benchmarks/ltscl_prediction_error.py --checkpoint RUN/last.pt --data data/ucla [--protocol xview] [--split test]

Prints one JSON object: samples, mse (model), mse_last_frame, mse_zero, and the per-future-frame model MSE.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from skelar.data import PreparedDataset
from skelar.engine.inference import load_for_inference


def prediction_error(checkpoint: str, data: str, protocol: str, split: str, batch: int = 64) -> dict:
    lm = load_for_inference(checkpoint, "cpu")
    model = lm.model.eval()
    t_in, t_f, _ = model.frames
    ds = PreparedDataset(data)
    idx = ds.split(protocol, split)
    sq = sq_last = sq_zero = 0.0
    per_frame = np.zeros(t_f)
    n = 0
    for start in range(0, len(idx), batch):
        clips = [lm.transform(ds[int(i)], np.random.default_rng([lm.seed, 0, int(i), 0])) for i in idx[start : start + batch]]
        x = torch.from_numpy(np.stack(clips).astype(np.float32))
        with torch.no_grad():
            pred = model(x)["pred"]  # (B, C, F, V), person 0
        target = x[:, :, t_in : t_in + t_f, :, 0]
        last = x[:, :, t_in - 1 : t_in, :, 0].expand_as(target)
        err = (pred - target) ** 2
        sq += float(err.mean(dim=(1, 2, 3)).sum())
        per_frame += err.mean(dim=(1, 3)).sum(0).numpy()
        sq_last += float(((last - target) ** 2).mean(dim=(1, 2, 3)).sum())
        sq_zero += float((target**2).mean(dim=(1, 2, 3)).sum())
        n += len(clips)
    return {"checkpoint": checkpoint, "split": f"{protocol}/{split}", "samples": n, "mse": sq / n, "mse_last_frame": sq_last / n,
            "mse_zero": sq_zero / n, "mse_per_future_frame": [round(v / n, 5) for v in per_frame]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--protocol", default="xview")
    p.add_argument("--split", default="test")
    a = p.parse_args()
    print(json.dumps(prediction_error(a.checkpoint, a.data, a.protocol, a.split), indent=2))


if __name__ == "__main__":
    main()
