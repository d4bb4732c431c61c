"""A joint layout named on a command line or in a config: a registered name, a layout file, or a dataset folder."""

from __future__ import annotations

from pathlib import Path

from skelar.store.prepared import PreparedDataset, is_prepared_dir
from skelar.layouts import JointLayout, adopt_layout, layout_from_ref

__all__ = ["resolve_layout_arg"]


def resolve_layout_arg(value: str | Path | JointLayout) -> JointLayout:
    """The layout ``value`` stands for, registered so that it is usable by name afterwards.

    ``value`` is a registered layout name (``ucla20``, or one a dataset opened earlier registered), a
    layout YAML file, a prepared dataset directory (its recorded layout), or a plain-format source
    folder (the layout its ``dataset.yaml`` declares).
    """
    if isinstance(value, JointLayout):
        return value
    path = Path(str(value))
    if path.is_dir():
        if is_prepared_dir(path):
            return adopt_layout(PreparedDataset(path).layout, str(path))
        if (path / "dataset.yaml").is_file():
            from skelar.formats.folder import load_folder_spec  # reads the spec (and lists its samples)

            return adopt_layout(load_folder_spec(path).layout, str(path))
        raise ValueError(f"{path}: a directory given as a layout must be a prepared dataset or a folder with dataset.yaml")
    return adopt_layout(layout_from_ref(value), str(value))
