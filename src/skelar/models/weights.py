"""Shipped pretrained weights, found by name: ``create_model("sgn", weights="nwucla")``.

A shipped file is ``<model>-<tag>.pt`` — a skelar checkpoint stripped to the fp32 model weights and the
metadata (model kwargs, joint layout, class names, test transforms and clips, seed, test metrics, and a
``pretrained`` provenance record), written by ``skelar export --format weights``. Files are searched in
the folders of ``$SKELAR_WEIGHTS_DIR`` (``os.pathsep``-separated, searched first, so a local file
overrides a shipped one of the same name) and then in the package's own ``skelar/weights/``.

Like torchvision's weights enums, a shipped file is declared data: :func:`weights_record` reads what it
records (classes, test transforms and clips, seed, test metrics) without building a model. Reading the
file is the store's job (:mod:`skelar.store.checkpoint`, the one owner of the checkpoint format: the
``weights_only`` loading, the metadata layout, a recorded joint layout, the error messages); this module
maps ``(model, tag)`` to a path and a checked record and imports nothing from the engine or the model
registry (which builds the model: :func:`skelar.models.registry.load_pretrained`), so ``skelar test``/``predict`` read
a shipped file exactly like any run's checkpoint.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, NamedTuple

import torch

from skelar.store.checkpoint import load_checkpoint, read_metadata, to_plain

__all__ = [
    "WEIGHTS_ENV",
    "PACKAGE_WEIGHTS_DIR",
    "PretrainedWeights",
    "WeightsRecord",
    "weights_dirs",
    "list_pretrained",
    "pretrained_path",
    "weights_record",
    "read_pretrained",
]

log = logging.getLogger("skelar.weights")

WEIGHTS_ENV = "SKELAR_WEIGHTS_DIR"
PACKAGE_WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
TAG_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class PretrainedWeights(NamedTuple):
    """One findable weights file: model name, tag and description."""

    model: str
    tag: str
    description: str


def weights_dirs(weights_dir: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched for ``<model>-<tag>.pt``: ``weights_dir`` alone if given, else ``$SKELAR_WEIGHTS_DIR``'s, then the package's."""
    if weights_dir is not None:
        return [Path(weights_dir)]
    env = os.environ.get(WEIGHTS_ENV, "")
    return [Path(p) for p in env.split(os.pathsep) if p] + [PACKAGE_WEIGHTS_DIR]


def _all_files(weights_dir: str | os.PathLike | None) -> dict[str, list[Path]]:
    """``stem -> paths`` of every ``.pt`` in the search folders, in search order (the first one wins)."""
    found: dict[str, list[Path]] = {}
    for d in weights_dirs(weights_dir):
        if d.is_dir():
            for p in sorted(d.glob("*.pt")):
                found.setdefault(p.stem, []).append(p)
    return found


def _files(weights_dir: str | os.PathLike | None) -> dict[str, Path]:
    """``stem -> path`` of every ``.pt`` in the search folders; an earlier folder wins."""
    return {stem: paths[0] for stem, paths in _all_files(weights_dir).items()}


def list_pretrained(model: str | None = None, weights_dir: str | os.PathLike | None = None) -> list[PretrainedWeights]:
    """``(model, tag, description)`` of every findable weights file (of ``model`` only, if given), sorted.

    Files that are unreadable or whose name does not match their metadata are skipped with a warning.
    """
    out = []
    for stem, paths in _all_files(weights_dir).items():
        path = paths[0]
        try:
            meta = read_metadata(path)
        except (ValueError, FileNotFoundError) as e:
            hidden = f"; it hides {', '.join(map(str, paths[1:]))} of the same name (remove or rename it)" if len(paths) > 1 else ""
            log.warning("skipping %s%s", e, hidden)
            continue
        name = str((meta.get("model") or {}).get("name", ""))
        info = meta.get("pretrained") or {}
        tag = str(info.get("tag") or stem.removeprefix(f"{name}-"))
        if not name or stem != f"{name}-{tag}":
            log.warning("skipping %s: its metadata names model %r, tag %r (expected file %s-%s.pt)", path, name, tag, name, tag)
            continue
        if model is None or name == model:
            out.append(PretrainedWeights(name, tag, str(info.get("description") or "")))
    return sorted(out)


def pretrained_path(model: str, tag: str, weights_dir: str | os.PathLike | None = None) -> Path:
    """The file of ``model``'s weights ``tag``; a one-line error listing what exists when there is none."""
    if not TAG_PATTERN.match(str(tag)):
        raise ValueError(f"bad weights tag {tag!r}: use letters, digits, '_', '.', '-'")
    path = _files(weights_dir).get(f"{model}-{tag}")
    if path is not None:
        return path
    have = list_pretrained(weights_dir=weights_dir)
    same = [w.tag for w in have if w.model == model]
    if same:
        listing = f"{model!r} has: {', '.join(same)}"
    else:
        others = ", ".join(f"{w.model}-{w.tag}" for w in have)
        listing = f"{model!r} has none; shipped: {others or 'none'}"
    where = ", ".join(str(d) for d in weights_dirs(weights_dir))
    raise ValueError(f"no pretrained weights {tag!r} for model {model!r} ({listing}; searched {where}; set ${WEIGHTS_ENV} to add a folder)")


@dataclass(frozen=True)
class WeightsRecord:
    """What a weights file declares about itself, read from its metadata (no model is built)."""

    model: str
    tag: str
    path: str
    classes: list[str] = field(default_factory=list)
    test_transforms: list[Any] = field(default_factory=list)
    test_clips: int | None = None
    seed: int | None = None
    test: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_metadata(cls, model: str, tag: str, path: str | Path, meta: Mapping[str, Any]) -> "WeightsRecord":
        """The record of ``model``'s weights ``tag`` stored at ``path`` with metadata ``meta``."""
        pre = meta.get("preprocessing") or {}
        return cls(
            model=model,
            tag=tag,
            path=str(path),
            classes=list((meta.get("dataset") or {}).get("classes") or []),
            test_transforms=list(pre.get("test_transforms") or []),
            test_clips=pre.get("test_clips"),
            seed=meta.get("seed"),
            test=dict((meta.get("pretrained") or {}).get("test") or (meta.get("metrics") or {}).get("test") or {}),
        )

    def as_dict(self) -> dict[str, Any]:
        """The record as a plain dict (the ``skelar_weights`` attribute of a pretrained model)."""
        return asdict(self)


def weights_record(model: str, tag: str, weights_dir: str | os.PathLike | None = None) -> WeightsRecord:
    """The :class:`WeightsRecord` of ``model``'s shipped weights ``tag``, read from the file's metadata only."""
    path = pretrained_path(model, tag, weights_dir)
    return WeightsRecord.from_metadata(model, tag, path, read_metadata(path))


def read_pretrained(model: str, tag: str, weights_dir: str | os.PathLike | None = None, **kwargs: Any) -> tuple[dict[str, Any], dict[str, torch.Tensor], WeightsRecord]:
    """Read ``model``'s shipped weights ``tag``: ``(metadata, state_dict, record)``, checked against ``kwargs``.

    ``kwargs`` may repeat the shipped constructor arguments; one that contradicts them (another
    ``num_classes``, ``layout``, ...) or that the weights do not record raises a one-line ValueError.
    """
    path = pretrained_path(model, tag, weights_dir)
    ckpt = load_checkpoint(path)
    meta = ckpt["metadata"]
    info = meta.get("model") or {}
    if info.get("name") != model:
        raise ValueError(f"{path}: holds weights of model {info.get('name')!r}, not {model!r}")
    shipped = dict(info.get("kwargs") or {})
    for key, value in kwargs.items():
        if key not in shipped:
            raise ValueError(f"{model}-{tag}: the shipped weights fix {', '.join(sorted(shipped))}; {key}={value!r} is not among them")
        if to_plain(value, key) != shipped[key]:
            raise ValueError(
                f"{model}-{tag}: {key}={value!r} contradicts the shipped weights' {key}={shipped[key]!r} "
                f"(drop it, or call create_model({model!r}) without weights to start from scratch)"
            )
    return meta, ckpt["model"], WeightsRecord.from_metadata(model, tag, path, meta)
