"""`predict --axes`: arrays in the PYSKL [M, T, V, C] order (or any other), with V checked against the checkpoint's layout."""

import numpy as np
import pytest

from skelar.engine.inference import read_input_array
from skelar.layouts import get_layout


def test_axes_reorder_and_joint_check(tmp_path):
    x = np.random.default_rng(0).normal(size=(3, 10, 20, 2)).astype(np.float32)  # (C, T, V, M)
    np.save(tmp_path / "pyskl.npy", x.transpose(3, 1, 2, 0))  # (M, T, V, C)
    ucla = get_layout("ucla20")
    out = read_input_array(tmp_path / "pyskl.npy", 3, 20, 2, axes="mtvc", layout=ucla)
    np.testing.assert_array_equal(out, x)
    np.save(tmp_path / "one.npy", x[..., 0].transpose(1, 0, 2))  # (T, C, V)
    np.testing.assert_array_equal(read_input_array(tmp_path / "one.npy", 3, 20, 2, axes="TCV")[..., 0], x[..., 0])
    with pytest.raises(ValueError, match=r"20 joints on the V axis but layout 'ntu25' has 25; a .npy array cannot tell its joint order"):
        read_input_array(tmp_path / "pyskl.npy", 3, 25, 2, axes="MTVC", layout=get_layout("ntu25"))
    with pytest.raises(ValueError, match="array has 4 axes"):
        read_input_array(tmp_path / "pyskl.npy", 3, 20, 2, axes="TVC")
    with pytest.raises(ValueError, match="--axes: must be a permutation of CTV or CTVM"):
        read_input_array(tmp_path / "pyskl.npy", 3, 20, 2, axes="MTVX")
    with pytest.raises(ValueError, match="give the stored order with --axes, e.g. --axes MTVC"):
        read_input_array(tmp_path / "pyskl.npy", 3, 20, 2)
