"""Benchmark ``skelar prepare ntu60`` against the reference SGN scripts on the same NTU-format corpus.

    python benchmarks/bench_prepare_ntu.py --sgn PATH_TO_microsoft/SGN [--num-files 2000] [--workers 1,2] [--rounds 2]

``--sgn`` is a checkout of https://github.com/microsoft/SGN (or its bare ``.git`` directory). Its three
``data/ntu/*.py`` scripts are copied to ``.refs/sgn/`` (git-ignored, never committed) and run unmodified
in a scratch directory laid out as they expect (``statistics/``, ``nturgb+d_skeletons/``); a small
driver restores the NumPy aliases they use (``np.int``, ``np.string_``) and stands in for ``h5py``
(arrays written with ``np.save``) and ``sklearn.model_selection.train_test_split`` (a seeded shuffle),
which are not skelar dependencies. Both sides are timed end to end as separate processes (interpreter
start and imports included), back to back, in ``--rounds`` rounds, and the outputs of every run are
compared array by array. Each run reports wall-clock files/s and the process CPU time (user + system,
worker processes included) per file, with the load average before and after: on a machine shared
with other jobs the CPU-time ratio is the steadier comparison. The corpus is read once before the
first run, so that both sides find it in the page cache.

What each side does, from the same ``.skeleton`` files to the same arrays: the reference parses every
file line by line (``get_raw_skes_data.py``: positions and colour coordinates, pickled), denoises
(``get_raw_denoised_data.py``, pickled) and translates, pads to 300 frames, splits and saves
(``seq_transformation.py``), in one process as released; ``skelar prepare ntu60`` parses, denoises,
translates and writes its prepared dataset with all splits (``--workers`` processes).

The corpus is made from the 5 real and 13 synthetic files in ``../shared/data`` (or ``--base DIR``):
each generated file takes a random base file, a random frame range (at least 24 frames), sometimes
the range played forwards then backwards (up to 300 frames), millimetre noise on x, y, z, a new
bodyID offset, and a unique NTU60 sample name. About 60% of the files come from the one-body real
recordings, 40% from the multi-body synthetic cases (NTU60 itself is about 80% one-body files).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = ("get_raw_skes_data.py", "get_raw_denoised_data.py", "seq_transformation.py")

DRIVER = r'''
import io, os, pickle, runpy, sys, time, types
import numpy as np

# NumPy 2 removed the aliases the reference scripts use
np.int = int
np.string_ = np.bytes_

# stand-ins for h5py and sklearn (not skelar dependencies); same amount of data written
h5 = types.ModuleType("h5py")
class _File:
    def __init__(self, path, mode="r"):
        self.dir = path + ".d"
        os.makedirs(self.dir, exist_ok=True)
    def create_dataset(self, key, data):
        np.save(os.path.join(self.dir, key + ".npy"), data)
    def close(self):
        pass
h5.File = _File
sys.modules["h5py"] = h5
sk = types.ModuleType("sklearn"); ms = types.ModuleType("sklearn.model_selection")
def train_test_split(idx, test_size, random_state):
    idx = np.asarray(idx); perm = np.random.RandomState(random_state).permutation(len(idx))
    n = int(np.ceil(test_size * len(idx)))
    return idx[perm[n:]], idx[perm[:n]]
ms.train_test_split = train_test_split
sys.modules["sklearn"] = sk; sys.modules["sklearn.model_selection"] = ms

refs, result_file = sys.argv[1], sys.argv[2]
times = {}
t_all = time.perf_counter()
out = None
with open(os.devnull, "w") as devnull:
    real_stdout = sys.stdout
    sys.stdout = devnull
    try:
        for script in ("get_raw_skes_data.py", "get_raw_denoised_data.py", "seq_transformation.py"):
            t = time.perf_counter()
            out = runpy.run_path(os.path.join(refs, script), run_name="__main__")
            times[script] = time.perf_counter() - t
    finally:
        sys.stdout = real_stdout
times["total_in_process"] = time.perf_counter() - t_all
np.save("aligned.npy", out["skes_joints"])
np.save("frames_cnt.npy", out["frames_cnt"])
with open(result_file, "w") as f:
    import json; json.dump(times, f)
'''


def copy_reference_scripts(sgn: Path, dest: Path) -> None:
    """Copy microsoft/SGN's data/ntu scripts from a checkout or a bare git directory into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in SCRIPTS:
        src = sgn / "data" / "ntu" / name
        if src.is_file():
            shutil.copy(src, dest / name)
        else:  # a bare repository / .git directory
            text = subprocess.run(["git", "--git-dir", str(sgn), "show", f"HEAD:data/ntu/{name}"], check=True,
                                  capture_output=True, text=True).stdout
            (dest / name).write_text(text)


def make_corpus(base_dir: list[Path], out: Path, num_files: int, seed: int) -> list[str]:
    """Write ``num_files`` perturbed copies of the base files in the official format; returns their names."""
    from skelar.formats.ntu_skeleton import NtuSkeleton, read_ntu_skeleton, write_ntu_skeleton

    rng = np.random.default_rng(seed)
    real = [read_ntu_skeleton(p) for p in sorted(base_dir[0].glob("*.skeleton"))]
    synthetic = [read_ntu_skeleton(p) for p in sorted(base_dir[1].glob("*.skeleton"))] if len(base_dir) > 1 else []
    combos = set()
    names = []
    while len(names) < num_files:
        s, c, p, r, a = rng.integers(1, 18), rng.integers(1, 4), rng.integers(1, 41), rng.integers(1, 3), rng.integers(1, 61)
        name = f"S{s:03d}C{c:03d}P{p:03d}R{r:03d}A{a:03d}"
        if name not in combos:
            combos.add(name)
            names.append(name)
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        pool = real if (not synthetic or rng.random() < 0.6) else synthetic
        base = pool[rng.integers(len(pool))]
        F = base.num_frames
        # at least 24 frames: some body then always has more than 11 (the reference crashes otherwise)
        a = int(rng.integers(0, max(F - 24, 1)))
        b = int(rng.integers(min(a + 24, F), F + 1))
        frames = list(range(a, b))
        if rng.random() < 0.3:
            frames = (frames + frames[::-1])[:300]
        by_frame = [np.flatnonzero(base.frame_index == f) for f in range(F)]
        entries = np.concatenate([by_frame[f] for f in frames]) if frames else np.zeros(0, int)
        frame_index = np.concatenate([np.full(len(by_frame[f]), i) for i, f in enumerate(frames)]).astype(np.int64)
        joints = base.joints[entries].copy()
        nonzero = (joints[:, :, :3] != 0).any(axis=2, keepdims=True)
        joints[:, :, :3] += (rng.normal(0, 0.002, joints[:, :, :3].shape) * nonzero).astype(np.float32)
        ske = NtuSkeleton(
            path=name, num_frames=len(frames), body_counts=base.body_counts[frames],
            frame_index=frame_index, slot=base.slot[entries],
            body_id=base.body_id[entries] + np.uint64(rng.integers(0, 10**6) * 1000),
            body_info=base.body_info[entries], joints=joints,
        )
        write_ntu_skeleton(out / f"{name}.skeleton", ske)
    return sorted(names)


def write_statistics(names: list[str], stat: Path) -> None:
    from skelar.preprocess.ntu_protocols import name_fields

    stat.mkdir(parents=True, exist_ok=True)
    f = name_fields(names)
    (stat / "skes_available_name.txt").write_text("\n".join(names) + "\n")
    for col, key in (("setup", "setup"), ("camera", "camera"), ("performer", "performer"),
                     ("replication", "replication"), ("label", "action")):
        np.savetxt(stat / f"{col}.txt", f[key], fmt="%d")


def run_reference(refs: Path, corpus: Path, names: list[str], work: Path) -> dict:
    work.mkdir(parents=True)
    write_statistics(names, work / "statistics")
    os.symlink(corpus, work / "nturgb+d_skeletons")
    (work / "driver.py").write_text(DRIVER)
    wall, cpu = _timed([sys.executable, "driver.py", str(refs), "times.json"], cwd=work)
    return {"wall_s": wall, "cpu_s": cpu, **json.loads((work / "times.json").read_text())}


def _timed(cmd: list[str], cwd: Path | None = None) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system, all child processes) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run_skelar(corpus: Path, out: Path, workers: int) -> tuple[float, float]:
    return _timed([sys.executable, "-m", "skelar", "prepare", "ntu60", "--src", str(corpus), "--out", str(out),
                   "--workers", str(workers), "--no-progress"])


def compare(ref_work: Path, ours: Path, names: list[str]) -> int:
    """Number of samples whose arrays differ between the reference output and skelar's."""
    from skelar.data.prepared import PreparedDataset
    from skelar.preprocess.ntu_sgn import sgn_to_canonical

    aligned = np.load(ref_work / "aligned.npy", mmap_mode="r")
    counts = np.load(ref_work / "frames_cnt.npy")
    ds = PreparedDataset(ours)
    assert [str(n) for n in ds.names] == names, "sample order differs"
    bad = 0
    for i in range(len(names)):
        T = int(counts[i])
        ref = sgn_to_canonical(np.asarray(aligned[i]))
        if not (np.array_equal(ds[i], ref[:, :T]) and not ref[:, T:].any()):
            bad += 1
    return bad


def _warm(corpus: Path) -> None:
    """Read every file once, so that both sides find the corpus in the page cache."""
    for p in corpus.glob("*.skeleton"):
        p.read_bytes()


def _machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "unknown CPU") if Path("/proc/cpuinfo").exists() else "unknown CPU"
    return f"{os.cpu_count()} cores, {model}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sgn", required=True, type=Path, help="checkout (or bare .git dir) of microsoft/SGN")
    ap.add_argument("--num-files", type=int, default=2000)
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts for skelar (default 1,2)")
    ap.add_argument("--rounds", type=int, default=2, help="rounds of back-to-back runs (default 2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--base", type=Path, nargs="+",
                    default=[REPO.parent / "shared/data/ntu-samples/skeletons", REPO.parent / "shared/data/ntu-synthetic"],
                    help="folders of base .skeleton files: real one-body files, then multi-body ones")
    ap.add_argument("--tmp", type=Path, default=None, help="parent of the scratch folder (default: system temp)")
    ap.add_argument("--corpus", type=Path, help="keep the generated corpus here and reuse it when it exists")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    if args.rounds < 1:
        raise SystemExit("--rounds must be >= 1")

    refs = REPO / ".refs" / "sgn"
    copy_reference_scripts(args.sgn, refs)
    scratch = Path(tempfile.mkdtemp(prefix="bench_ntu_", dir=args.tmp))
    try:
        t = time.perf_counter()
        corpus = (args.corpus or scratch / "corpus").resolve()
        if args.corpus and corpus.is_dir() and any(corpus.glob("*.skeleton")):
            names = sorted(p.name[: -len(".skeleton")] for p in corpus.glob("*.skeleton"))
        else:
            names = make_corpus(args.base, corpus, args.num_files, args.seed)
        size = sum(p.stat().st_size for p in corpus.glob("*.skeleton"))
        _warm(corpus)
        print(f"{time.strftime('%Y-%m-%d %H:%M')}; {_machine()}; python {sys.version.split()[0]}, numpy {np.__version__}")
        print(f"corpus: {len(names)} files, {size / 1e6:.0f} MB, ready in {time.perf_counter() - t:.0f} s", flush=True)
        workers = [int(w) for w in args.workers.split(",")]
        n = len(names)
        results: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": _machine(), "num_files": n,
                         "corpus_mb": round(size / 1e6, 1), "rounds": []}

        def timed(label: str, run) -> dict:
            load = os.getloadavg()[0]
            r = run()
            r["load_before"], r["load_after"] = load, os.getloadavg()[0]
            print(f"  {label}: {r['wall_s']:.1f} s wall = {n / r['wall_s']:.0f} files/s; {r['cpu_s']:.1f} s CPU = "
                  f"{1e3 * r['cpu_s'] / n:.2f} ms/file (load average {load:.1f} -> {r['load_after']:.1f})", flush=True)
            return r

        ok = True
        for k in range(args.rounds):
            # back to back: skelar (first worker count), the reference, skelar (the other worker counts)
            print(f"round {k + 1}:", flush=True)
            rnd: dict = {"skelar": {}}
            rnd["skelar"][workers[0]] = timed(f"skelar workers={workers[0]}", lambda: dict(zip(
                ("wall_s", "cpu_s"), run_skelar(corpus, scratch / f"ours_w{workers[0]}", workers[0]))))
            ref = rnd["reference"] = timed("reference SGN scripts", lambda: run_reference(refs, corpus, names, scratch / "ref"))
            print(f"    (in-process: parse {ref['get_raw_skes_data.py']:.1f} s, denoise "
                  f"{ref['get_raw_denoised_data.py']:.1f} s, translate+pad+save {ref['seq_transformation.py']:.1f} s)")
            for w in workers[1:]:
                rnd["skelar"][w] = timed(f"skelar workers={w}", lambda: dict(zip(
                    ("wall_s", "cpu_s"), run_skelar(corpus, scratch / f"ours_w{w}", w))))
            for w in workers:
                bad = compare(scratch / "ref", scratch / f"ours_w{w}", names)
                rnd["skelar"][w]["mismatches"] = bad
                ok &= bad == 0
                r = rnd["skelar"][w]
                print(f"  workers={w}: {n - bad}/{n} samples identical to the reference; "
                      f"{ref['wall_s'] / r['wall_s']:.1f}x the files/s, {ref['cpu_s'] / r['cpu_s']:.1f}x less CPU time",
                      flush=True)
                shutil.rmtree(scratch / f"ours_w{w}")
            shutil.rmtree(scratch / "ref")
            results["rounds"].append(rnd)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))
        return 0 if ok else 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
