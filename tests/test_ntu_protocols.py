"""NTU protocols on the real name lists, against the SGN fixture, and the missing-skeleton lists."""

from __future__ import annotations

import numpy as np
import pytest

from skelar.preprocess.ntu_classes import NTU60_CLASSES, NTU120_CLASSES, NTU_MUTUAL_ACTIONS, ntu_classes
from skelar.preprocess.ntu_protocols import (
    NTU60_TRAIN_SUBJECTS,
    NTU120_TRAIN_SUBJECTS,
    in_dataset,
    name_fields,
    protocol_is_train,
    protocol_split,
    read_missing_list,
    sgn_reference_split,
)

COUNTS = {
    ("ntu60", "xsub"): (40091, 16487),
    ("ntu60", "xview"): (37646, 18932),
    ("ntu120", "xsub"): (63026, 50919),
    ("ntu120", "xset"): (54468, 59477),
}


def _names(shared, dataset: str) -> list[str]:
    folder = "ntu" if dataset == "ntu60" else "ntu120"
    return shared("data", "ntu-samples", "sample_name_statistics", folder, "skes_available_name.txt").read_text().split()


@pytest.mark.parametrize("dataset,protocol", sorted(COUNTS))
def test_split_counts_on_real_name_lists(dataset, protocol, shared):
    names = _names(shared, dataset)
    fields = name_fields(names)
    assert in_dataset(fields, dataset).all()
    train, test = protocol_split(fields, dataset, protocol)
    assert (len(train), len(test)) == COUNTS[(dataset, protocol)]
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == len(names)


def test_statistics_columns_agree_with_names(shared):
    folder = shared("data", "ntu-samples", "sample_name_statistics", "ntu")
    fields = name_fields((folder / "skes_available_name.txt").read_text().split())
    for col, key in (("performer", "performer"), ("camera", "camera"), ("setup", "setup"), ("label", "action")):
        np.testing.assert_array_equal(np.loadtxt(folder / f"{col}.txt", dtype=np.int64), fields[key])


def test_membership_and_reference_order_match_fixture(shared):
    with np.load(shared("parity", "pipelines", "sgn_ntu.npz"), allow_pickle=False) as z:
        all_names, names = list(z["split/all_names"]), list(z["split/names"])
        fields, sample = name_fields(all_names), name_fields(names)
        for evaluation, protocol in (("CS", "xsub"), ("CV", "xview")):
            is_train = protocol_is_train(sample, "ntu60", protocol)
            np.testing.assert_array_equal(is_train, z[f"split/{evaluation}/is_train"])
            np.testing.assert_array_equal(~is_train, z[f"split/{evaluation}/is_test"])
            train, test = sgn_reference_split(fields["performer"], fields["camera"], evaluation)
            np.testing.assert_array_equal(train, z[f"split/{evaluation}/train_idx"])
            np.testing.assert_array_equal(test, z[f"split/{evaluation}/test_idx"])
            ours_train, ours_test = protocol_split(fields, "ntu60", protocol)
            np.testing.assert_array_equal(np.sort(train), ours_train)
            np.testing.assert_array_equal(np.sort(test), ours_test)
            # SGN's validation names come from its training part
            assert set(z[f"split/{evaluation}/val_names"]) <= {all_names[i] for i in ours_train}


def test_subject_lists():
    assert len(NTU60_TRAIN_SUBJECTS) == 20 and len(NTU120_TRAIN_SUBJECTS) == 53
    assert NTU120_TRAIN_SUBJECTS[:20] == NTU60_TRAIN_SUBJECTS


def test_ntu60_excludes_ntu120_only_samples():
    fields = name_fields(["S017C001P040R001A060", "S018C001P041R001A001", "S001C001P001R001A061"])
    assert in_dataset(fields, "ntu60").tolist() == [True, False, False]
    assert in_dataset(fields, "ntu120").tolist() == [True, True, True]
    with pytest.raises(ValueError, match="no protocol 'xset'"):
        protocol_is_train(fields, "ntu60", "xset")
    with pytest.raises(ValueError, match="unknown NTU dataset"):
        in_dataset(fields, "ntu90")


def test_official_missing_lists(shared):
    lists = shared("data", "ntu-samples", "official_lists")
    m60 = read_missing_list(lists / "NTU_RGBD_samples_with_missing_skeletons.txt")
    m120 = read_missing_list(lists / "NTU_RGBD120_samples_with_missing_skeletons.txt")
    assert len(m60) == 302 and len(m120) == 535 and m60 <= m120
    # the usable lists are exactly the complete name grid minus the missing ones
    available60 = set(_names(shared, "ntu60"))
    assert not (available60 & m60) and len(available60) + len(m60) == 56880
    plain = shared("data", "ntu-samples", "sample_name_statistics", "ntu", "samples_with_missing_skeletons.txt")
    assert read_missing_list(plain) == m60


def test_missing_list_errors(tmp_path):
    bad = tmp_path / "list.txt"
    bad.write_text("header\n\nS001C001P001R001A001\noops\n")
    with pytest.raises(ValueError, match=r"list\.txt:4: not an NTU sample name"):
        read_missing_list(bad)
    with pytest.raises(FileNotFoundError, match="not found"):
        read_missing_list(tmp_path / "nope.txt")


def test_class_names(shared):
    rows = shared("data", "ntu-samples", "ntu120_class_names.tsv").read_text(encoding="utf-8").splitlines()
    official = [r.split("\t")[1].replace("\u2019", "'") for r in rows]
    assert list(NTU120_CLASSES) == official
    assert ntu_classes("ntu60") == NTU60_CLASSES == NTU120_CLASSES[:60]
    assert len(NTU_MUTUAL_ACTIONS) == 26
