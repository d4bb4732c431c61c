"""docs/data.md's tutorial, run as written: its files and commands on a generated dataset in a layout no shipped file defines.

The YAML files come from the blocks marked ``<!-- tutorial-file: PATH -->`` and the commands from the block
marked ``<!-- tutorial-commands -->``; only ``--set train.epochs=2`` is added to the trainings (speed). The
re-test runs in a fresh process, which has never seen the layout: it must come from the checkpoint alone.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from custom_data import write_clips
from skelar.cli.main import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "data.md"
BLOCK = re.compile(r"<!-- tutorial-(file: (?P<path>\S+)|commands) -->\n```\w*\n(?P<body>.*?)```", re.S)


def tutorial() -> tuple[dict[str, str], list[list[str]]]:
    files, commands = {}, []
    for m in BLOCK.finditer(DOC.read_text()):
        if m.group("path"):
            files[m.group("path")] = m.group("body")
            continue
        for line in m.group("body").replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words:
                commands.append(words)
    return files, commands


def test_the_tutorial_blocks_are_found():
    files, commands = tutorial()
    assert set(files) == {"wire/wire12.yaml", "wire/dataset.yaml", "wire_sgn.yaml"}
    assert [c[1] for c in commands].count("train") == 3 and {"prepare", "test", "ensemble", "export", "predict"} <= {c[1] for c in commands}
    assert all(c[0] == "skelar" for c in commands)
    assert "ntu25" not in "".join(files.values()) and "layout:" not in files["wire_sgn.yaml"]


@pytest.mark.slow
def test_tutorial_runs_as_written(tmp_path, monkeypatch, capsys):
    files, commands = tutorial()
    write_clips(tmp_path / "wire")  # the user's files: one (T, V, C) .npy per clip and index.csv
    for path, text in files.items():
        (tmp_path / path).write_text(text)
    monkeypatch.chdir(tmp_path)
    outputs = {}
    for words in commands:
        args = words[1:] + (["--set", "train.epochs=2", "-q"] if words[1] == "train" else [])
        if words[1] == "test" and "retest" in " ".join(words):
            env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1] / "src"), os.environ.get("PYTHONPATH", "")])}
            run = subprocess.run([sys.executable, "-m", "skelar", *args, "-q"], capture_output=True, text=True, env=env)
            assert run.returncode == 0, run.stderr
            continue
        capsys.readouterr()
        assert main(args) == 0, words
        outputs[" ".join(words[1:3])] = capsys.readouterr().out
    assert "default: train 18, val 9, test 9" in outputs["prepare folder"]
    assert "layout wire12: 12 joints" in outputs["layouts wire/wire12.yaml"]
    for stream in ("joint", "bone", "motion"):
        report = json.loads((tmp_path / "runs" / f"wire-{stream}" / "report.json").read_text())
        assert report["test"]["num_samples"] == 9
    # the fresh process re-tested the bone run with the checkpoint's layout and got the run's own numbers
    retest = json.loads((tmp_path / "runs/wire-bone/retest/report.json").read_text())
    own = json.loads((tmp_path / "runs/wire-bone/report.json").read_text())
    assert abs(retest["top1"] - own["test"]["top1"]) < 1e-9
    ens = json.loads((tmp_path / "runs/wire-ensemble/report.json").read_text())
    assert ens["num_samples"] == 9 and (tmp_path / "wire-bone.onnx").stat().st_size > 0
    assert outputs["predict --checkpoint"].startswith("squat_s07s08_11:")
    # the runs' stream transforms were built for wire12: the bone run's inputs are wire12 bones
    from skelar.engine.inference import load_for_inference

    lm = load_for_inference(tmp_path / "runs/wire-bone", device="cpu")
    stream = lm.transform.transforms[-1]
    assert stream.stream == "bone" and stream.layout.name == "wire12" and stream.layout.names[1] == "Spine"
    assert np.array_equal(stream.layout.parents, (0, 0, 1, 2, 2, 4, 5, 2, 7, 8, 0, 0))
