"""Write a small class-stratified copy of a prepared NW-UCLA dataset (for dry runs of reproduce_ucla.sh).

    python benchmarks/ucla_subset.py SRC OUT [--per-class-train 4] [--per-class-eval 2] [--protocol xview]

Every class keeps the first N training, validation and test sequences of the protocol's parts (in
stored order, no randomness), so the copy has all classes and the same split names.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from skelar.store.prepared import PreparedDataset, PreparedWriter


def _first_per_class(idx: np.ndarray, labels: np.ndarray, n: int, num_classes: int) -> list[int]:
    return sorted(int(i) for c in range(num_classes) for i in idx[labels[idx] == c][:n])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("src")
    p.add_argument("out")
    p.add_argument("--protocol", default="xview")
    p.add_argument("--per-class-train", type=int, default=4)
    p.add_argument("--per-class-eval", type=int, default=2)
    args = p.parse_args(argv)
    ds = PreparedDataset(args.src)
    labels = np.asarray(ds.labels)
    parts = {
        part: _first_per_class(np.asarray(ds.split(args.protocol, part)), labels, n, ds.num_classes)
        for part, n in (("train", args.per_class_train), ("val", args.per_class_eval), ("test", args.per_class_eval))
    }
    with PreparedWriter(args.out, ds.layout, ds.classes, num_channels=ds.num_channels, num_persons=ds.num_persons,
                        name=f"{ds.name}-subset", preprocessing={"subset_of": str(args.src), **dict(ds.preprocessing or {})}) as w:
        for part, idx in parts.items():
            w.set_split(args.protocol, part, [w.add(ds[i], ds.sample_meta(i)) for i in idx])
    print(" ".join(f"{k} {len(v)}" for k, v in parts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
