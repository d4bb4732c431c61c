"""docs/extending.md's examples work: its file blocks are written to a temporary plugin package and its
usage blocks run in order in a fresh Python process (so the doc's registrations do not leak into other tests)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "extending.md"
SRC = Path(__file__).resolve().parent.parent / "src"
BLOCK = re.compile(r"^```python (file=(?P<file>\S+)|(?P<run>run))\n(?P<body>.*?)^```$", re.M | re.S)


def doc_blocks(text: str) -> tuple[dict[str, str], list[str]]:
    """``({path: source}, [usage sources])`` from the doc's ```` ```python file=PATH ```` and ```` ```python run ```` blocks."""
    files, runs = {}, []
    for m in BLOCK.finditer(text):
        if m["file"]:
            files[m["file"]] = m["body"]
        else:
            runs.append(m["body"])
    return files, runs


def test_the_doc_has_an_example_of_each_extension():
    files, runs = doc_blocks(DOC.read_text())
    assert {"my_ext/mean_mlp.py", "my_ext/jitter.py", "my_ext/focal.py", "my_ext/npy_clips.py"} <= set(files)
    assert len(runs) == 5


def test_the_doc_examples_run(tmp_path):
    files, runs = doc_blocks(DOC.read_text())
    for rel, body in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(body)
    script = "\n".join(f"exec(compile({body!r}, 'docs/extending.md run block {i + 1}', 'exec'), {{}})" for i, body in enumerate(runs))
    script = "import torch\ntorch.set_num_threads(1)\n" + script + "\nprint('all blocks ran')\n"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(SRC)]), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "all blocks ran" in proc.stdout
