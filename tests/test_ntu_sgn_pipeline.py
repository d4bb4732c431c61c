"""SGN NTU pipeline against the reference fixture (sgn_ntu.npz): every sample, every stage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skelar.formats.ntu_skeleton import NtuSkeleton, read_ntu_skeleton
from skelar.preprocess.ntu_sgn import _motions
from skelar.preprocess.ntu_sgn import (
    SgnPipelineError,
    sgn_align,
    sgn_denoise,
    sgn_process,
    sgn_raw_bodies,
    sgn_sample,
    sgn_to_canonical,
    sgn_translate,
)
from skelar.transforms import DropZeroFrames, InterleavePersons, RandomRotation, SegmentSample, sgn_rotation_matrix
from conftest import SHARED, pipeline_fixture

FIXTURE = SHARED / "parity" / "pipelines" / "sgn_ntu.npz"
SAMPLES = [str(s) for s in np.load(FIXTURE)["samples"]] if FIXTURE.exists() else ["fixture-missing"]


@pytest.fixture
def fx():
    return pipeline_fixture("sgn_ntu")


def _skeleton_path(shared, name: str) -> Path:
    real = SHARED / "data" / "ntu-samples" / "skeletons" / f"{name}.skeleton"
    return real if real.exists() else shared("data", "ntu-synthetic", f"{name}.skeleton")


def _rows(x: np.ndarray) -> np.ndarray:
    """(3, T, 25, 1) -> (T, 75) rows as the reference stores them."""
    return x[..., 0].transpose(1, 2, 0).reshape(x.shape[1], 75)


@pytest.mark.parametrize("name", SAMPLES)
def test_every_stage_matches_reference(name, fx, shared):
    result = sgn_process(read_ntu_skeleton(_skeleton_path(shared, name), fields=("x", "y", "z")), name)
    raw = result.raw
    # stage 1: bodies (exact)
    assert [b.body_id for b in raw.bodies] == list(fx[f"{name}/raw/body_ids"])
    assert raw.num_frames == int(fx[f"{name}/raw/num_frames"])
    np.testing.assert_array_equal(raw.frames_drop, fx[f"{name}/raw/frames_drop"])
    for k, body in enumerate(raw.bodies):
        np.testing.assert_array_equal(body.joints.reshape(-1, 3), fx[f"{name}/raw/body{k}/joints"])
        np.testing.assert_array_equal(body.interval, fx[f"{name}/raw/body{k}/interval"])
    np.testing.assert_allclose(np.array([b.motion for b in raw.bodies], np.float32), fx[f"{name}/raw/motion"],
                               rtol=1e-6, equal_nan=True)
    # stages 2-4: selection exact, coordinates to float32 precision
    assert result.denoised.shape == fx[f"{name}/denoised"].shape
    assert result.denoised.shape[0] == int(fx[f"{name}/frames_cnt"])
    np.testing.assert_array_equal(result.denoised == 0, fx[f"{name}/denoised"] == 0)
    np.testing.assert_allclose(result.denoised, fx[f"{name}/denoised"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(result.translated, fx[f"{name}/translated"], atol=1e-6, rtol=0)
    aligned = sgn_align(result.translated)
    np.testing.assert_array_equal(aligned == 0, fx[f"{name}/aligned"] == 0)
    np.testing.assert_allclose(aligned, fx[f"{name}/aligned"], atol=1e-6, rtol=0)
    # canonical layout: (3, T, 25, 2), actor 1 = columns 0:75
    T = result.translated.shape[0]
    assert result.data.shape == (3, T, 25, 2) and result.data.dtype == np.float32
    np.testing.assert_array_equal(result.data, sgn_to_canonical(aligned)[:, :T])


@pytest.mark.parametrize("name", SAMPLES)
def test_loader_stages_match_reference(name, fx):
    """Tolist_fix (zero rows out, two-to-one) and sub_seq with the recorded draws, via skelar transforms."""
    x = sgn_to_canonical(fx[f"{name}/aligned"])
    seq = InterleavePersons()(DropZeroFrames()(x))
    np.testing.assert_array_equal(_rows(seq), fx[f"{name}/tolist"])
    sampler = SegmentSample(num_segments=20)
    ave = max(seq.shape[1], 20) // 20
    base = np.arange(20) * ave
    out = sampler.apply(seq, base + fx[f"{name}/subseq_train/rand"])
    np.testing.assert_array_equal(_rows(out), fx[f"{name}/subseq_train/out"])
    for i in range(5):
        out = sampler.apply(seq, base + fx[f"{name}/subseq_test/rand"][i])
        np.testing.assert_array_equal(_rows(out), fx[f"{name}/subseq_test/out"][i])
    # the offsets drawn by the sampler itself lie in the same segments
    offs = sampler.offsets(seq.shape[1], np.random.default_rng(0))
    assert ((offs >= base) & (offs < base + ave)).all()


def test_rotation_matches_reference(fx):
    rot = RandomRotation(theta=float(fx["transform/theta"]))
    for i in range(len(fx["transform/angles"])):
        x = fx["transform/x_in"][i].reshape(20, 25, 3).transpose(2, 0, 1)[..., None]
        y = rot.apply(x, fx["transform/angles"][i])
        np.testing.assert_allclose(_rows(y), fx["transform/x_out"][i], atol=1e-6, rtol=0)
    for a, r in zip(fx["rot/angles"], fx["rot/R"]):
        np.testing.assert_allclose(sgn_rotation_matrix(a), r, atol=1e-6)


# the outcomes the synthetic README states, checked on our own output
SYNTHETIC_OUTCOMES = {
    "S001C002P003R001A050": ((103, 150), ["72057594037940002"], ["72057594037940001"]),
    "S002C003P004R002A010": ((103, 75), ["72057594037940011"], []),
    "S003C001P007R001A020": ((103, 150), ["72057594037940021"], ["72057594037940023"]),
    "S004C002P008R002A030": ((103, 75), ["72057594037940031"], []),
    "S011C001P016R001A051": ((103, 150), ["72057594037940042"], ["72057594037940041"]),
    "S006C001P011R001A055": ((103, 150), ["72057594037940051"], ["72057594037940052", "72057594037940053"]),
    "S007C002P012R002A056": ((103, 150), ["72057594037940061"], ["72057594037940063"]),
    "S008C003P013R001A008": ((103, 150), ["72057594037940071", "72057594037940072"], []),
    "S009C001P014R002A012": ((96, 75), ["72057594037940081"], []),
    "S010C002P015R001A058": ((103, 150), ["72057594037940092"], ["72057594037940091"]),
    "S012C003P017R002A057": ((103, 150), ["72057594037940101"], ["72057594037940102"]),
    "S013C001P018R001A059": ((103, 150), ["72057594037940113"], ["72057594037940112"]),
    "S014C002P019R002A024": ((100, 75), ["72057594037940121"], []),
}


@pytest.mark.parametrize("name", sorted(SYNTHETIC_OUTCOMES))
def test_synthetic_case_outcomes(name, shared):
    shape, actor1, actor2 = SYNTHETIC_OUTCOMES[name]
    raw = sgn_raw_bodies(read_ntu_skeleton(shared("data", "ntu-synthetic", f"{name}.skeleton")), name)
    denoised, log = sgn_denoise(raw)
    assert denoised.shape == shape
    assert log["actor1"] == actor1 and log["actor2"] == actor2


def test_specific_quirks(shared):
    # g_id_gap: the returning bodyID is time-shifted to frames 0-82; actor 2 empty afterwards
    name = "S012C003P017R002A057"
    res = sgn_process(read_ntu_skeleton(shared("data", "ntu-synthetic", f"{name}.skeleton")), name)
    assert res.raw.bodies[1].interval.tolist() == list(range(83))
    present2 = (res.translated[:, 75:] != 0).any(axis=1)
    assert present2[:83].all() and not present2[83:].any()
    # d3: one-frame overlap counts as non-overlapping; the later body overwrites frame 59
    name = "S008C003P013R001A008"
    res = sgn_process(read_ntu_skeleton(shared("data", "ntu-synthetic", f"{name}.skeleton")), name)
    second = res.raw.bodies[1]
    np.testing.assert_array_equal(res.denoised[59, :75], second.joints[0].reshape(75))
    assert not res.denoised[:, 75:].any()
    # f: all-zero frames of actor 1 stay zero after translation, zero joints inside a body become -origin
    name = "S010C002P015R001A058"
    res = sgn_process(read_ntu_skeleton(shared("data", "ntu-synthetic", f"{name}.skeleton")), name)
    assert not res.translated[80:82, :75].any()
    origin = res.denoised[0, 3:6]
    np.testing.assert_allclose(res.translated[10, 63:66], -origin, atol=1e-6)


def _skeleton(frames: list[list[tuple[int, np.ndarray]]]) -> NtuSkeleton:
    """Build a parsed file from per-frame lists of (bodyID, (25, 3) xyz)."""
    entries = [(f, s, bid, xyz) for f, bodies in enumerate(frames) for s, (bid, xyz) in enumerate(bodies)]
    joints = np.zeros((len(entries), 25, 12), np.float32)
    for i, e in enumerate(entries):
        joints[i, :, :3] = e[3]
    return NtuSkeleton(
        path="test.skeleton", num_frames=len(frames), body_counts=np.array([len(b) for b in frames]),
        frame_index=np.array([e[0] for e in entries], np.int64), slot=np.array([e[1] for e in entries], np.int64),
        body_id=np.array([e[2] for e in entries], np.uint64), body_info=np.zeros((len(entries), 9)), joints=joints)


def test_unusable_recordings_raise_clear_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(SgnPipelineError, match="no body in any"):
        sgn_raw_bodies(_skeleton([[], []]))
    short = _skeleton([[(1, rng.normal(size=(25, 3))), (2, rng.normal(size=(25, 3)))] for _ in range(5)])
    with pytest.raises(SgnPipelineError, match="all noise"):
        sgn_denoise(sgn_raw_bodies(short))
    dup = _skeleton([[(1, rng.normal(size=(25, 3))), (1, rng.normal(size=(25, 3)))]])
    with pytest.raises(SgnPipelineError, match="repeated within a frame"):
        sgn_denoise(sgn_raw_bodies(dup))
    with pytest.raises(SgnPipelineError, match="actor 1 is zero"):
        sgn_translate(np.zeros((4, 75), np.float32))
    with pytest.raises(ValueError, match="more than max_frames"):
        sgn_align(np.ones((301, 75), np.float32))


# -- fast paths: same values as the stage-by-stage pipeline -------------------------------------------

def test_motions_equal_numpy_variance_bit_for_bit():
    """The bodies' motions, computed side by side, are exactly the reference's np.sum(np.var(.., axis=0))."""
    rng = np.random.default_rng(7)
    for trial in range(300):
        bodies = []
        for _ in range(int(rng.integers(1, 5))):
            n = int(rng.integers(1, 300))
            x = (rng.normal(size=(n, 25, 3)) * rng.uniform(0.01, 5) + rng.normal(size=3) * 3).astype(np.float32)
            if trial % 5 == 0:
                x[rng.random(n) < 0.3] = 0
            if trial % 13 == 0:
                x[:] = -0.0
            bodies.append(x)
        for x, got in zip(bodies, _motions(bodies)):
            want = np.sum(np.var(x.reshape(-1, 3), axis=0))
            assert got.dtype == want.dtype == np.float32 and got.tobytes() == want.tobytes()


def _sample_cases(shared) -> list[tuple[str, NtuSkeleton]]:
    cases = [(p.stem, read_ntu_skeleton(p, fields=("x", "y", "z")))
             for p in sorted(shared("data", "ntu-samples", "skeletons").glob("*.skeleton"))
             + sorted(shared("data", "ntu-synthetic").glob("*.skeleton"))]
    rng = np.random.default_rng(3)
    body = [rng.normal(size=(25, 3)).astype(np.float32) for _ in range(14)]
    zero = np.zeros((25, 3), np.float32)
    cases += [
        ("leading zero frame", _skeleton([[(5, zero)], [(5, body[0])], [(5, body[1])]])),
        ("frames without body", _skeleton([[], [(5, body[0])], [], [(5, body[1])], []])),
        ("two bodyIDs", _skeleton([[(5, body[i]), (6, body[-1 - i])] for i in range(14)])),
        ("one bodyID twice in a frame", _skeleton([[(5, body[0]), (5, body[1])], [(5, body[2])]])),
        ("actor zero throughout", _skeleton([[(5, zero)], [(5, zero)]])),
    ]
    return cases


def test_sgn_sample_equals_sgn_process(shared):
    for name, ske in _sample_cases(shared):
        for params in (None, {"origin_joint": 3}):
            try:
                want = sgn_process(ske, name, params).data
            except SgnPipelineError as e:
                with pytest.raises(SgnPipelineError) as err:
                    sgn_sample(ske, name, params)
                assert str(err.value) == str(e)
                continue
            got = sgn_sample(ske, name, params)
            assert got.shape == want.shape and got.dtype == np.float32, name
            np.testing.assert_array_equal(got, want, err_msg=name)
