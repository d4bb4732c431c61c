"""``skelar prepare ntu60|ntu120`` end to end: fixture parity, reports, splits, resume after interruption."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from skelar.cli.main import main
from skelar.store.prepared import PreparedDataset
from skelar.preprocess.ntu_prepare import prepare_ntu
from skelar.preprocess.ntu_protocols import name_fields, protocol_split
from skelar.preprocess.ntu_sgn import sgn_to_canonical

EXCLUDED = "S001C001P001R001A005"
EMPTY = "S002C001P002R001A001"
BROKEN = "S003C002P004R002A002"
NTU120_ONLY = "S020C001P050R001A100"


@pytest.fixture
def corpus(shared, tmp_path) -> tuple[Path, Path]:
    """18 good files (5 real + 13 synthetic), one with no body, one truncated, one NTU120-only; and a
    missing list naming one of the good files."""
    src = tmp_path / "src"
    (src / "part2").mkdir(parents=True)
    for p in shared("data", "ntu-samples", "skeletons").glob("*.skeleton"):
        shutil.copy(p, src)
    for p in shared("data", "ntu-synthetic").glob("*.skeleton"):
        shutil.copy(p, src / "part2")  # files are found recursively
    (src / f"{EMPTY}.skeleton").write_text("3\n0\n0\n0\n")
    real = (src / "S001C001P001R001A001.skeleton").read_text()
    (src / f"{BROKEN}.skeleton").write_text(real[:3000])
    (src / f"{NTU120_ONLY}.skeleton").write_text(real)
    missing = tmp_path / "missing.txt"
    missing.write_text(f"Some samples have missing skeletons.\nIgnore them.\n\n{EXCLUDED}\n")
    return src, missing


def _files(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())}


def test_prepare_matches_fixture_and_reports_problems(corpus, shared, tmp_path):
    src, missing = corpus
    out = tmp_path / "ntu60"
    result = prepare_ntu(src, out, "ntu60", missing_list=missing, shard_size=4, progress=False)
    ds = PreparedDataset(out)
    assert result.num_samples == len(ds) == 17
    assert ds.classes[0] == "drink water" and ds.num_classes == 60 and ds.num_persons == 2
    assert ds.preprocessing["pipeline"] == "sgn" and ds.preprocessing["noise_spr_thres2"] == 0.69754
    names = [str(n) for n in ds.names]
    assert names == sorted(names) and EXCLUDED not in names
    with np.load(shared("parity", "pipelines", "sgn_ntu.npz"), allow_pickle=False) as z:
        for i, name in enumerate(names):
            T = int(z[f"{name}/frames_cnt"])
            expected = sgn_to_canonical(z[f"{name}/aligned"])[:, :T]
            np.testing.assert_allclose(ds[i], expected, atol=1e-6, rtol=0)
            meta = ds.sample_meta(i)
            f = name_fields([name])
            assert (meta.label, meta.subject, meta.view, meta.setup) == (
                f["action"][0] - 1, f["performer"][0], f["camera"][0], f["setup"][0])
    report = json.loads((out / "prepare_report.json").read_text())
    assert report == result.report
    assert report["excluded_by_missing_list"] == [EXCLUDED]
    assert report["no_body"] == [EMPTY]
    assert report["outside_dataset"] == 1 and report["samples_written"] == 17
    msg = report["failed"]["malformed"][BROKEN]
    assert msg.startswith(str(src / f"{BROKEN}.skeleton") + ":") and "truncated" in msg
    # protocols: train + val is the official training part, val by whole subjects
    fields = name_fields(names)
    for protocol in ("xsub", "xview"):
        train, test = protocol_split(fields, "ntu60", protocol)
        parts = {p: ds.split(protocol, p) for p in ("train", "val", "test")}
        np.testing.assert_array_equal(np.sort(np.concatenate([parts["train"], parts["val"]])), train)
        np.testing.assert_array_equal(parts["test"], test)
        val_subjects = set(fields["performer"][parts["val"]])
        assert not val_subjects & set(fields["performer"][parts["train"]])
    assert not (tmp_path / "ntu60.partial").exists()


def test_ntu120_protocols(corpus, tmp_path):
    src, _ = corpus
    prepare_ntu(src, tmp_path / "ntu120", "ntu120", shard_size=50, progress=False)
    ds = PreparedDataset(tmp_path / "ntu120")
    assert ds.protocols() == ["xset", "xsub"] and ds.num_classes == 120
    assert len(ds) == 19 and NTU120_ONLY in set(ds.names)
    fields = name_fields([str(n) for n in ds.names])
    np.testing.assert_array_equal(ds.split("xset", "test"), np.flatnonzero(fields["setup"] % 2 == 1))


class _Interrupt(Exception):
    pass


def test_resume_after_interruption_is_byte_identical(corpus, tmp_path):
    src, missing = corpus
    full = tmp_path / "full"
    prepare_ntu(src, full, "ntu60", missing_list=missing, shard_size=3, progress=False)

    resumed = tmp_path / "resumed"

    def stop_after_second(k: int) -> None:
        if k == 1:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        prepare_ntu(src, resumed, "ntu60", missing_list=missing, shard_size=3, progress=False,
                    on_shard=stop_after_second)
    partial = tmp_path / "resumed.partial"
    assert sorted(p.name for p in partial.glob("shard_*.npy")) == ["shard_00000.npy", "shard_00001.npy"]
    assert not resumed.exists()
    seen: list[int] = []
    prepare_ntu(src, resumed, "ntu60", missing_list=missing, shard_size=3, progress=False, workers=2,
                on_shard=seen.append)
    assert seen == list(range(2, 7))  # 19 files in shards of 3: the first two were not redone
    assert _files(resumed) == _files(full)


def test_resume_after_kill(corpus, tmp_path):
    """A real SIGKILL after the first shard; the run started again finishes identically."""
    src, missing = corpus
    full = tmp_path / "full"
    prepare_ntu(src, full, "ntu60", missing_list=missing, shard_size=2, progress=False)
    out = tmp_path / "killed"
    code = (
        "import time, sys\n"
        "from skelar.preprocess.ntu_prepare import prepare_ntu\n"
        f"prepare_ntu({str(src)!r}, {str(out)!r}, 'ntu60', missing_list={str(missing)!r}, shard_size=2,\n"
        "            progress=False, on_shard=lambda k: time.sleep(60))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    shard = tmp_path / "killed.partial" / "shard_00000.npy"
    deadline = time.time() + 60
    while not shard.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert shard.exists() and not out.exists()
    assert len(list(shard.parent.glob("shard_*.npy"))) == 1
    prepare_ntu(src, out, "ntu60", missing_list=missing, shard_size=2, progress=False)
    assert _files(out) == _files(full)


def test_cli(corpus, tmp_path, capsys):
    src, missing = corpus
    out = tmp_path / "cli"
    args = ["prepare", "ntu60", "--src", str(src), "--out", str(out), "--missing-list", str(missing),
            "--workers", "2", "--shard-size", "5", "--no-progress"]
    assert main(args) == 0
    assert "17 samples" in capsys.readouterr().out
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
    # an unfinished run of other options is not mixed with a new one
    (tmp_path / "other.partial").mkdir()
    (tmp_path / "other.partial" / "plan.json").write_text("{}")
    assert main(["prepare", "ntu60", "--src", str(src), "--out", str(tmp_path / "other"), "--no-progress"]) == 2
    assert "unfinished preparation" in capsys.readouterr().err
    assert main(["prepare", "ntu60", "--src", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")]) == 2
    assert "not a directory" in capsys.readouterr().err
