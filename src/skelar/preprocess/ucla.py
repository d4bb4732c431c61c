"""Prepare NW-UCLA (``all_sqe`` JSON release) as a skelar dataset: ``(3, T, 20, 1)``, layout ``ucla20``.

Protocol ``xview`` (the standard cross-view protocol of every NW-UCLA paper): views 1 and 2 train
(1,020 sequences), view 3 tests (464); a ``val`` part is carved from the training subjects, so the
stored ``train`` + ``val`` are the 1,020 training sequences. The membership equals the hard-coded
lists of CTR-GCN's ``feeders/feeder_ucla.py``.

Files that cannot be read are reported, never silently dropped, and do not stop the others (as for
NTU): ``OUT/prepare_report.json`` lists each with its error (file and cause); the rest are prepared.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from skelar.store.prepared import PreparedDataset, PreparedWriter, SampleMeta
from skelar.formats.ucla import UCLA_CLASSES, UclaSequence, iter_ucla_results
from skelar.preprocess.protocol_parts import protocol_parts

__all__ = ["UCLA_TRAIN_VIEWS", "UCLA_TEST_VIEWS", "prepare_ucla"]

UCLA_TRAIN_VIEWS = (1, 2)
UCLA_TEST_VIEWS = (3,)
REPORT_FILE = "prepare_report.json"

log = logging.getLogger(__name__)


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
    results = iter_ucla_results(src)
    if progress:
        from tqdm import tqdm

        results = tqdm(results, desc="nw-ucla", unit="seq", disable=None)  # shown on a terminal only
    failed: dict[str, str] = {}
    found = 0
    w = PreparedWriter(out, "ucla20", UCLA_CLASSES, num_channels=3, num_persons=1, name="nw-ucla",
                       preprocessing=preprocessing, extra={"source": str(src)}, overwrite=overwrite)
    try:
        views, subjects, labels = [], [], []
        for seq in results:
            found += 1
            if not isinstance(seq, UclaSequence):
                failed[Path(str(seq).split(": ", 1)[0]).stem] = str(seq)
                log.warning("skipped: %s", seq)
                continue
            w.add(seq.to_canonical(), SampleMeta(name=seq.name, label=seq.label, subject=seq.subject, view=seq.view,
                                                 replication=seq.repetition))
            views.append(seq.view)
            subjects.append(seq.subject)
            labels.append(seq.label)
        if not len(w):
            raise ValueError(f"{src}: none of the {found} files is a usable sequence, e.g. {next(iter(failed.values()))}")
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
        report = {"dataset": "nw-ucla", "files_found": found, "samples_written": found - len(failed),
                  "failed": {"malformed": dict(sorted(failed.items()))} if failed else {}}
        w.close(files={REPORT_FILE: json.dumps(report, indent=1) + "\n"})  # published together, in one rename
    except BaseException:
        w.abort()
        raise
    if failed:
        log.warning("skipped %d unreadable files (listed in %s)", len(failed), Path(out) / REPORT_FILE)
    return PreparedDataset(out)
