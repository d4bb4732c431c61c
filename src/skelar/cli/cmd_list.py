"""``skelar list [KIND]``: the names registered at every extension point (models, transforms, losses, ...)."""

from __future__ import annotations

import argparse
import importlib
from typing import Callable

__all__ = ["KINDS", "register", "run"]


def _registry(module: str, name: str) -> Callable[[], list[tuple[str, str]]]:
    """Lister of ``(name, one-line description)`` for the registry ``name`` in ``module``."""

    def names() -> list[tuple[str, str]]:
        reg = getattr(importlib.import_module(module), name)
        return [(n, _first_line(obj)) for n, obj in reg.items()]

    return names


def _first_line(obj: object) -> str:
    doc = getattr(obj, "description", None) or getattr(obj, "help", None) or getattr(obj, "__doc__", None) or ""
    return str(doc).strip().split("\n")[0] if isinstance(doc, str) else ""


def _layouts() -> list[tuple[str, str]]:
    from skelar.layouts import get_layout, list_layouts

    return [(n, get_layout(n).description or f"{get_layout(n).num_joints} joints") for n in list_layouts()]


# kind -> lister; every kind is an extension point (see docs/extending.md)
KINDS: dict[str, Callable[[], list[tuple[str, str]]]] = {
    "models": _registry("skelar.models.registry", "MODELS"),
    "transforms": _registry("skelar.transforms.base", "TRANSFORMS"),
    "losses": _registry("skelar.engine.losses", "LOSSES"),
    "optimizers": _registry("skelar.engine.optim", "OPTIMIZERS"),
    "schedulers": _registry("skelar.engine.optim", "SCHEDULERS"),
    "preparers": _registry("skelar.cli.cmd_prepare", "PREPARERS"),
    "streams": _registry("skelar.transforms.streams", "STREAMS"),
    "layouts": _layouts,
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``skelar list``."""
    p = subparsers.add_parser("list", help="list what is registered: models, transforms, losses, ...",
                              description="List the names registered at each extension point (all kinds without KIND).")
    p.add_argument("kind", nargs="?", choices=list(KINDS), help="one kind only")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print each kind's names with a one-line description."""
    import skelar.models  # noqa: F401  (registers the built-in models)
    import skelar.transforms  # noqa: F401  (registers the built-in transforms)

    kinds = [args.kind] if args.kind else list(KINDS)
    for i, kind in enumerate(kinds):
        rows = KINDS[kind]()
        if len(kinds) > 1:
            print(("\n" if i else "") + f"{kind}:")
        width = max([len(n) for n, _ in rows] + [0])
        indent = "  " if len(kinds) > 1 else ""
        for name, text in rows:
            print(f"{indent}{name:<{width}}  {text}".rstrip())
    return 0
