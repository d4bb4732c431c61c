"""Model registry in the style of timm: ``register_model``, ``create_model``, ``list_models``.

Every registered model takes the canonical input ``(N, C, T, V, M)`` and returns logits ``(N, K)``
(or a dict with ``"logits"`` and auxiliary entries, see :mod:`skelar.engine`). Keyword arguments
shared by all models: ``num_classes``, ``layout`` (a registered joint-layout name, default
``"ntu25"``) and, where it applies, ``num_persons``. A model exposes ``input_shape`` — the
``(C, T, V, M)`` it expects — so tools and tests can build example inputs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import torch
from torch import nn

from skelar.models.weights import read_pretrained
from skelar.registry import Registry
from skelar.store.checkpoint import ensure_layout

__all__ = [
    "key_mismatch_error",
    "MODELS",
    "CONVERTERS",
    "ModelEntry",
    "register_model",
    "create_model",
    "list_models",
    "get_model_entry",
    "convert_reference_state_dict",
    "model_from_record",
    "load_pretrained",
    "unwrap_state_dict",
]


@dataclass
class ModelEntry:
    """A registered model: its builder, optional reference converter, one-line description and default kwargs."""

    name: str
    builder: Callable[..., nn.Module]
    converter: Callable[[Mapping[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None
    description: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)


MODELS: Registry[ModelEntry] = Registry("model")
CONVERTERS: Registry[Callable[[Mapping[str, torch.Tensor]], dict[str, torch.Tensor]]] = Registry("reference converter")


def register_model(
    name: str,
    converter: Callable[[Mapping[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None,
    description: str = "",
    **defaults: Any,
) -> Callable:
    """Decorator registering a model class or builder under ``name``.

    ``converter`` maps a state dict of the reference implementation onto this model's keys;
    ``defaults`` are keyword arguments used when the caller does not give them.
    """

    def deco(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in MODELS:
            raise ValueError(f"model {name!r} registered twice")
        MODELS.register(name, ModelEntry(name, builder, converter, description or (builder.__doc__ or "").strip().split("\n")[0], dict(defaults)))
        if converter is not None:
            CONVERTERS.register(name, converter, replace=True)
        return builder

    return deco


def register_converter(name: str, converter: Callable[[Mapping[str, torch.Tensor]], dict[str, torch.Tensor]]) -> None:
    """Register a reference-state-dict converter for a component that is not a full model (e.g. ``sf_head``)."""
    CONVERTERS.register(name, converter, replace=True)


def list_models(pattern: str | None = None) -> list[str]:
    """Names of registered models, optionally filtered by a shell-style ``pattern``."""
    return MODELS.names(pattern)


def get_model_entry(name: str) -> ModelEntry:
    """The registry entry of model ``name``; an unknown name raises a KeyError listing the available ones."""
    if name not in MODELS:
        raise MODELS.unknown(name, known_word="available")
    return MODELS.get(name)


def create_model(name: str, weights: str | None = None, **kwargs: Any) -> nn.Module:
    """Build a registered model; ``weights`` names shipped pretrained weights (see :mod:`skelar.models.weights`).

    The returned module carries ``skelar_name`` and ``skelar_kwargs`` (the full constructor
    arguments), which checkpoints record so the model can be rebuilt without its config.
    """
    entry = get_model_entry(name)
    if weights is not None:
        return load_pretrained(name, weights, **kwargs)
    full = {**entry.defaults, **kwargs}
    try:
        model = entry.builder(**full)
    except TypeError as e:
        raise TypeError(f"model {name!r}: {e}") from None
    model.skelar_name = name
    model.skelar_kwargs = dict(full)
    return model


def model_from_record(info: Mapping[str, Any], state_dict: Mapping[str, torch.Tensor], where: str = "checkpoint") -> nn.Module:
    """Build the model a checkpoint's ``metadata["model"]`` record names (``{name, kwargs}``) and load ``state_dict``.

    Weights that do not fit the rebuilt model raise a one-line ValueError naming ``where``.
    """
    if "name" not in info:
        raise ValueError(f"{where}: metadata does not name the model")
    model = create_model(info["name"], **dict(info.get("kwargs") or {}))
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"{where}: weights do not fit model {info['name']!r} "
            f"(missing {list(missing)[:3]}, unexpected {list(unexpected)[:3]})"
        )
    return model


def load_pretrained(model: str, tag: str, weights_dir: str | os.PathLike | None = None, **kwargs: Any) -> nn.Module:
    """Build ``model`` with its shipped weights ``tag`` (eval mode); see :mod:`skelar.models.weights`.

    ``kwargs`` may repeat the shipped constructor arguments; one that contradicts them (another
    ``num_classes``, ``layout``, ...) or that the weights do not record raises a one-line ValueError.
    The model gets ``skelar_weights``: tag, path, class names, test transforms/clips, seed and test metrics
    (:meth:`~skelar.models.weights.WeightsRecord.as_dict`).
    """
    meta, state_dict, record = read_pretrained(model, tag, weights_dir, **kwargs)
    ensure_layout(meta)
    net = model_from_record(meta["model"], state_dict, record.path).eval()
    net.skelar_weights = record.as_dict()
    return net


def convert_reference_state_dict(name: str, state_dict: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Map a reference implementation's state dict (official checkpoints) onto skelar's module names."""
    if name not in CONVERTERS:
        raise KeyError(f"no reference converter for {name!r}; available: {', '.join(CONVERTERS.names()) or 'none'}")
    sd = {k: (v if isinstance(v, torch.Tensor) else torch.as_tensor(v)) for k, v in unwrap_state_dict(state_dict).items()}
    return CONVERTERS.get(name)(sd)


# keys under which training scripts commonly store the model's state dict inside a checkpoint
_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model_state", "model", "net")


def key_mismatch_error(what: str, unexpected: list[str], missing: list[str], limit: int = 10) -> ValueError:
    """The one-line error of a reference converter: ``not <what> (unexpected keys: ...; missing keys: ...)``."""

    def listed(keys: list[str]) -> str:
        keys = sorted(keys)
        return ", ".join(keys[:limit]) + (" ..." if len(keys) > limit else "")

    parts = [f"unexpected keys: {listed(unexpected)}"] if unexpected else []
    parts += [f"missing keys: {listed(missing)}"] if missing else []
    return ValueError(f"not {what} ({'; '.join(parts)})")


def unwrap_state_dict(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """The model state dict inside a checkpoint: unwraps ``{'state_dict': ...}``-style wrappers and strips
    the ``module.`` prefix that ``nn.DataParallel`` / DDP add to every key."""
    if not isinstance(checkpoint, Mapping):
        raise ValueError(f"a checkpoint must be a mapping of names to tensors, got {type(checkpoint).__name__}")
    for key in _WRAPPER_KEYS:
        inner = checkpoint.get(key)
        if isinstance(inner, Mapping):
            checkpoint = inner
            break
    sd = dict(checkpoint)
    if sd and all(isinstance(k, str) and k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return sd
