"""PYSKL / MMAction2 skeleton annotation pickles: a restricted reader and a writer.

The file holds one dict (schema documented in pyskl ``tools/data/README.md``)::

    {"split": {"xsub_train": [frame_dir, ...], "xsub_val": [...], ...},
     "annotations": [{"frame_dir": str, "label": int (0-based), "total_frames": T,
                      "keypoint": ndarray [M, T, V, C],            # C = 3 (xyz) or 2 (xy)
                      "keypoint_score": ndarray [M, T, V],         # 2D only, optional
                      "img_shape": (h, w), "original_shape": (h, w)}, ...]}

**Security:** unpickling can run arbitrary code. :func:`load_pyskl` refuses to read unless the caller
passes ``trust_pickle=True`` (CLI: ``--trust-pickle``), and even then it unpickles with
:class:`RestrictedUnpickler`, which only resolves NumPy array/dtype/scalar reconstruction and plain
builtin container types; any other global (``os.system``, ``builtins.eval``, ...) is refused.
Only open pickles from sources you trust.
"""

from __future__ import annotations

import io
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

__all__ = [
    "PICKLE_WARNING",
    "RestrictedUnpickler",
    "PysklAnnotation",
    "PysklFile",
    "restricted_loads",
    "load_pyskl",
    "save_pyskl",
    "split_name_to_part",
    "MAX_CLASSES",
]

MAX_CLASSES = 100_000  # a label beyond this is refused (a class list is allocated for every index below it)

PICKLE_WARNING = (
    "pickle files can execute code when loaded; skelar reads them with a restricted unpickler "
    "(NumPy arrays and plain containers only), but open only pickles from sources you trust"
)

_NUMPY_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
}
_SAFE_BUILTINS = {"set", "frozenset", "list", "dict", "tuple", "bytes", "bytearray", "complex", "int", "float",
                  "str", "bool", "slice", "range"}


_SIZED_BUILTINS = {"bytes", "bytearray", "list", "tuple", "set", "frozenset", "dict"}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only NumPy array reconstruction, ``numpy.dtype`` and safe builtin types.

    ``limit`` bounds every size a pickle can ask for before anything is allocated: ``bytes(N)``,
    ``list(range(N))`` and an array shape given to NumPy's reconstruction may not exceed ``limit``
    bytes or items (a genuine pickle holds its data, so the file's own size is a safe bound)."""

    def __init__(self, file: Any, limit: int | None = None) -> None:
        super().__init__(file)
        self.limit = limit

    def find_class(self, module: str, name: str) -> Any:
        """Resolve only the NumPy and builtin names a PYSKL annotation file needs; refuse anything else."""
        if module.startswith("numpy.core."):  # pickles written by NumPy 1.x
            module = "numpy._core." + module[len("numpy.core."):]
        if module == "__builtin__":  # protocol-2 name of builtins
            module = "builtins"
        allowed = (module, name) in _NUMPY_GLOBALS or (module == "builtins" and name in _SAFE_BUILTINS)
        if module == "_codecs" and name == "encode":  # bytes in protocol-2 pickles
            allowed = True
        if not allowed:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: only NumPy arrays and plain containers are allowed "
                "(convert such objects to arrays, lists and dicts before pickling)")
        found = super().find_class(module, name)
        if self.limit is not None and (name in _SIZED_BUILTINS and module == "builtins" or name == "_reconstruct"):
            return _bounded(found, f"{module}.{name}", self.limit)
        return found


def _size_asked(arg: Any, dtype: Any = None) -> int:
    """The number of items (or bytes) an argument makes a constructor allocate."""
    if isinstance(arg, bool):
        return 0
    if isinstance(arg, int):
        return arg
    if isinstance(arg, range):
        return len(arg)
    if isinstance(arg, tuple) and dtype is not None and all(isinstance(d, int) for d in arg):  # an array shape
        return int(np.prod([max(d, 0) for d in arg], dtype=object)) * np.dtype(dtype).itemsize
    return 0


def _bounded(fn: Any, what: str, limit: int) -> Any:
    """``fn`` refusing arguments that ask for more than ``limit`` items or bytes."""

    def call(*args: Any) -> Any:
        dtype = args[2] if what.endswith("_reconstruct") and len(args) > 2 else None
        try:
            asked = max([_size_asked(a, dtype) for a in args], default=0)
        except TypeError:
            asked = 0
        if asked > limit:
            raise pickle.UnpicklingError(f"refusing {what} of size {asked}: larger than the file ({limit} bytes)")
        return fn(*args)

    return call


def restricted_loads(data: bytes) -> Any:
    """Unpickle ``data`` with :class:`RestrictedUnpickler`, sizes bounded by ``len(data)``."""
    return RestrictedUnpickler(io.BytesIO(data), limit=len(data)).load()


@dataclass
class PysklAnnotation:
    """One clip: ``keypoint`` ``(M, T, V, C)``; ``keypoint_score`` ``(M, T, V)`` or ``None``."""

    frame_dir: str
    label: int
    keypoint: np.ndarray
    keypoint_score: np.ndarray | None = None
    img_shape: tuple[int, int] | None = None
    subject: int | str | None = None  # an optional 'subject' key (not in PYSKL's own files)

    @property
    def total_frames(self) -> int:
        return int(self.keypoint.shape[1])


@dataclass
class PysklFile:
    """A PYSKL annotation file: its clips and its named splits."""

    annotations: list[PysklAnnotation]
    split: dict[str, list[str]] = field(default_factory=dict)


def _check_annotation(a: Any, i: int, source: str) -> PysklAnnotation:
    where = f"{source}: annotations[{i}]"
    if not isinstance(a, dict):
        raise ValueError(f"{where}: expected a dict, got {type(a).__name__}")
    name = a.get("frame_dir", a.get("filename"))
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where}: missing key 'frame_dir' (a non-empty string)")
    where = f"{source}: annotations[{i}] ({name})"
    label = a.get("label")
    if isinstance(label, np.integer):
        label = int(label)
    if not isinstance(label, int) or isinstance(label, bool) or label < 0:
        raise ValueError(f"{where}: key 'label' must be a non-negative int, got {label!r}")
    if label >= MAX_CLASSES:
        raise ValueError(f"{where}: key 'label' is {label}, beyond the {MAX_CLASSES} classes skelar accepts (labels are 0-based class indices)")
    kp = a.get("keypoint")
    if not isinstance(kp, np.ndarray):
        raise ValueError(f"{where}: missing key 'keypoint' (an ndarray [M, T, V, C]); Kinetics-style 'raw_file' annotations are not supported")
    if kp.ndim != 4 or kp.shape[3] not in (2, 3) or min(kp.shape[:3]) < 1:
        raise ValueError(f"{where}: key 'keypoint' must have shape [M, T, V, C] with C in (2, 3), got {kp.shape}")
    _check_values(kp, "keypoint", where)
    tf = a.get("total_frames", kp.shape[1])
    if int(tf) != kp.shape[1]:
        raise ValueError(f"{where}: key 'total_frames' is {tf} but keypoint has {kp.shape[1]} frames")
    score = a.get("keypoint_score")
    if score is not None:
        if not isinstance(score, np.ndarray) or score.shape != kp.shape[:3]:
            shape = getattr(score, "shape", type(score).__name__)
            raise ValueError(f"{where}: key 'keypoint_score' must have shape {kp.shape[:3]}, got {shape}")
        _check_values(score, "keypoint_score", where)
    subject = a.get("subject")
    if isinstance(subject, np.integer):
        subject = int(subject)
    if subject is not None and (isinstance(subject, bool) or not isinstance(subject, (int, str))):
        raise ValueError(f"{where}: key 'subject' must be an int or a string, got {subject!r}")
    return PysklAnnotation(name, label, kp, score, _img_shape(a.get("img_shape"), where), subject)


def _check_values(a: np.ndarray, key: str, where: str) -> None:
    """Real numbers that are finite in float32 (what they are stored as)."""
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"{where}: key {key!r} must hold real numbers, got dtype {a.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.isfinite(a.astype(np.float32)).all()
    if not finite:
        what = "NaN or infinite values" if not np.isfinite(a).all() else "values beyond the float32 range"
        raise ValueError(f"{where}: key {key!r} contains {what}")


def _img_shape(img: Any, where: str) -> tuple[int, int] | None:
    if img is None:
        return None
    try:
        h, w = (int(v) for v in img)
        if h <= 0 or w <= 0:
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{where}: key 'img_shape' must be (height, width) positive integers, got {img!r}") from None
    return h, w


def load_pyskl(path: str | os.PathLike, trust_pickle: bool = False) -> PysklFile:
    """Read and validate an annotation pickle (see the module docstring for why ``trust_pickle`` is required)."""
    path = Path(path)
    if not trust_pickle:
        raise ValueError(f"{path}: refusing to read a pickle without trust_pickle (CLI: --trust-pickle); {PICKLE_WARNING}")
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise ValueError(f"{path}: is a directory, expected a .pkl file") from None
    try:
        doc = restricted_loads(data)
    except pickle.UnpicklingError as e:
        if str(e).startswith("refusing"):
            raise ValueError(f"{path}: {e}") from None
        raise ValueError(f"{path}: not a readable pickle ({e})") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, ImportError) as e:
        raise ValueError(f"{path}: not a readable pickle ({type(e).__name__}: {e})") from None
    if isinstance(doc, list):  # some tools store the bare annotation list
        doc = {"annotations": doc}
    if not isinstance(doc, dict) or "annotations" not in doc:
        raise ValueError(f"{path}: expected a dict with key 'annotations' (and 'split')")
    if not isinstance(doc["annotations"], list):
        raise ValueError(f"{path}: key 'annotations' must be a list")
    anns = [_check_annotation(a, i, str(path)) for i, a in enumerate(doc["annotations"])]
    names = [a.frame_dir for a in anns]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"{path}: duplicate frame_dir {dup!r} in 'annotations'")
    split = doc.get("split", {}) or {}
    if not isinstance(split, dict):
        raise ValueError(f"{path}: key 'split' must be a dict of name -> list of frame_dir")
    known = set(names)
    clean: dict[str, list[str]] = {}
    for k, v in split.items():
        if not isinstance(k, str) or not isinstance(v, (list, tuple)) or not all(isinstance(s, str) for s in v):
            raise ValueError(f"{path}: split[{k!r}] must be a list of frame_dir strings")
        missing = [s for s in v if s not in known]
        if missing:
            raise ValueError(f"{path}: split[{k!r}] names {len(missing)} clip(s) without annotation, e.g. {missing[0]!r}")
        clean[k] = list(v)
    return PysklFile(anns, clean)


def save_pyskl(path: str | os.PathLike, annotations: Iterable[PysklAnnotation], split: dict[str, list[str]]) -> None:
    """Write an annotation pickle in the PYSKL / MMAction2 schema."""
    anns = []
    for a in annotations:
        d: dict[str, Any] = {"frame_dir": a.frame_dir, "label": int(a.label), "total_frames": a.total_frames,
                             "keypoint": np.ascontiguousarray(a.keypoint)}
        if a.keypoint_score is not None:
            d["keypoint_score"] = np.ascontiguousarray(a.keypoint_score)
        if a.img_shape is not None:
            d["img_shape"] = tuple(a.img_shape)
            d["original_shape"] = tuple(a.img_shape)
        if a.subject is not None:
            d["subject"] = a.subject
        anns.append(d)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump({"split": {k: list(v) for k, v in split.items()}, "annotations": anns}, f, protocol=4)


def split_name_to_part(name: str, has_test: bool = False) -> tuple[str, str]:
    """Map a PYSKL split key to ``(protocol, part)``.

    ``xsub_train`` -> ``("xsub", "train")``; ``xsub_val`` -> ``("xsub", "test")`` (PYSKL's ``val`` is
    the evaluation split) unless the protocol also has a ``*_test`` key (``has_test``), then ``val``;
    ``train1``/``test1`` -> ``("split1", ...)``; bare ``train``/``val``/``test`` -> ``("default", ...)``.
    """
    for part in ("train", "val", "test"):
        if name.endswith("_" + part) and len(name) > len(part) + 1:
            proto = name[: -len(part) - 1]
            break
        if name.startswith(part) and (name == part or name[len(part):].isdigit()):
            proto = "split" + name[len(part):] if name != part else "default"
            break
    else:
        raise ValueError(f"split {name!r}: cannot tell train from test (expected <protocol>_train/_val/_test or train1/test1)")
    if part == "val" and not has_test:
        part = "test"
    return proto, part
