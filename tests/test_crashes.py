"""Crashes, full disks and unwritable folders: one line naming the path and the cause (exit 2), nothing
half-done left behind, nothing already written lost, stale temporaries of killed runs swept."""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from skelar.cli import cmd_models
from skelar.cli.main import main
from skelar.store import prepared as prepared_module
from skelar.store.atomic import sweep_stale_files, write_text_atomic
from skelar.store.checkpoint import load_checkpoint, save_checkpoint
from skelar.store.prepared import OWNER_FILE, PreparedDataset, PreparedWriter, SampleMeta, sweep_stale_temporaries


def _ucla_folder(root: Path, n: int = 4) -> Path:
    root.mkdir(parents=True)
    names = ["a01_s01_e00_v01", "a01_s02_e00_v02", "a02_s03_e00_v03", "a02_s04_e00_v03"][:n]
    for name in names:
        (root / f"{name}.json").write_text(json.dumps({"skeletons": np.ones((3, 20, 3)).tolist()}))
    return root


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("skelar: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


# -- the CLI boundary (item 5) -------------------------------------------------------------------

@pytest.mark.parametrize("exc,expected", [
    (PermissionError(errno.EACCES, "Permission denied", "/ro/out"), "skelar: error: /ro/out: Permission denied"),
    (OSError(errno.EROFS, "Read-only file system", "/ro/out"), "skelar: error: /ro/out: Read-only file system"),
    (OSError(errno.ENOSPC, "No space left on device", "/full/x.pt"), "skelar: error: /full/x.pt: No space left on device"),
    (IsADirectoryError(errno.EISDIR, "Is a directory", "/d"), "skelar: error: /d: Is a directory"),
    (MemoryError(), "skelar: error: out of memory; use smaller batches"),
    (ModuleNotFoundError("No module named 'onnx'", name="onnx"), "skelar: error: module 'onnx' is not installed"),
])
def test_system_errors_end_in_one_line(monkeypatch, capsys, exc, expected):
    def boom(args):
        raise exc

    monkeypatch.setattr(cmd_models, "run", boom)
    assert main(["models"]) == 2
    assert _one_error_line(capsys).startswith(expected)


def test_broken_pipe_ends_quietly(tmp_path):
    """`skelar models | head -1`: no traceback once the reader has gone."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    p = subprocess.run(f"{sys.executable} -m skelar models | head -c 1 > /dev/null", shell=True, env=env,
                       capture_output=True, text=True, timeout=120)
    assert "Traceback" not in p.stderr and "BrokenPipeError" not in p.stderr, p.stderr


def test_broken_pipe_at_the_final_flush_ends_quietly(tmp_path):
    """Output still buffered when the command returns is flushed inside the CLI boundary, so a reader that
    went away then is caught too (not reported by the interpreter at exit)."""
    script = ("import sys; from skelar.cli import cmd_models\n"
              "def run(args):\n    print('x' * 100)\n    return 0\n"
              "cmd_models.run = run\n"
              "import os; r, w = os.pipe(); os.close(r); os.dup2(w, 1)\n"  # stdout: a pipe nobody reads
              "from skelar.cli.main import main; sys.exit(main(['models']))\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout block-buffered, as usual
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    p = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 141 and "BrokenPipeError" not in p.stderr and "Traceback" not in p.stderr, p.stderr


def test_broken_pipe_in_process(monkeypatch, capsys):
    def boom(args):
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    monkeypatch.setattr(cmd_models, "run", boom)
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # (no real descriptor to silence)
    assert main(["models"]) == 141
    assert capsys.readouterr().err == ""


class _ReadOnly:
    """Make ``root`` behave as a read-only folder for Python-level opens and mkdirs (running as root,
    chmod would not stop us): writes under it raise PermissionError naming the path."""

    def __init__(self, monkeypatch, root: Path):
        self.root = str(root)
        for mod, name in ((builtins, "open"), (io, "open"), (os, "open"), (os, "mkdir")):
            orig = getattr(mod, name)
            monkeypatch.setattr(mod, name, self._guard(orig, name))

    def _guard(self, orig, name):
        def call(file, *args, **kwargs):
            path = os.fspath(file) if isinstance(file, (str, os.PathLike)) else None
            mode = args[0] if args else kwargs.get("mode", kwargs.get("flags", "r"))
            writing = name == "mkdir" or (name == "open" and isinstance(mode, str) and any(c in mode for c in "wax+")) \
                or (name == "open" and isinstance(mode, int) and mode & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
            if path is not None and writing and os.path.abspath(path).startswith(self.root + os.sep):
                raise PermissionError(errno.EACCES, "Permission denied", path)
            return orig(file, *args, **kwargs)

        return call


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    import engine_helpers as h
    from skelar.engine.config import config_from_dict
    from skelar.engine.trainer import train

    root = tmp_path_factory.mktemp("crash")
    data = h.make_easy_dataset(root / "easy", subjects=4, per_class=2)
    cfg = h.tiny_config(data, root / "runs", train={"epochs": 1})
    cfg["data"]["batch_size"] = 4
    result = train(config_from_dict(cfg), run_dir=root / "run", progress=False)
    return root, data, result.run_dir, cfg


def test_read_only_output_folders_give_one_line(small_run, tmp_path, monkeypatch, capsys):
    import yaml

    root, data, run_dir, cfg = small_run
    ro = tmp_path / "ro"
    ro.mkdir()
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    ucla = _ucla_folder(tmp_path / "all_sqe")
    scores = run_dir / "test_scores.npz"
    commands = [
        ["train", "-c", str(cfg_path), "--run-dir", str(ro / "run"), "-q"],
        ["test", "--checkpoint", str(run_dir), "--out", str(ro / "eval"), "-q"],
        ["export", "--checkpoint", str(run_dir), "--format", "weights", "--out", str(ro / "test_mlp-x.pt")],
        ["prepare", "ucla", "--src", str(ucla), "--out", str(ro / "ucla")],
        ["prepare", "synthetic", "--out", str(ro / "syn")],
        ["data", "export-pyskl", str(data), str(ro / "x.pkl")],
        ["data", "stats", str(data), "--plot", str(ro / "stats.png")],
        ["ensemble", str(scores), str(scores), "--out", str(ro / "ens")],
    ]
    _ReadOnly(monkeypatch, ro)
    for argv in commands:
        assert main(argv) == 2, argv
        err = _one_error_line(capsys)
        assert str(ro) in err and "Permission denied" in err, (argv, err)
    monkeypatch.undo()
    assert sorted(p.name for p in ro.iterdir()) == []  # nothing half-written


# -- full disks (items 5, 6) ----------------------------------------------------------------------

class _FullDiskFile(io.FileIO):
    """A file whose writes fail with ENOSPC after ``room`` bytes (the close's flush fails too)."""

    room = 100

    def write(self, b):
        if self.tell() + len(b) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(b)


def test_full_disk_during_prepare_leaves_nothing(tmp_path, monkeypatch, capsys):
    ucla = _ucla_folder(tmp_path / "all_sqe")

    def full_open(file, mode="r", *args, **kwargs):
        if str(file).endswith("frames.raw") and "w" in mode:
            return io.BufferedWriter(_FullDiskFile(file, "w"), buffer_size=1 << 20)  # fails at the close's flush
        return builtins.open(file, mode, *args, **kwargs)

    monkeypatch.setattr(prepared_module, "open", full_open, raising=False)
    assert main(["prepare", "ucla", "--src", str(ucla), "--out", str(tmp_path / "out")]) == 2
    err = _one_error_line(capsys)
    assert "frames.raw: No space left on device" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all_sqe"]  # no output, no temporary folder


def test_abort_removes_its_folder_even_when_closing_fails(tmp_path):
    w = PreparedWriter(tmp_path / "ds", "ntu25", ["a"])
    tmp = w._tmp

    class Failing:
        def close(self):
            raise OSError(errno.ENOSPC, "No space left on device")

    w._raw = Failing()
    w.abort()
    assert not tmp.exists() and not (tmp_path / "ds").exists()


def test_torch_write_failure_names_the_checkpoint(tmp_path, monkeypatch, capsys):
    import shutil

    def fail(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 4352 vs 4232")

    monkeypatch.setattr(torch, "save", fail)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(100, 100, 0))
    with pytest.raises(OSError) as info:
        save_checkpoint(tmp_path / "best.pt", {"model": {}, "metadata": {}})
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(tmp_path / "best.pt")
    assert list(tmp_path.iterdir()) == []  # the temporary file is gone


def test_write_errors_without_a_name_get_the_path(tmp_path, monkeypatch):
    import skelar.store.atomic as atomic

    def fdopen(fd, mode):
        os.close(fd)
        f = io.StringIO()
        f.write = lambda s: (_ for _ in ()).throw(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
        return f

    monkeypatch.setattr(atomic.os, "fdopen", fdopen)
    with pytest.raises(OSError, match=r"No space left on device: '.*report\.json'"):
        write_text_atomic(tmp_path / "report.json", "{}")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


# -- publication is one step (item 7) -------------------------------------------------------------

def test_report_is_published_with_the_dataset(shared, tmp_path, monkeypatch):
    """Killed right after the rename that publishes the dataset: its prepare_report.json is already inside,
    and a rerun says the output exists (and clears the leftover .partial)."""
    from skelar.preprocess.ntu_prepare import prepare_ntu

    real_replace = os.replace

    def replace_then_die(src, dst):
        real_replace(src, dst)
        if Path(dst).name == "out":
            raise KeyboardInterrupt  # the kill, just after publication

    monkeypatch.setattr(prepared_module.os, "replace", replace_then_die)
    src = shared("data", "ntu-samples", "skeletons")
    with pytest.raises(KeyboardInterrupt):
        prepare_ntu(src, tmp_path / "out", "ntu60", progress=False, val_fraction=0)
    monkeypatch.undo()
    report = json.loads((tmp_path / "out" / "prepare_report.json").read_text())
    assert report["samples_written"] == len(PreparedDataset(tmp_path / "out")) > 0
    assert (tmp_path / "out.partial").exists()
    with pytest.raises(FileExistsError, match="already exists"):
        prepare_ntu(src, tmp_path / "out", "ntu60", progress=False, val_fraction=0)
    assert not (tmp_path / "out.partial").exists()


def test_overwrite_keeps_the_old_dataset_until_the_new_one_is_in_place(tmp_path, monkeypatch):
    def write(n):
        w = PreparedWriter(tmp_path / "ds", "ntu25", ["a"], overwrite=True)
        for i in range(n):
            w.add(np.ones((3, 2, 25, 1), np.float32), SampleMeta(f"s{i}", 0))
        return w

    write(2).close()
    w = write(3)
    monkeypatch.setattr(prepared_module.shutil, "copyfileobj", lambda *a, **k: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device")))
    with pytest.raises(OSError, match="No space left on device"):
        w.close()
    monkeypatch.undo()
    assert len(PreparedDataset(tmp_path / "ds")) == 2  # the old dataset is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # and the failed attempt is gone


# -- stale temporaries (item 8) -------------------------------------------------------------------

def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_preparation_folders_are_swept(tmp_path):
    dead, live = tmp_path / ".out.dead1234", tmp_path / ".out.live5678"
    unknown = tmp_path / ".out.nopid999"
    for d, pid in ((dead, _dead_pid()), (live, os.getpid())):
        d.mkdir()
        (d / OWNER_FILE).write_text(f"{pid} {__import__('socket').gethostname()}\n")
        (d / "frames.raw").write_bytes(bytes(100))
    unknown.mkdir()
    w = PreparedWriter(tmp_path / "out", "ntu25", ["a"])  # the next run of the same command
    assert not dead.exists() and live.exists() and unknown.exists()
    w.abort()
    assert sweep_stale_temporaries(tmp_path / "out") == []


def test_stale_checkpoint_temporaries_are_swept(tmp_path):
    dead = tmp_path / f".best.pt.{_dead_pid()}.abcd1234.tmp"
    live = tmp_path / f".best.pt.{os.getpid()}.efgh5678.tmp"
    other = tmp_path / f".last.pt.{_dead_pid()}.ijkl9012.tmp"
    for p in (dead, live, other):
        p.write_bytes(b"partial")
    save_checkpoint(tmp_path / "best.pt", {"model": {}, "metadata": {}})
    assert not dead.exists() and live.exists() and other.exists()  # only those of the same file, and dead
    assert load_checkpoint(tmp_path / "best.pt")["format"] == "skelar-checkpoint"
    assert sweep_stale_files(tmp_path / "last.pt") == [other]


def test_full_disk_during_training_names_the_checkpoint(small_run, tmp_path, monkeypatch, capsys):
    import shutil

    import yaml

    _, _, _, cfg = small_run
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))

    def fail(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:664] . PytorchStreamWriter failed writing file data/0: file write failed")

    monkeypatch.setattr(torch, "save", fail)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(100, 100, 0))
    assert main(["train", "-c", str(cfg_path), "--run-dir", str(tmp_path / "run"), "-q"]) == 2
    err = _one_error_line(capsys)
    assert f"{tmp_path / 'run'}/" in err and ".pt: No space left on device" in err and "inline_container" not in err
    assert not list((tmp_path / "run").glob(".*.tmp"))
