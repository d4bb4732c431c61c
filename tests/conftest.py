"""Shared test fixtures: locating ../shared (real data and parity fixtures); skipping without it locally,
failing without it under CI (env ``CI`` set), so that a CI job missing the fixtures cannot pass silently."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SKELAR_SHARED", REPO.parent / "shared"))


def in_ci() -> bool:
    """Whether the tests run under CI (env ``CI`` set to anything but empty, ``0`` or ``false``)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def shared_path(*parts: str) -> Path:
    """Path under ../shared; skips the calling test with a clear reason when it is absent, or fails it
    under CI (:func:`in_ci`)."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        why = f"needs {p} (the project's shared data/fixtures folder beside the repo; set SKELAR_SHARED to relocate)"
        if in_ci():
            pytest.fail(f"{why}; CI is set, so a missing fixture is a failure", pytrace=False)
        pytest.skip(why)
    return p


def load_model_fixture(name: str):
    """A model parity fixture from ../shared/parity/models: ``(npz, json meta, reference state dict)``."""
    import json

    import numpy as np
    import torch

    npz = np.load(shared_path("parity", "models", f"{name}.npz"), allow_pickle=False)
    meta = json.loads(shared_path("parity", "models", f"{name}.json").read_text())
    state = {k.removeprefix("state/"): torch.from_numpy(npz[k]) for k in npz.files if k.startswith("state/")}
    return npz, meta, state


@lru_cache(maxsize=4)
def _pipeline_arrays(name: str) -> dict:
    import numpy as np

    with np.load(SHARED / "parity" / "pipelines" / f"{name}.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def pipeline_fixture(name: str) -> dict:
    """The arrays of a pipeline parity fixture (``../shared/parity/pipelines/NAME.npz``), read once per session;
    skips (fails under CI) when it is absent, like :func:`shared_path`."""
    shared_path("parity", "pipelines", f"{name}.npz")
    return _pipeline_arrays(name)


@pytest.fixture
def shared():
    """Callable fixture: ``shared('parity', 'models', 'sgn_ntu60.npz')``."""
    return shared_path


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread per test: on a shared 2-core machine, 2 threads that wait on each other (OpenMP
    spinning) made small CTR-GCN forwards 40x slower; the tests' tensors are too small to gain from more."""
    import torch

    torch.set_num_threads(1)
    yield
