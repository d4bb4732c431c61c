"""SGN denoising at its thresholds: the 16 boundary files against the reference (sgn_ntu_boundaries.npz).

Each file puts a body just on one side of ``noise_len_thres`` (11), ``noise_spr_thres1`` (0.8),
``noise_spr_thres2`` (0.69754) or an assembly decision, so changing any threshold changes the removed
bodies or the actor slots of at least one file (the fixture's README lists which file sees which change).
"""

from __future__ import annotations


import numpy as np
import pytest

from skelar.formats.ntu_skeleton import read_ntu_skeleton
from skelar.preprocess.ntu_sgn import SGN_PARAMS, sgn_align, sgn_process
from conftest import SHARED, pipeline_fixture

FIXTURE = SHARED / "parity" / "pipelines" / "sgn_ntu_boundaries.npz"
SAMPLES = [str(s) for s in np.load(FIXTURE)["samples"]] if FIXTURE.exists() else ["fixture-missing"]


@pytest.fixture
def fx():
    return pipeline_fixture("sgn_ntu_boundaries")


def _run(shared, name: str, params: dict | None = None):
    path = shared("data", "ntu-synthetic-boundaries", f"{name}.skeleton")
    return sgn_process(read_ntu_skeleton(path, fields=("x", "y", "z")), name, params)


def test_reference_thresholds():
    assert SGN_PARAMS["noise_len_thres"] == 11
    assert SGN_PARAMS["noise_spr_thres1"] == 0.8
    assert SGN_PARAMS["noise_spr_thres2"] == 0.69754


@pytest.mark.parametrize("name", SAMPLES)
def test_removal_decisions_match_reference(name, fx, shared):
    """Which bodies are removed, for which reason and value, and which fill actor slots 1 and 2."""
    result = _run(shared, name)
    log = result.log
    removed = {b: str(r).split()[0] for b, r in log["removed"].items()}
    want = {str(b): {"overlap": "overlaps"}.get(str(r), str(r))
            for b, r in zip(fx[f"{name}/removed_bodies"], fx[f"{name}/removed_by"])}
    assert removed == want
    for b, value in zip(fx[f"{name}/removed_bodies"], fx[f"{name}/removed_value"]):
        if np.isfinite(value):  # the logged length or noisy-frame ratio (the log rounds to 6 digits)
            assert float(log["removed"][str(b)].split()[1]) == pytest.approx(value, abs=1e-4)
    motions = {b.body_id: b.motion for b in result.raw.bodies}
    for b, motion in zip(fx[f"{name}/removed_bodies"], fx[f"{name}/removed_motion"]):
        if np.isfinite(motion):
            assert motions[str(b)] == pytest.approx(motion, abs=1e-6)
    assert log["actor1"] == [str(b) for b in fx[f"{name}/actor1_bodies"]]
    assert log["actor2"] == [str(b) for b in fx[f"{name}/actor2_bodies"]]


@pytest.mark.parametrize("name", SAMPLES)
def test_arrays_match_reference(name, fx, shared):
    result = _run(shared, name)
    want = fx[f"{name}/denoised"]
    assert result.denoised.shape == want.shape == (int(fx[f"{name}/frames_cnt"]), want.shape[1])
    np.testing.assert_array_equal(result.denoised == 0, want == 0)
    np.testing.assert_allclose(result.denoised, want, atol=1e-6, rtol=0)
    np.testing.assert_allclose(result.translated, fx[f"{name}/translated"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(sgn_align(result.translated), fx[f"{name}/aligned"], atol=1e-6, rtol=0)


# Each threshold change from the issue / the fixture README, and one file whose output it alters.
MUTATIONS = [
    ({"noise_spr_thres1": 0.7}, "S015C003P022R001A053"),
    ({"noise_spr_thres1": 1.0}, "S015C001P023R002A054"),
    ({"noise_spr_thres2": 0.75}, "S016C003P025R002A012"),
    ({"noise_spr_thres2": 0.70}, "S016C003P025R002A012"),
    ({"noise_spr_thres2": 0.69}, "S016C001P026R001A056"),
    ({"noise_len_thres": 10}, "S015C001P020R001A011"),
    ({"noise_len_thres": 12}, "S015C002P021R002A052"),
]


@pytest.mark.parametrize("params,name", MUTATIONS, ids=[f"{next(iter(p))}={next(iter(p.values()))}" for p, _ in MUTATIONS])
def test_files_see_each_threshold_change(params, name, fx, shared):
    """The fixture is sensitive: the changed threshold alters that file's decisions (so the tests above
    would fail if the code used it)."""
    result = _run(shared, name, params)
    removed = sorted(result.log["removed"])
    assert removed != sorted(str(b) for b in fx[f"{name}/removed_bodies"]) or \
        result.denoised.shape != fx[f"{name}/denoised"].shape
