import numpy as np
import pytest

from skelar.transforms import (CenterSequence, DropZeroFrames, InterleavePersons, RandomRotation, SegmentSample,
                               build_transforms, sgn_rotation_matrix)


def _seq(T=6, M=2, seed=0):
    return np.random.default_rng(seed).normal(size=(3, T, 25, M)).astype(np.float32)


def test_drop_zero_frames():
    x = _seq()
    x[:, [0, 3]] = 0
    y = DropZeroFrames()(x, None)
    np.testing.assert_array_equal(y, x[:, [1, 2, 4, 5]])


def test_interleave_persons_matches_two_to_one():
    x = _seq(T=4)
    x[:, 3, :, 1] = 0  # frame 3: only person 0
    x[:, 1, :, 0] = 0  # frame 1: only person 1
    y = InterleavePersons()(x, None)
    expected = [x[:, 0, :, 0], x[:, 0, :, 1], x[:, 1, :, 1], x[:, 2, :, 0], x[:, 2, :, 1], x[:, 3, :, 0]]
    assert y.shape == (3, 6, 25, 1)
    for t, e in enumerate(expected):
        np.testing.assert_array_equal(y[:, t, :, 0], e)


def test_segment_sample():
    x = _seq(T=45, M=1)
    s = SegmentSample(20)
    off = s.offsets(45, np.random.default_rng(0))
    assert off.shape == (20,) and np.all(off // 2 == np.arange(20))  # ave = 2, tail 40..44 never used
    np.testing.assert_array_equal(s.apply(x, off), x[:, off])
    short = s(_seq(T=7, M=1), np.random.default_rng(0))
    assert short.shape == (3, 20, 25, 1) and not short[:, 7:].any()
    c = SegmentSample(5, mode="center").offsets(10, None)
    np.testing.assert_array_equal(c, [1, 3, 5, 7, 9])
    with pytest.raises(ValueError, match="mode"):
        SegmentSample(5, mode="bogus")


def test_rotation_matrix_is_sgn_convention():
    ax, ay, az = 0.1, -0.2, 0.3
    r = sgn_rotation_matrix([ax, ay, az])
    assert np.allclose(r @ r.T, np.eye(3)) and np.isclose(np.linalg.det(r), 1)
    # single-axis checks of the row-vector conventions
    rx = sgn_rotation_matrix([ax, 0, 0])
    np.testing.assert_allclose(rx, [[1, 0, 0], [0, np.cos(ax), np.sin(ax)], [0, -np.sin(ax), np.cos(ax)]])
    x = _seq(M=1)
    y = RandomRotation(0.3).apply(x, np.array([ax, ay, az]))
    np.testing.assert_allclose(y[:, 2, 4, 0], r @ x[:, 2, 4, 0], rtol=1e-5)
    zeros = np.zeros_like(x)
    assert not RandomRotation(0.3)(zeros, np.random.default_rng(0)).any()


def test_center_sequence():
    x = _seq(T=5)
    x[:, 0, :, 0] = 0  # person 0 absent in frame 0
    x[:, 4, :, 1] = 0
    y = CenterSequence(layout="ntu25")(x, None)
    origin = x[:, 1, 1, 0]
    np.testing.assert_allclose(y[:, 2, 7, 1], x[:, 2, 7, 1] - origin, rtol=1e-6)
    assert not y[:, 0, :, 0].any() and not y[:, 4, :, 1].any()
    np.testing.assert_allclose(y[:, 1, 1, 0], 0, atol=1e-7)


def test_build_transforms_errors():
    with pytest.raises(ValueError, match=r"t\[1\]\.name: unknown transform 'nope'"):
        build_transforms([{"name": "drop_zero_frames"}, {"name": "nope"}], where="t")
    with pytest.raises(ValueError, match=r"t\[0\]\.thetaa: transform 'random_rotation' has no parameter"):
        build_transforms([{"name": "random_rotation", "thetaa": 1}], where="t")
    with pytest.raises(ValueError, match=r"t\[0\]: num_segments must be >= 1"):
        build_transforms([{"name": "segment_sample", "num_segments": 0}], where="t")


# -- the contract every registered transform keeps -------------------------------------------------

from skelar.transforms import list_transforms  # noqa: E402
from skelar.transforms.base import TRANSFORMS  # noqa: E402

CONTRACT_LAYOUT = "ntu25"


def _builtin_transforms() -> list[str]:
    """skelar's own transforms (test-only ones registered by the test helpers are left out)."""
    return [n for n in list_transforms() if TRANSFORMS.get(n).__module__.startswith("skelar.")]


def _contract_sample(seed: int = 0) -> np.ndarray:
    """A two-person NTU-sized clip with trailing all-zero frames and an absent second person in some frames."""
    x = np.random.default_rng(seed).normal(size=(3, 80, 25, 2)).astype(np.float32)
    x[:, 70:] = 0
    x[:, 10:20, :, 1] = 0
    return x


def _build_for_contract(name: str):
    """The transform with its defaults; a ``layout`` parameter (required or not) gets the sample's layout."""
    import inspect

    params = inspect.signature(TRANSFORMS.get(name).__init__).parameters
    spec = {"name": name}
    if "layout" in params:
        spec["layout"] = CONTRACT_LAYOUT
    missing = [p for p, v in params.items() if p not in ("self", "layout") and v.default is inspect.Parameter.empty
               and v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD)]
    assert not missing, f"transform {name!r} has required parameters {missing}: give them defaults"
    return build_transforms([spec])


@pytest.mark.parametrize("name", _builtin_transforms())
def test_transform_contract(name):
    """A 4-D float32 array (``(C, T', V, M')``, or a model's own view such as descriptor images), the same
    output for the same seed, finite values, the input untouched."""
    t = _build_for_contract(name)
    x = _contract_sample()
    before = x.copy()
    a = t(x, np.random.default_rng(7))
    b = t(_contract_sample(), np.random.default_rng(7))
    assert isinstance(a, np.ndarray) and a.ndim == 4, f"{name}: output {type(a).__name__} of shape {getattr(a, 'shape', None)}"
    assert min(a.shape) >= 1, f"{name}: empty output {a.shape}"
    assert a.dtype == np.float32, f"{name}: dtype {a.dtype}"
    np.testing.assert_array_equal(a, b, err_msg=f"{name}: not deterministic for a seed")
    assert np.isfinite(a).all(), f"{name}: NaN or inf in the output"
    np.testing.assert_array_equal(x, before, err_msg=f"{name}: changed its input in place")


def test_the_contract_covers_every_builtin_transform():
    assert len(_builtin_transforms()) >= 15 and set(_builtin_transforms()) <= set(list_transforms())
