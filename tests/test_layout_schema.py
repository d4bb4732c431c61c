"""The layout file schema: both forms, roles (centre, root, left/right), coordinates, validation and adoption."""

import pytest

from skelar.layouts import adopt_layout, get_layout, layout_from_dict, layout_from_ref, list_layouts, load_layout_file

FIVE = {"name": "five", "names": ["Pelvis", "Chest", "Head", "LHand", "RHand"], "parents": [-1, "Pelvis", 1, "Chest", "Chest"]}


def test_names_and_parents_form_and_roles():
    lay = layout_from_dict({**FIVE, "left_right": [["LHand", "RHand"]], "coordinates": {"up": "+z", "units": "m"}})
    assert lay.parents == (0, 0, 1, 1, 1) and lay.roots == [0]
    assert lay.center == 0  # default centre: the root
    assert lay.joint("center") == lay.joint("root") == 0 and lay.joint("Head") == 2 and lay.joint(4) == 4
    assert list(lay.mirror_permutation) == [0, 1, 2, 4, 3]
    assert lay.coordinates.up == "+z" and lay.coordinates.units == "m"
    again = layout_from_dict(lay.to_dict())  # the recorded (joints) form reads back identically
    assert again == lay
    assert layout_from_dict({**FIVE, "center": "Chest"}).joint("center") == 1
    assert layout_from_dict({**FIVE, "parents": [None, 0, 1, 1, 1]}).parents == lay.parents


@pytest.mark.parametrize("change, message", [
    ({"colour": "red"}, "key 'colour' is not a layout key"),
    ({"parents": [-1, 0]}, "key 'parents' must be a list with one entry per name"),
    ({"joints": [{"name": "A"}]}, "either 'joints' or 'names' \\+ 'parents'"),
    ({"left_right": [["LHand", "Nope"]]}, "left_right\\[0\\] refers to unknown joint 'Nope'"),
    ({"left_right": [["LHand", "RHand"], ["RHand", "Head"]]}, "joint 'RHand' is in two left/right pairs"),
    ({"left_right": [["LHand"]]}, "must be a pair"),
    ({"extra_edges": [["Head", "Head"]]}, "extra edge"),
    ({"coordinates": {"up": "y"}}, "coordinates.up must be one of"),
    ({"center": 9}, "center: index 9 is outside 0..4"),
    ({"names": ["A", "A", "B", "C", "D"]}, "joint name 'A' appears twice"),
    ({"parents": [1, 0, 1, 1, 1]}, "no root"),
])
def test_layout_validation_names_the_key(change, message):
    with pytest.raises(ValueError, match=message):
        layout_from_dict({**FIVE, **change}, source="my.yaml")


def test_root_role_needs_a_single_root():
    two = layout_from_dict({"name": "two", "names": ["A", "B"], "parents": [-1, -1]})
    with pytest.raises(ValueError, match="2 roots"):
        two.joint("root")
    with pytest.raises(ValueError, match="no joint 'Neck'"):
        two.joint("Neck")


def test_layout_files_and_refs(tmp_path):
    p = tmp_path / "five.yaml"
    p.write_text("name: five\nnames: [Pelvis, Chest, Head, LHand, RHand]\nparents: [-1, Pelvis, Chest, Chest, Chest]\n")
    assert load_layout_file(p).num_joints == 5 and layout_from_ref(str(p)).name == "five"
    assert layout_from_ref("ucla20") is get_layout("ucla20")
    with pytest.raises(FileNotFoundError):
        load_layout_file(tmp_path / "nope.yaml")


def test_bundled_layouts_declare_mirror_pairs():
    for name in ("ntu25", "ucla20", "coco17", "openpose18"):
        lay = get_layout(name)
        for left, right in lay.left_right:
            assert "left" in lay.names[left].lower() and "right" in lay.names[right].lower(), (name, left, right)
    assert len(get_layout("ntu25").left_right) == 10


def test_adopt_layout_registers_and_refuses_a_different_skeleton():
    lay = layout_from_dict({**FIVE, "name": "five_adopt"})
    assert "five_adopt" not in list_layouts()
    assert adopt_layout(lay, "d1") is lay and get_layout("five_adopt") is lay
    assert adopt_layout(layout_from_dict({**FIVE, "name": "five_adopt"}), "d2") is lay  # same skeleton: fine
    other = layout_from_dict({**FIVE, "name": "five_adopt", "parents": [-1, 0, 1, 2, 1]})
    with pytest.raises(ValueError, match="d3: its layout 'five_adopt' differs from the registered layout"):
        adopt_layout(other, "d3")
    # an older dataset file recording ucla20 without roles gets the registered layout (with its pairs)
    old = get_layout("ucla20").to_dict()
    old.pop("left_right"), old.pop("coordinates")
    assert adopt_layout(layout_from_dict(old), "old").left_right == get_layout("ucla20").left_right
