"""``skelar data stats`` and its library function on a small hand-made dataset."""

from __future__ import annotations

import json

import numpy as np

from skelar.cli.main import main
from skelar.data import PreparedWriter, SampleMeta
from skelar.data.stats import dataset_stats, format_stats, persons_present


def _make(tmp_path):
    lengths = [5, 10, 10, 20, 40, 3]
    second = [False, True, False, True, False, False]
    with PreparedWriter(tmp_path / "ds", "ntu25", ["a", "b", "c"], num_persons=2) as w:
        for i, (T, two) in enumerate(zip(lengths, second)):
            x = np.zeros((3, T, 25, 2), np.float32)
            x[..., 0] = 1.0
            if two:
                x[:, T // 2, :, 1] = 2.0  # second person present in one frame only
            if i == 5:
                x[..., 0] = 0  # nobody at all
            w.add(x, SampleMeta(name=f"s{i}", label=i % 3, subject=i))
        w.set_split("p", "train", [0, 1, 2, 3])
        w.set_split("p", "test", [4, 5])
    return tmp_path / "ds", lengths


def test_stats_counts_lengths_and_persons(tmp_path):
    from skelar.data import PreparedDataset

    root, lengths = _make(tmp_path)
    ds = PreparedDataset(root)
    np.testing.assert_array_equal(persons_present(ds, chunk=7), [[1, 0], [1, 1], [1, 0], [1, 1], [1, 0], [0, 0]])
    s = dataset_stats(ds, bins=4)
    assert s["num_samples"] == 6 and s["per_class"] == [2, 2, 2]
    assert s["splits"]["p/train"] == {"count": 4, "per_class": [2, 1, 1]}
    assert s["splits"]["p/test"] == {"count": 2, "per_class": [0, 1, 1]}
    assert s["length"]["min"] == 3 and s["length"]["max"] == 40 and s["length"]["median"] == 10
    assert s["length"]["histogram"]["edges"] == [0, 10, 20, 30, 40]
    assert s["length"]["histogram"]["counts"] == [2, 2, 1, 1] and sum(s["length"]["histogram"]["counts"]) == 6
    assert s["persons"] == {"samples_by_count": {"0": 1, "1": 3, "2": 2}, "with_second_person": 2}
    text = format_stats(s)
    assert "p/train" in text and "with a second person: 2" in text


def test_cli_json_and_plot(tmp_path, capsys):
    root, _ = _make(tmp_path)
    png = tmp_path / "stats.png"
    assert main(["data", "stats", str(root), "--json", "--bins", "5", "--plot", str(png)]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["num_samples"] == 6 and len(s["length"]["histogram"]["counts"]) == 5
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"
    assert main(["data", "stats", str(tmp_path / "nope")]) == 2
    assert "not a prepared dataset" in capsys.readouterr().err
    assert main(["data", "export-pyskl", str(root), str(tmp_path / "out.pkl")]) == 0
    assert main(["data", "export-pyskl", str(root), str(tmp_path / "out.pkl")]) == 2  # exists, no --overwrite
