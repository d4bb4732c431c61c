"""Prepare NW-UCLA (``all_sqe`` JSON release) as a skelar dataset: ``(3, T, 20, 1)``, layout ``ucla20``.

Protocol ``xview`` (the standard cross-view protocol of every NW-UCLA paper): views 1 and 2 train
(1,020 sequences), view 3 tests (464); a ``val`` part is carved from the training subjects, so the
stored ``train`` + ``val`` are the 1,020 training sequences. The membership equals the hard-coded
lists of CTR-GCN's ``feeders/feeder_ucla.py``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from skelar.store.prepared import PreparedDataset, PreparedWriter, SampleMeta
from skelar.formats.ucla import UCLA_CLASSES, iter_ucla_dir
from skelar.preprocess.protocol_parts import protocol_parts

__all__ = ["UCLA_TRAIN_VIEWS", "UCLA_TEST_VIEWS", "prepare_ucla"]

UCLA_TRAIN_VIEWS = (1, 2)
UCLA_TEST_VIEWS = (3,)


def prepare_ucla(
    src: str | os.PathLike,
    out: str | os.PathLike,
    val_fraction: float = 0.1,
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = False,
) -> PreparedDataset:
    """Read every sequence of ``src`` (the ``all_sqe`` folder) into a prepared dataset at ``out``."""
    preprocessing: dict[str, Any] = {
        "pipeline": "ucla_raw",
        "description": "raw Kinect v1 coordinates (metres), no centring or resampling; apply the CTR-GCN "
        "NW-UCLA view with transforms center_first_frame, minmax_normalize, ucla_sample",
        "val": {"fraction": val_fraction, "by": "subject", "seed": seed},
    }
    seqs = iter_ucla_dir(src)
    if progress:
        from tqdm import tqdm

        seqs = tqdm(seqs, desc="nw-ucla", unit="seq")
    with PreparedWriter(out, "ucla20", UCLA_CLASSES, num_channels=3, num_persons=1, name="nw-ucla",
                        preprocessing=preprocessing, extra={"source": str(src)}, overwrite=overwrite) as w:
        views, subjects, labels = [], [], []
        for seq in seqs:
            w.add(seq.to_canonical(), SampleMeta(name=seq.name, label=seq.label, subject=seq.subject, view=seq.view,
                                                 replication=seq.repetition))
            views.append(seq.view)
            subjects.append(seq.subject)
            labels.append(seq.label)
        views_a = np.asarray(views)
        parts = protocol_parts(
            np.flatnonzero(np.isin(views_a, UCLA_TRAIN_VIEWS)),
            np.flatnonzero(np.isin(views_a, UCLA_TEST_VIEWS)),
            np.asarray(labels),
            np.asarray(subjects),
            val_fraction=val_fraction,
            seed=seed,
        )
        for part, idx in parts.items():
            w.set_split("xview", part, idx)
    return PreparedDataset(out)
