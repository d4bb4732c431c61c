"""Build the configured model for a dataset, generically (no model is special-cased).

``num_classes`` and ``layout`` come from the dataset (and ``num_persons`` from the transformed
sample shape) whenever the model accepts them and the config does not set them; a value that the
config sets and the data contradicts is an error, as is an ``input_shape`` the data cannot feed.
"""

from __future__ import annotations

import inspect
from typing import Any, Mapping

from torch import nn

__all__ = ["accepted_kwargs", "resolve_model_kwargs", "build_model", "check_input_shape"]


def accepted_kwargs(name: str) -> tuple[set[str], bool]:
    """Keyword names the model builder takes, and whether it also takes ``**kwargs``."""
    from skelar.models import get_model_entry

    builder = get_model_entry(name).builder
    target = builder.__init__ if inspect.isclass(builder) else builder
    params = inspect.signature(target).parameters
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return {n for n, p in params.items() if n != "self" and p.kind is not inspect.Parameter.VAR_KEYWORD}, var_kw


def resolve_model_kwargs(name: str, kwargs: Mapping[str, Any], num_classes: int, layout: str, num_persons: int) -> dict[str, Any]:
    """Fill ``num_classes``/``layout``/``num_persons`` from the data; mismatches raise ``ValueError``."""
    names, _ = accepted_kwargs(name)
    out = dict(kwargs)
    for key, value in (("num_classes", num_classes), ("layout", layout), ("num_persons", num_persons)):
        if key in out:
            if out[key] != value:
                raise ValueError(f"model.kwargs.{key}: {out[key]!r} does not match the data ({value!r}); remove it or fix the data")
        elif key != "num_persons" or key in names:  # every model takes num_classes and layout
            out[key] = value
    return out


def check_input_shape(model: nn.Module, shape: tuple[int, ...], name: str) -> None:
    """Compare the model's declared ``input_shape`` (``None`` = any) with the data's ``(C, T, V, M)``."""
    expected = getattr(model, "input_shape", None)
    if expected is None:
        return
    expected = tuple(expected)
    if len(expected) != len(shape) or any(e is not None and int(e) != s for e, s in zip(expected, shape)):
        raise ValueError(
            f"model {name!r} expects input (C, T, V, M) = {expected} but the data transforms produce {tuple(shape)}; "
            "adjust data.*_transforms or model.kwargs"
        )


def build_model(name: str, kwargs: Mapping[str, Any], sample_shape: tuple[int, int, int, int]) -> nn.Module:
    """``create_model(name, **kwargs)`` plus the input-shape check."""
    from skelar.models import create_model

    model = create_model(name, **dict(kwargs))
    check_input_shape(model, sample_shape, name)
    return model
