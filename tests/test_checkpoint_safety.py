"""What a checkpoint can and cannot do: it is data only (no code runs, no module is imported because of it),
and refusals say what was refused and what to do, never "set weights_only=False"."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from skelar.formats.pyskl import restricted_loads
from skelar.reference.checkpoint_import import load_reference_state_dict
from skelar.store.checkpoint import load_checkpoint


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_refusals_say_what_and_what_instead(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "skelar-checkpoint", "model": {}, "metadata": {"x": _Evil()}}, path)
    for load in (load_checkpoint, load_reference_state_dict):
        with pytest.raises(ValueError) as info:
            load(path)
        msg = str(info.value)
        assert "evil.pt: not a readable" in msg and "refused: " in msg and "system" in msg
        assert "re-save the file as a plain state dict" in msg and "\n" not in msg
        assert "weights_only=False" not in msg and "set to `False`" not in msg and "weights_only` set" not in msg
    with pytest.raises(pickle.UnpicklingError) as info:
        restricted_loads(pickle.dumps(_Evil()))
    msg = str(info.value)
    assert "refusing to load global" in msg and "convert such objects to arrays, lists and dicts" in msg
    assert "weights_only" not in msg


# -- a checkpoint never causes an import (issue 14, item 1) ----------------------------------------

_PLUGIN = '''
import pathlib

import torch
from torch import nn

from skelar.models.registry import register_model

pathlib.Path({marker!r}).write_text("imported")


@register_model({model!r}, description="test plug-in model")
class Plug(nn.Module):
    def __init__(self, num_classes: int = 2):
        super().__init__()
        self.fc = nn.Linear(3, num_classes)

    def forward(self, x):
        return self.fc(x.mean(dim=(2, 3, 4)))
'''


@pytest.fixture
def plugin_checkpoint(tmp_path, monkeypatch):
    """A checkpoint of a model only a plug-in module registers; the module, importable from the current
    directory, leaves a marker file when imported."""
    import uuid

    from skelar.layouts import get_layout
    from skelar.store.checkpoint import save_checkpoint

    uid = uuid.uuid4().hex[:8]
    module, model, marker = f"skelar_plug_{uid}", f"test_plug_{uid}", tmp_path / "imported.txt"
    (tmp_path / f"{module}.py").write_text(_PLUGIN.format(marker=str(marker), model=model))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    state = {"fc.weight": torch.zeros(2, 3), "fc.bias": torch.tensor([0.0, 1.0])}
    meta = {"model": {"name": model, "kwargs": {"num_classes": 2}}, "config": {"imports": [module]},
            "layout": {"name": "ntu25", "dict": get_layout("ntu25").to_dict()},
            "dataset": {"name": "toy", "classes": ["a", "b"], "num_channels": 3, "num_persons": 1},
            "preprocessing": {"test_transforms": [], "test_clips": 1}, "seed": 0,
            "pretrained": {"tag": "t", "description": "plug-in weights"}}
    ckpt = tmp_path / "plug.pt"
    save_checkpoint(ckpt, {"model": state, "metadata": meta})
    return ckpt, module, model, marker


def test_checkpoint_does_not_import_its_recorded_modules(plugin_checkpoint, tmp_path, capsys, monkeypatch):
    import sys

    import numpy as np

    from skelar.cli.main import main
    from skelar.engine.checkpoint import model_from_checkpoint
    from skelar.models import create_model
    from skelar.models.weights import WEIGHTS_ENV

    ckpt, module, model, marker = plugin_checkpoint
    with pytest.raises(ValueError, match=rf"plug\.pt: model '{model}' is not registered; the checkpoint records the "
                                         rf"plug-in module\(s\) {module}, .* pass --import {module}"):
        model_from_checkpoint(ckpt)
    np.save(tmp_path / "x.npy", np.ones((3, 4, 25, 1), np.float32))
    for argv in (["predict", "--checkpoint", str(ckpt), "x.npy"], ["test", "--checkpoint", str(ckpt), "--data", "synthetic"],
                 ["export", "--checkpoint", str(ckpt), "--out", str(tmp_path / "m.onnx")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"pass --import {module}" in err and err.count("\n") == 1
    # shipped weights: by name through the registry and through the CLI
    wdir = tmp_path / "weights"
    wdir.mkdir()
    (wdir / f"{model}-t.pt").write_bytes(ckpt.read_bytes())
    monkeypatch.setenv(WEIGHTS_ENV, str(wdir))
    with pytest.raises(KeyError, match=f"unknown model '{model}'"):
        create_model(model, weights="t")
    assert main(["predict", "--model", model, "--weights", "t", "x.npy"]) == 2
    assert f"pass --import {module}" in capsys.readouterr().err
    assert not marker.exists() and module not in sys.modules  # nothing ran

    # named explicitly, the plug-in is imported and the checkpoint works
    assert main(["predict", "--import", module, "--checkpoint", str(ckpt), "x.npy", "--json", "-q"]) == 0
    assert marker.exists()
    rows = __import__("json").loads(capsys.readouterr().out)
    assert rows[0]["top"][0]["class"] == "b"
    assert main(["predict", "--import", "no_such_module_xyz", "--checkpoint", str(ckpt), "x.npy"]) == 2
    err = capsys.readouterr().err
    assert "cannot import" in err and "no_such_module_xyz" in err and err.count("\n") == 1
