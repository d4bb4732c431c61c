import numpy as np
import pytest

from skelar.layouts import get_layout, layout_from_dict, list_layouts, load_layout_file


def test_bundled_layouts():
    assert {"ntu25", "ucla20", "coco17", "openpose18"} <= set(list_layouts())
    ntu = get_layout("ntu25")
    assert ntu.num_joints == 25 and len(ntu.edges) == 24
    assert ntu.names[ntu.center] == "SpineMid"
    # CTR-GCN bone pairs (1-based child, parent) from the NTU reference notes
    pairs = [(1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9), (11, 10), (12, 11),
             (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18), (20, 19), (22, 23), (21, 21),
             (23, 8), (24, 25), (25, 12)]
    assert sorted(ntu.bone_pairs) == sorted((a - 1, b - 1) for a, b in pairs)
    ucla = get_layout("ucla20")
    assert ucla.num_joints == 20 and len(ucla.edges) == 19
    a = ucla.adjacency()
    assert np.allclose(a, a.T) and a.sum() == 38


def test_layout_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown joint 'Nope'"):
        layout_from_dict({"name": "x", "joints": [{"name": "A", "parent": "Nope"}]})
    with pytest.raises(ValueError, match="cycle"):
        layout_from_dict({"name": "x", "joints": [{"name": "R", "parent": "R"}, {"name": "A", "parent": "B"}, {"name": "B", "parent": "A"}]})
    with pytest.raises(KeyError, match="unknown joint layout"):
        get_layout("nope")
    p = tmp_path / "bad.yaml"
    p.write_text("name: x\n")
    with pytest.raises(ValueError, match="bad.yaml.*missing key 'joints'"):
        load_layout_file(p)


def test_custom_layout_yaml(tmp_path):
    p = tmp_path / "stick.yaml"
    p.write_text("name: stick3\ncenter: Hip\njoints:\n  - {name: Hip, parent: Hip}\n  - {name: Knee, parent: Hip}\n  - {name: Foot, parent: Knee}\n")
    lay = load_layout_file(p)
    assert lay.parents == (0, 0, 1) and lay.edges == [(1, 0), (2, 1)]
    assert layout_from_dict(lay.to_dict()) == lay
