"""The one-way import flow of ``src/skelar``, read from the source with ``ast`` (deferred imports included).

Floors, bottom to top: registry → layouts → store → formats → preprocess → data → transforms → models →
engine → apps (video, viz, reference) → cli. A module may import its own floor and the floors below; an
import of a higher floor, or any import circle between modules, fails the test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "skelar"

# top-level name under skelar -> floor; the package root (``skelar/__init__.py``, the version) is the bottom
LAYERS: dict[str, int] = {
    "": 0,
    "registry": 0,
    "yaml_file": 0,
    "layouts": 1,
    "store": 2,
    "formats": 3,
    "preprocess": 4,
    "data": 5,
    "transforms": 6,
    "models": 7,
    "runtime": 7,  # numpy-only inference (recorded preprocessing, clips, onnxruntime): beside models, never imports them
    "engine": 8,
    "video": 9,
    "viz": 9,
    "reference": 9,
    "api": 9,  # skelar.api.predict: dispatches to the engine or the onnxruntime runtime
    "cli": 10,
    "__main__": 10,
}


def module_name(path: Path, root: Path) -> str:
    """``skelar.x.y`` for ``root/x/y.py`` (a package's ``__init__.py`` is the package)."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, module: str, known: set[str]) -> list[tuple[int, str]]:
    """``(line, imported skelar module)`` for every import in ``path``, at any depth (functions too).

    ``from pkg import name`` counts as an import of ``pkg.name`` when that is a module, else of ``pkg``.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    root = module.split(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == root]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != root:
                continue
            subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known]
            found += [(node.lineno, s) for s in subs] or [(node.lineno, target)]
    return found


def import_graph(root: Path) -> dict[str, list[tuple[int, str]]]:
    """Every module of the package at ``root`` -> the package modules it imports."""
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    return {m: imports_of(p, m, set(files)) for m, p in files.items()}


def floor(module: str, layers: dict[str, int]) -> int | None:
    parts = module.split(".")
    return layers.get(parts[1] if len(parts) > 1 else "")


def upward_imports(graph: dict[str, list[tuple[int, str]]], layers: dict[str, int]) -> list[str]:
    """``a:line imports b`` for each import of a higher floor (and of any module outside the table)."""
    bad = []
    for mod, targets in graph.items():
        own = floor(mod, layers)
        if own is None:
            bad.append(f"{mod}: not in the layer table")
            continue
        for line, target in targets:
            other = floor(target, layers)
            if other is None or other > own:
                bad.append(f"{mod}:{line} imports {target} (floor {other} above {own})")
    return bad


def circles(graph: dict[str, list[tuple[int, str]]]) -> list[list[str]]:
    """Import circles between modules (each as the path that closes it)."""
    edges = {m: sorted({t for _, t in ts if t in graph and t != m}) for m, ts in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in edges[m]:
            if state.get(t) == 1:
                found.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)
    return found


def test_no_upward_imports():
    assert upward_imports(import_graph(SRC), LAYERS) == []


def test_no_import_circles():
    assert circles(import_graph(SRC)) == []


def test_registry_imports_nothing_from_skelar():
    assert [t for _, t in import_graph(SRC)["skelar.registry"]] == []


def test_store_checkpoint_knows_no_model():
    """The checkpoint file format lives on the store floor: nothing above it, deferred imports included."""
    graph = import_graph(SRC)
    assert all(floor(t, LAYERS) <= LAYERS["store"] for _, t in graph["skelar.store.checkpoint"])
    assert not [t for m in graph if m.startswith("skelar.models") for _, t in graph[m] if t.startswith("skelar.engine")]


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / "skelar" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root / "skelar"


def test_the_check_catches_an_upward_import_and_a_circle(tmp_path):
    """The checker itself can fail: a deferred models -> engine import and an engine circle are reported."""
    pkg = _write(tmp_path, {
        "__init__.py": "",
        "models/__init__.py": "",
        "models/weights.py": "def f():\n    from skelar.engine.checkpoint import load\n",
        "engine/__init__.py": "",
        "engine/checkpoint.py": "from skelar.models import weights\nfrom . import a\n",
        "engine/a.py": "def g():\n    from skelar.engine import checkpoint\n",
    })
    graph = import_graph(pkg)
    assert upward_imports(graph, LAYERS) == ["skelar.models.weights:2 imports skelar.engine.checkpoint (floor 8 above 7)"]
    assert circles(graph) == [
        ["skelar.engine.a", "skelar.engine.checkpoint", "skelar.engine.a"],
        ["skelar.engine.checkpoint", "skelar.models.weights", "skelar.engine.checkpoint"],
    ]


@pytest.mark.parametrize("name", sorted(k for k in LAYERS if k and k != "__main__"))
def test_every_floor_in_the_table_is_a_package_or_planned(name):
    """Each top-level module of skelar is in the table; the table's names are real or planned app packages."""
    present = {p.stem if p.is_file() else p.name for p in SRC.iterdir() if p.suffix == ".py" or (p / "__init__.py").is_file()}
    assert present - {"__init__"} <= set(LAYERS)
    assert name in present or name in {"video", "viz"}
