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
