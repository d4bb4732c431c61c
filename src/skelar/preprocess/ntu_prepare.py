"""Prepare NTU RGB+D 60/120 from the raw ``.skeleton`` files: parallel, resumable, memory-bounded.

Work proceeds in shards of ``shard_size`` files (in name order). Each shard is processed in parts (one
part with one worker; several, spread over the worker processes, with more): a worker parses its
part's files together, runs the pipeline and writes the part file itself (``OUT.partial/part_*.npy``,
atomically), so no sample data passes between processes. When all parts of shard ``k`` are on disk,
the marker ``OUT.partial/shard_NNNNN.npy`` (the list of its parts) is written atomically. An
interrupted run started again with the same inputs and options skips the finished shards, and the
final dataset is byte-identical to that of an uninterrupted run. The final step streams the parts one
at a time (memory-mapped) into a :class:`~skelar.store.prepared.PreparedWriter`, so memory stays
bounded by one part per worker whatever the corpus size (the full NTU120 has 114,480 files);
``OUT.partial`` is removed at the end.

Files that cannot be used are reported, never silently dropped: ``OUT/prepare_report.json`` lists
samples excluded by the missing-skeleton list, files with no body in any frame, malformed files (with
file and line), and the count of files outside the requested dataset.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

import numpy as np

from skelar.store.prepared import PreparedDataset, PreparedWriter, SampleMeta
from skelar.formats.ntu_skeleton import NTU_NAME_RE, NtuSkeleton, NtuSkeletonError, read_ntu_skeletons
from skelar.preprocess.ntu_classes import ntu_classes
from skelar.preprocess.ntu_protocols import NTU_PROTOCOLS, in_dataset, name_fields, protocol_split, read_missing_list
from skelar.preprocess.ntu_sgn import SGN_PARAMS, SgnPipelineError, sgn_sample
from skelar.preprocess.protocol_parts import protocol_parts

__all__ = ["PIPELINES", "PrepareResult", "prepare_ntu", "find_skeleton_files", "process_ntu_files"]

REPORT_FILE = "prepare_report.json"

log = logging.getLogger(__name__)

PIPELINES: dict[str, dict[str, Any]] = {
    "sgn": {
        "pipeline": "sgn",
        "reference": "microsoft/SGN data/ntu: get_raw_skes_data, get_raw_denoised_data, seq_transformation",
        "frames_without_body": "dropped",
        "body_grouping": "by bodyID, counted frame indices",
        "noise_len_thres": SGN_PARAMS["noise_len_thres"],
        "noise_spr_thres1": SGN_PARAMS["noise_spr_thres1"],
        "noise_spr_thres2": SGN_PARAMS["noise_spr_thres2"],
        "actor_order": "motion (sum of per-axis joint variances), descending",
        "missing_frames": "rows with zero sum removed (files with more than one bodyID)",
        "translation": "sequence-level: minus SpineMid (joint 1) of actor 1 in its first non-zero frame; "
        "absent-actor frames stay zero",
        "rotation": "none",
        "scale": "none",
        "padding": "none (variable-length samples)",
        "persons": 2,
    },
    # pipeline B (AS-GCN / LTSCL): skelar.preprocess.ntu_energy, fixture asgcn_ntu
    "energy": {
        "pipeline": "energy",
        "reference": "limaosen0/AS-GCN and LTSCL data_gen: read_xyz + pre_normalization (without null-frame padding)",
        "frames_without_body": "kept as zero frames",
        "body_grouping": "by position in each frame's body list (up to 4 slots), not by bodyID",
        "actor_order": "energy (sum over xyz of the std over non-empty frames), 2 highest, descending",
        "null_frame_padding": False,
        "translation": "per frame: minus SpineMid (joint 1) of person 0; zero joints stay zero",
        "rotation": "frame 0 of person 0: spine (0->1) to +z, then shoulders (8->4) to +x",
        "scale": "none",
        "padding": "none (variable-length samples; the reference pads to 300 with zeros)",
        "persons": 2,
    },
    # pipeline B as 2s-AGCN / MS-G3D / Shift-GCN run it: with the null-frame padding step
    "energy_2sagcn": {
        "pipeline": "energy_2sagcn",
        "reference": "2s-AGCN data_gen: ntu_gendata + pre_normalization (with null-frame padding)",
        "frames_without_body": "kept as zero frames",
        "body_grouping": "by position in each frame's body list (up to 4 slots), not by bodyID",
        "actor_order": "energy (sum over xyz of the std over non-empty frames), 2 highest, descending",
        "null_frame_padding": True,
        "translation": "per frame: minus SpineMid (joint 1) of person 0; zero joints stay zero",
        "rotation": "frame 0 of person 0: spine (0->1) to +z, then shoulders (8->4) to +x",
        "scale": "none",
        "padding": "300 frames: leading empty frames removed, trailing ones filled by repeating the sequence",
        "persons": 2,
    },
}
_FORMAT = 4  # version of the OUT.partial layout


@dataclass
class PrepareResult:
    """What :func:`prepare_ntu` did; ``report`` is also written to ``OUT/prepare_report.json``."""

    out: Path
    num_samples: int
    report: dict[str, Any] = field(default_factory=dict)


def find_skeleton_files(src: str | os.PathLike) -> dict[str, Path]:
    """``name -> path`` of every ``*.skeleton`` under ``src`` (recursively), in name order."""
    src = Path(src)
    if not src.is_dir():
        raise NotADirectoryError(f"{src}: not a directory (expected the folder of NTU .skeleton files)")
    found: dict[str, Path] = {}
    for p in src.rglob("*.skeleton"):
        name = p.name[: -len(".skeleton")]
        if name in found:
            raise ValueError(f"{p}: sample {name} also found at {found[name]}")
        found[name] = p
    if not found:
        raise FileNotFoundError(f"{src}: no .skeleton files found (expected e.g. S001C001P001R001A001.skeleton)")
    return dict(sorted(found.items()))


Result = tuple[str, "np.ndarray | None", "str | None", "str | None"]


def _process_one(path: str, ske: NtuSkeleton | NtuSkeletonError, pipeline: str) -> Result:
    name = Path(path).name[: -len(".skeleton")]
    if isinstance(ske, NtuSkeletonError):  # "<file>:<line>: ..."
        return name, None, "malformed", str(ske)
    try:
        if not ske.body_counts.any():
            return name, None, "no_body", f"{path}: no body in any of its {ske.num_frames} frames"
        if pipeline in ("energy", "energy_2sagcn"):
            # imported here: the energy pipeline pulls in torch, which the SGN path does not need
            from skelar.preprocess.ntu_energy import energy_pipeline

            return name, energy_pipeline(ske, pad_null_frames=pipeline == "energy_2sagcn"), None, None
        return name, sgn_sample(ske, name), None, None
    except SgnPipelineError as e:
        return name, None, "unusable", f"{path}: {e}"
    except Exception as e:  # noqa: BLE001 - one unusable file must not lose the others
        return name, None, "error", f"{path}: {type(e).__name__}: {e}"


def process_ntu_files(paths: list[str], pipeline: str = "sgn") -> list[Result]:
    """Files -> ``(name, (3, T, 25, 2) float32 or None, error kind or None, message or None)`` each.

    Error kinds: ``"no_body"`` (no body in any frame), ``"malformed"`` (bad text, message names file
    and line), ``"unusable"`` (the pipeline cannot make a sample), ``"error"`` (anything else).
    The files are parsed together (:func:`read_ntu_skeletons`), which is faster than one by one."""
    return [_process_one(p, ske, pipeline) for p, ske in zip(paths, read_ntu_skeletons(paths, ("x", "y", "z")))]


def _work(task: tuple[int, int, list[str], str, str]) -> tuple[int, int, int]:
    """One part of a shard, in a worker: process its files in batches and write the part file."""
    k, j, paths, pipeline, out = task
    results: list[Result] = []
    for i in range(0, len(paths), _BATCH):
        results.extend(process_ntu_files(paths[i : i + _BATCH], pipeline))
    _write_part(Path(out), results)
    return k, j, len(paths)


_PART_KEYS = ("ok_names", "lengths", "problems")


@contextlib.contextmanager
def _atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A binary file written under a temporary name, flushed to disk and renamed to ``path`` on success."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        yield f
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _write_part(path: Path, results: list[tuple]) -> None:
    """One part file: the arrays of ``_PART_KEYS``, then the frames of every usable sample as one
    ``(total T, 3, 25, 2)`` float32 array, as consecutive ``.npy`` records (no zip, no checksum pass,
    no concatenation in memory: each sample's frames are written where they lie), written to a
    temporary name, flushed to disk and renamed into place."""
    ok = [r for r in results if r[1] is not None]
    frames = [np.ascontiguousarray(r[1].transpose(1, 0, 2, 3), dtype=np.float32) for r in ok]
    problems = [[r[0], r[2], r[3]] for r in results if r[1] is None]
    arrays = (np.asarray([r[0] for r in ok], dtype=str), np.asarray([len(f) for f in frames], np.int64),
              np.asarray(json.dumps(problems)))
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False,
              "shape": (sum(len(f) for f in frames), 3, 25, 2)}
    with _atomic_file(path) as f:
        for arr in arrays:
            np.save(f, arr, allow_pickle=False)
        np.lib.format.write_array_header_1_0(f, header)
        for fr in frames:
            f.write(memoryview(fr).cast("B"))


def _read_shard(marker: Path) -> tuple[Iterator[tuple[str, np.ndarray]], list[list[str]]]:
    """The samples (in order, lazily) and the problems of a finished shard, from its part files."""
    parts = [_read_part(marker.parent / str(name)) for name in np.load(marker, allow_pickle=False)]

    def samples() -> Iterator[tuple[str, np.ndarray]]:
        for part_samples, _ in parts:
            yield from part_samples

    return samples(), [p for _, part_problems in parts for p in part_problems]


def _write_marker(path: Path, parts: list[str]) -> None:
    """The shard marker: the names of its part files, written atomically once they are all on disk."""
    with _atomic_file(path) as f:
        np.save(f, np.asarray(parts, dtype=str), allow_pickle=False)


def _read_part(path: Path) -> tuple[Iterator[tuple[str, np.ndarray]], list[list[str]]]:
    with open(path, "rb") as f:
        z = {key: np.load(f, allow_pickle=False) for key in _PART_KEYS}
        np.lib.format.read_magic(f)
        shape, _, _ = np.lib.format.read_array_header_1_0(f)
        offset = f.tell()
    lengths = z["lengths"]
    ok_names = [str(n) for n in z["ok_names"]]
    # memory-mapped: the frames go from the page cache to the writer without an extra copy
    frames = np.memmap(path, np.float32, "r", offset, shape) if shape[0] else np.zeros(shape, np.float32)

    def samples() -> Iterator[tuple[str, np.ndarray]]:
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        for i, n in enumerate(ok_names):
            yield n, frames[offsets[i] : offsets[i + 1]].transpose(1, 0, 2, 3)

    return samples(), json.loads(str(z["problems"]))


def _plan_matches(partial: Path, plan: dict[str, Any]) -> bool:
    f = partial / "plan.json"
    return f.is_file() and json.loads(f.read_text()) == plan


def prepare_ntu(
    src: str | os.PathLike,
    out: str | os.PathLike,
    dataset: str,
    missing_list: str | os.PathLike | None = None,
    workers: int = 1,
    pipeline: str = "sgn",
    shard_size: int = 1000,
    val_fraction: float = 0.1,
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
    on_shard: Callable[[int], None] | None = None,
) -> PrepareResult:
    """Prepare ``dataset`` (``"ntu60"`` or ``"ntu120"``) from the ``.skeleton`` files under ``src``.

    ``missing_list``: the NTU authors' list of samples with missing skeletons (excluded).
    ``on_shard(k)`` is called after shard ``k`` is safely on disk (progress hooks, tests).
    """
    if dataset not in NTU_PROTOCOLS:
        raise ValueError(f"unknown NTU dataset {dataset!r} (expected ntu60 or ntu120)")
    if pipeline not in PIPELINES:
        raise ValueError(f"unknown NTU pipeline {pipeline!r} (known: {', '.join(PIPELINES)})")
    if int(workers) < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if int(shard_size) < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    out = Path(out)
    partial = out.with_name(out.name + ".partial")
    if out.exists() and not overwrite:
        if partial.exists() and (out / REPORT_FILE).is_file():  # killed after publishing, before cleaning up
            shutil.rmtree(partial, ignore_errors=True)
        raise FileExistsError(f"{out} already exists (use --overwrite to replace it)")

    files = find_skeleton_files(src)
    bad_names = sorted(n for n in files if not NTU_NAME_RE.fullmatch(n))
    named = [n for n in files if NTU_NAME_RE.fullmatch(n)]
    fields = name_fields(named) if named else {k: np.zeros(0, np.int64) for k in ("setup", "camera", "performer", "replication", "action")}
    inside = in_dataset(fields, dataset)
    candidates = [n for n, keep in zip(named, inside) if keep]
    excluded = read_missing_list(missing_list) if missing_list else set()
    listed_missing = sorted(n for n in candidates if n in excluded)
    todo = [n for n in candidates if n not in excluded]
    if not todo:
        raise ValueError(f"{src}: no {dataset} sample left to prepare ({len(files)} .skeleton files found)")

    plan = {
        "format": _FORMAT,
        "dataset": dataset,
        "pipeline": pipeline,
        "shard_size": int(shard_size),
        "files": [str(files[n]) for n in todo],
    }
    if partial.exists() and not _plan_matches(partial, plan):
        raise ValueError(f"{partial} holds an unfinished preparation of other files or options; "
                         "delete it to start over")
    partial.mkdir(parents=True, exist_ok=True)
    if not (partial / "plan.json").is_file():
        tmp = partial / "plan.json.tmp"
        tmp.write_text(json.dumps(plan))
        os.replace(tmp, partial / "plan.json")

    shards = [todo[i : i + shard_size] for i in range(0, len(todo), shard_size)]
    shard_path = [partial / f"shard_{k:05d}.npy" for k in range(len(shards))]
    pending = [k for k in range(len(shards)) if not shard_path[k].is_file()]
    done_files = sum(len(shards[k]) for k in range(len(shards)) if k not in set(pending))
    if done_files:
        log.info("resuming: %d of %d files already prepared in %s", done_files, len(todo), partial)
    _run_shards(shards, shard_path, pending, files, pipeline, workers, progress, done_files, len(todo), on_shard)

    # -- assemble -----------------------------------------------------------------------------
    problems: list[list[str]] = []
    writer = PreparedWriter(
        out,
        layout="ntu25",
        classes=ntu_classes(dataset),
        num_channels=3,
        num_persons=2,
        name=dataset,
        preprocessing=PIPELINES[pipeline],
        extra={
            "source": {
                "dataset": dataset,
                "files_found": len(files),
                "missing_list": str(missing_list) if missing_list else None,
                "excluded_by_missing_list": len(listed_missing),
            },
            "validation": {"fraction": float(val_fraction), "by": "subject", "seed": int(seed)},
        },
        overwrite=overwrite,
    )
    row = {n: i for i, n in enumerate(named)}
    kept: list[int] = []  # rows of `fields` written, in sample order
    try:
        for path in shard_path:
            samples, shard_problems = _read_shard(path)
            problems.extend(shard_problems)
            for name, data in samples:
                i = row[name]
                writer.add(data, SampleMeta(
                    name=name, label=int(fields["action"][i]) - 1, subject=int(fields["performer"][i]),
                    view=int(fields["camera"][i]), setup=int(fields["setup"][i]),
                    replication=int(fields["replication"][i]),
                ))
                kept.append(i)
        if not kept:
            raise ValueError(f"{src}: none of the {len(todo)} files gave a usable sample (see the log)")
        kf = {k: v[kept] for k, v in fields.items()}
        labels = kf["action"] - 1
        for protocol in NTU_PROTOCOLS[dataset]:
            train, test = protocol_split(kf, dataset, protocol)
            parts = protocol_parts(train, test, labels, kf["performer"], val_fraction=val_fraction, seed=seed)
            for part, idx in parts.items():
                writer.set_split(protocol, part, idx)
        by_kind: dict[str, dict[str, str]] = {}
        for name, kind, msg in problems:
            by_kind.setdefault(kind, {})[name] = msg
        report = {
            "dataset": dataset,
            "pipeline": pipeline,
            "files_found": len(files),
            "samples_written": len(kept),
            "not_ntu_names": bad_names,
            "outside_dataset": int((~inside).sum()),
            "excluded_by_missing_list": listed_missing,
            "no_body": sorted(by_kind.pop("no_body", {})),
            "failed": {k: dict(sorted(v.items())) for k, v in sorted(by_kind.items())},
        }
        # the report is part of the published folder: one rename makes dataset and report visible together
        writer.close(files={REPORT_FILE: json.dumps(report, indent=1) + "\n"})
    except BaseException:
        writer.abort()
        raise
    shutil.rmtree(partial, ignore_errors=True)
    _log_summary(report)
    return PrepareResult(out=out, num_samples=len(PreparedDataset(out)), report=report)


_BATCH = 32  # files parsed together
_PARTS_PER_WORKER = 4  # parts per shard and worker: the workers stay busy to the end of a short run


def _run_shards(shards, shard_path, pending, files, pipeline, workers, progress, done, total, on_shard) -> None:
    """Process the parts of the pending shards (in the worker processes, which write the part files),
    and write each shard's marker, in order, once all its parts are on disk."""
    if not pending:
        return
    tasks, parts = [], {}
    for k in pending:
        paths = [str(files[n]) for n in shards[k]]
        n_parts = 1 if workers == 1 else min(len(paths), _PARTS_PER_WORKER * workers)
        bounds = np.linspace(0, len(paths), n_parts + 1).round().astype(int).tolist()
        parts[k] = [f"part_{k:05d}_{j:03d}.npy" for j in range(n_parts)]
        tasks += [(k, j, paths[a:b], pipeline, str(shard_path[k].parent / parts[k][j]))
                  for j, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))]
    bar = None
    if progress:  # (imported only when shown: tqdm takes a noticeable part of a short run's start-up)
        from tqdm import tqdm

        bar = tqdm(total=total, initial=done, unit="file", desc="prepare", dynamic_ncols=True, disable=None)  # terminal only
    pool = None
    if workers > 1:
        import multiprocessing

        pool = multiprocessing.Pool(workers)
    try:
        for k, j, n in (pool.imap(_work, tasks) if pool else map(_work, tasks)):
            if bar is not None:
                bar.update(n)
            if j == len(parts[k]) - 1:  # in order: all parts of shard k are on disk
                _write_marker(shard_path[k], parts[k])
                if on_shard is not None:
                    on_shard(k)
    finally:
        if bar is not None:
            bar.close()
        if pool is not None:
            pool.terminate()
            pool.join()


def _log_summary(report: dict[str, Any]) -> None:
    log.info("wrote %d samples", report["samples_written"])
    if report["excluded_by_missing_list"]:
        log.info("excluded %d samples listed as missing skeletons", len(report["excluded_by_missing_list"]))
    if report["outside_dataset"]:
        log.info("ignored %d files outside %s", report["outside_dataset"], report["dataset"])
    if report["not_ntu_names"]:
        log.warning("ignored %d files whose names are not NTU sample names", len(report["not_ntu_names"]))
    if report["no_body"]:
        log.warning("skipped %d files with no body in any frame", len(report["no_body"]))
    for kind, items in report["failed"].items():
        log.warning("skipped %d %s files, e.g. %s", len(items), kind, next(iter(items.values())))
