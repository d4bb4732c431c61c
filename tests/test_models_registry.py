"""Contract tests run on every registered model: shapes, gradients, batch independence (ONNX: test_onnx_deploy.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from skelar.models import create_model, list_models

NUM_CLASSES = 5
# every model skelar ships; test-only toy models registered by other test modules (named test_*) are skipped
MODELS = [name for name in list_models() if not name.startswith("test_")]


def _logits(out):
    return out["logits"] if isinstance(out, dict) else out


def _build(name: str) -> nn.Module:
    torch.manual_seed(0)
    return create_model(name, num_classes=NUM_CLASSES)


def _randn(model: nn.Module, n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, *model.input_shape, generator=torch.Generator().manual_seed(seed))


def test_registry_is_not_empty():
    assert "sgn" in MODELS


@pytest.mark.parametrize("name", MODELS)
def test_model_declares_its_input(name):
    model = _build(name)
    shape = tuple(model.input_shape)
    assert len(shape) == 4 and all(isinstance(s, int) and s > 0 for s in shape), shape


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("batch", [1, 3])
def test_forward_shape_and_finite(name, batch):
    model = _build(name).eval()
    with torch.no_grad():
        out = _logits(model(_randn(model, batch, seed=batch)))
    assert out.shape == (batch, NUM_CLASSES)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", MODELS)
def test_backward_gives_finite_gradients(name):
    model = _build(name).train()
    x = _randn(model, 2, seed=1)
    target = torch.tensor([1, NUM_CLASSES - 1])
    out = model(x)
    heads = [_logits(out), *(out.get("aux_logits", {}).values() if isinstance(out, dict) else [])]  # as the engine's loss
    # plus the auxiliary losses a model returns in training mode
    aux = out.get("aux_losses", {}) if isinstance(out, dict) else {}
    (sum(nn.functional.cross_entropy(h, target) for h in heads) + sum(aux.values(), torch.zeros(()))).backward()
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    no_grad = [n for n, p in params if p.grad is None]
    assert not no_grad, f"parameters without gradient: {no_grad}"
    bad = [n for n, p in params if not torch.isfinite(p.grad).all()]
    assert not bad, f"non-finite gradients: {bad}"
    # reference inits can silence some branches at the start (zero-initialised gates), but not most
    nonzero = [n for n, p in params if p.grad.abs().max() > 0]
    assert len(nonzero) > 0.5 * len(params), f"only {len(nonzero)}/{len(params)} parameters get a non-zero gradient"


@pytest.mark.parametrize("name", MODELS)
def test_eval_output_does_not_depend_on_batch(name):
    model = _build(name).eval()
    x = _randn(model, 3, seed=2)
    with torch.no_grad():
        whole = _logits(model(x))
        single = torch.cat([_logits(model(x[i : i + 1])) for i in range(3)])
        reversed_ = _logits(model(x.flip(0))).flip(0)
    torch.testing.assert_close(single, whole, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(reversed_, whole, rtol=1e-4, atol=1e-5)


# ONNX export of every registered model: tests/test_onnx_deploy.py (through skelar's own exporter)
