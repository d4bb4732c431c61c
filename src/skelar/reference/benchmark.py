"""Throughput benchmark: skelar models against their reference implementations, side by side.

Both sides are timed in interleaved rounds (ours, reference, ours, reference, ...) so they see the
same machine load; the report gives the median samples/s per side and their ratio, for inference
(eval, no grad) and for a training step (forward + cross-entropy backward + Adam step). It also
measures this machine's fp32 matmul rate and how much of it each side reaches.

A reference is added with :func:`register_reference`: a loader that imports the authors' model file
from a path the user gives (reference code is never shipped with skelar), builds the model for a
batch size and returns it with a function converting canonical ``(N, C, T, V, M)`` input into the
reference's own input layout.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from skelar.models import convert_reference_state_dict, create_model
from skelar.models.profile import count_flops, count_parameters, count_train_flops, example_input

__all__ = [
    "ReferenceModel",
    "register_reference",
    "load_reference",
    "import_reference_module",
    "matmul_gflops",
    "tune_glibc_malloc",
    "benchmark",
    "BenchResult",
]


@dataclass
class ReferenceModel:
    """A reference implementation ready to time: the module and a canonical-input adapter."""

    model: nn.Module
    adapt_input: Callable[[torch.Tensor], torch.Tensor]
    source: str


ReferenceLoader = Callable[[str, int, int], ReferenceModel]
_REFERENCES: dict[str, ReferenceLoader] = {}


def register_reference(model_name: str, loader: ReferenceLoader) -> None:
    """Register ``loader(path, batch_size, num_classes) -> ReferenceModel`` for a skelar model name."""
    _REFERENCES[model_name] = loader


def load_reference(model_name: str, path: str, batch_size: int, num_classes: int) -> ReferenceModel:
    """Build the reference implementation of ``model_name`` from the model file at ``path``."""
    if model_name not in _REFERENCES:
        raise KeyError(f"no reference loader for model {model_name!r}; available: {', '.join(sorted(_REFERENCES)) or 'none'}")
    if not Path(path).is_file():
        raise FileNotFoundError(f"reference model file not found: {path}")
    return _REFERENCES[model_name](path, batch_size, num_classes)


@contextlib.contextmanager
def _cuda_calls_are_noops() -> Iterator[None]:
    """Reference code calls ``.cuda()`` on tensors and modules; make those return the object itself."""
    saved = torch.Tensor.cuda, nn.Module.cuda
    torch.Tensor.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]
    nn.Module.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.Tensor.cuda, nn.Module.cuda = saved  # type: ignore[method-assign]


def import_reference_module(path: str, name: str) -> Any:
    """Import a reference model file by path (its directory is put on ``sys.path`` for sibling imports)."""
    path = str(Path(path).resolve())
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"cannot import reference file {path}")
    module = importlib.util.module_from_spec(spec)
    parent = str(Path(path).parent)
    sys.path.insert(0, parent)
    try:
        with _cuda_calls_are_noops():
            spec.loader.exec_module(module)
    finally:
        sys.path.remove(parent)
    return module


def _load_sgn_reference(path: str, batch_size: int, num_classes: int) -> ReferenceModel:
    module = import_reference_module(path, "_skelar_reference_sgn")
    if not hasattr(module, "SGN"):
        raise ValueError(f"{path}: no class SGN (expected microsoft/SGN model.py)")
    with _cuda_calls_are_noops():
        model = module.SGN(num_classes, "NTU", 20, argparse.Namespace(batch_size=batch_size, train=1), bias=True)

    def adapt(x: torch.Tensor) -> torch.Tensor:  # (N, 3, T, V, 1) -> (N, T, V*3), coordinates fastest
        n, c, t, v, _ = x.shape
        return x[..., 0].permute(0, 2, 3, 1).reshape(n, t, v * c).contiguous()

    return ReferenceModel(model, adapt, path)


register_reference("sgn", _load_sgn_reference)


def _impsgn_stub_modules(directory: Path) -> dict[str, Any]:
    """Stand-ins for the impSGN reference's imports that are absent from ``directory``.

    ``ms_tcn_TP1.py`` needs ``activation_TP1.activation_factory`` (stubbed with the same mapping);
    ``model_impSGN.py`` imports ``Efficient_modules`` (Graph, Swish, layers, attention), whose
    objects the impSGN class builds but never uses in its forward.
    """
    import types

    stubs: dict[str, Any] = {}
    if not (directory / "activation_TP1.py").is_file():
        act = types.ModuleType("activation_TP1")

        def activation_factory(name: str, inplace: bool = True) -> nn.Module:
            table = {"relu": lambda: nn.ReLU(inplace=inplace), "leakyrelu": lambda: nn.LeakyReLU(0.2, inplace=inplace), "tanh": nn.Tanh, "linear": nn.Identity}
            if name is None:
                return nn.Identity()
            if name not in table:
                raise ValueError(f"Not supported activation: {name}")
            return table[name]()

        act.activation_factory = activation_factory  # type: ignore[attr-defined]
        stubs["activation_TP1"] = act
    if not (directory / "Efficient_modules").is_dir():
        pkg = types.ModuleType("Efficient_modules")
        pkg.__path__ = []  # type: ignore[attr-defined]
        graphs = types.ModuleType("Efficient_modules.graphs")

        class Graph:  # only .A is read (for kwargs the forward never uses)
            def __init__(self, *args: Any, **kwargs: Any):
                self.A = torch.zeros(3, 25, 25).numpy()

        graphs.Graph = Graph  # type: ignore[attr-defined]
        layers = types.ModuleType("Efficient_modules.layers")
        layers.Basic_Layer = layers.Spatial_Graph_Layer = nn.Identity  # type: ignore[attr-defined]
        activations = types.ModuleType("Efficient_modules.activations")
        activations.Swish = nn.SiLU  # type: ignore[attr-defined]
        attentions = types.ModuleType("Efficient_modules.attentions")
        attentions.ST_Joint_Att = nn.Identity  # type: ignore[attr-defined]
        stubs.update({m.__name__: m for m in (pkg, graphs, layers, activations, attentions)})
    return stubs


def _load_impsgn_reference(path: str, batch_size: int, num_classes: int) -> ReferenceModel:
    directory = Path(path).resolve().parent
    if not (directory / "ms_tcn_TP1.py").is_file():
        raise FileNotFoundError(f"{directory / 'ms_tcn_TP1.py'} not found: copy it from acvai/impSGN next to {Path(path).name}")
    stubs = _impsgn_stub_modules(directory)
    names = [*stubs, "ms_tcn_TP1"]
    saved = {k: sys.modules.get(k) for k in names}
    sys.modules.update(stubs)
    sys.modules.pop("ms_tcn_TP1", None)
    try:
        module = import_reference_module(path, "_skelar_reference_impsgn")
        if not hasattr(module, "impSGN"):
            raise ValueError(f"{path}: no class impSGN (expected acvai/impSGN model_impSGN.py)")
        with _cuda_calls_are_noops():
            model = module.impSGN(num_classes, "NTU", 20, argparse.Namespace(batch_size=batch_size, train=1), bias=True)
    finally:
        for k, v in saved.items():  # leave sys.modules as it was
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v

    def adapt(x: torch.Tensor) -> torch.Tensor:  # (N, 3, T, V, 1) -> (N, T, V*3), coordinates fastest
        n, c, t, v, _ = x.shape
        return x[..., 0].permute(0, 2, 3, 1).reshape(n, t, v * c).contiguous()

    return ReferenceModel(model, adapt, path)


register_reference("impsgn", _load_impsgn_reference)


def tune_glibc_malloc() -> bool:
    """Keep freed memory in the process (glibc ``mallopt``): no ``mmap``/trim churn for large tensors.

    With glibc defaults, tensors of tens of MB are ``mmap``-ed and returned to the OS on every free,
    so each step pays page faults to get them back (PyTorch's CPU allocator is plain ``malloc``).
    This affects every model in the process alike. Returns False where glibc is not available.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name or not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(name)
    m_trim_threshold, m_mmap_threshold = -1, -3
    ok_trim = libc.mallopt(m_trim_threshold, ctypes.c_int(2**30)) == 1
    ok_mmap = libc.mallopt(m_mmap_threshold, ctypes.c_int(2**30)) == 1
    return ok_trim and ok_mmap


def matmul_gflops(size: int = 2048, seconds: float = 1.0) -> float:
    """Measured fp32 GFLOP/s of a large square matmul on this machine (current thread setting)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    out = torch.empty(size, size)
    torch.mm(a, b, out=out)
    runs, start = 0, time.perf_counter()
    while True:
        torch.mm(a, b, out=out)
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and runs >= 3:
            return 2.0 * size**3 * runs / elapsed / 1e9


class _Side:
    """One model under test: its inputs and the two timed operations."""

    def __init__(self, name: str, model: nn.Module, x: torch.Tensor, labels: torch.Tensor):
        self.name, self.model, self.x, self.labels = name, model, x, labels
        self.optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
        self.infer_times: list[float] = []  # samples/s (wall clock), one per round
        self.train_times: list[float] = []
        self.infer_cpu: list[float] = []  # process CPU seconds per call, one per round
        self.train_cpu: list[float] = []

    def infer(self) -> None:
        self.model.eval()
        with torch.no_grad():
            self.model(self.x)

    def train_step(self) -> None:
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        out = self.model(self.x)
        out = out["logits"] if isinstance(out, dict) else out
        F.cross_entropy(out, self.labels).backward()
        self.optimizer.step()


def _time(fn: Callable[[], None], iters: int) -> tuple[float, float]:
    """Wall-clock and process-CPU seconds per call of ``fn``."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - wall) / iters, (time.process_time() - cpu) / iters


@dataclass
class SideResult:
    """One side's (skelar's or the reference's) timings, throughput and FLOP rates."""

    name: str
    params: int
    flops_per_sample: float
    train_flops_per_sample: float
    infer_samples_per_s: float
    train_samples_per_s: float
    infer_peak_fraction: float
    train_peak_fraction: float
    infer_best: float
    train_best: float
    infer_cpu_s: float
    train_cpu_s: float
    infer_rounds: list[float] = field(default_factory=list)
    train_rounds: list[float] = field(default_factory=list)


@dataclass
class BenchResult:
    """Both sides of one benchmark, the ratios and the machine's measured matmul rate."""

    model: str
    batch_size: int
    threads: int
    rounds: int
    matmul_gflops: float
    ours: SideResult
    reference: SideResult | None
    infer_ratio: float | None
    train_ratio: float | None
    parity_max_abs_diff: float | None
    malloc_tuned: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The result as plain values (the JSON report)."""
        return asdict(self)

    def summary(self) -> str:
        """Human-readable table."""
        lines = [
            f"model {self.model}  batch {self.batch_size}  threads {self.threads}  rounds {self.rounds}  "
            f"fp32 matmul {self.matmul_gflops:.1f} GFLOP/s" + ("  (malloc tuned)" if self.malloc_tuned else ""),
            "samples/s: median over rounds (best round in brackets); %peak: achieved FLOP/s / matmul rate",
            f"{'':10} {'params':>9} {'GFLOPs/sample':>13} {'infer/s':>17} {'%peak':>6} {'train/s':>17} {'%peak':>6}",
        ]
        for side in (self.ours, self.reference):
            if side is not None:
                lines.append(
                    f"{side.name:10} {side.params:>9,} {side.flops_per_sample / 1e9:>13.3f} "
                    f"{side.infer_samples_per_s:>8.1f} [{side.infer_best:>6.1f}] {100 * side.infer_peak_fraction:>5.1f}% "
                    f"{side.train_samples_per_s:>8.1f} [{side.train_best:>6.1f}] {100 * side.train_peak_fraction:>5.1f}%"
                )
        if self.reference is not None:
            best_inf = self.ours.infer_best / self.reference.infer_best
            best_tr = self.ours.train_best / self.reference.train_best
            cpu_inf = self.reference.infer_cpu_s / self.ours.infer_cpu_s
            cpu_tr = self.reference.train_cpu_s / self.ours.train_cpu_s
            lines.append(
                f"speed-up (ours / reference): inference {self.infer_ratio:.2f}x, training {self.train_ratio:.2f}x "
                f"(best rounds: {best_inf:.2f}x, {best_tr:.2f}x)"
            )
            lines.append(
                f"CPU time per batch (process, all threads; steadier on a shared machine): inference "
                f"{1e3 * self.ours.infer_cpu_s:.0f} vs {1e3 * self.reference.infer_cpu_s:.0f} ms ({cpu_inf:.2f}x), training "
                f"{1e3 * self.ours.train_cpu_s:.0f} vs {1e3 * self.reference.train_cpu_s:.0f} ms ({cpu_tr:.2f}x)"
            )
        if self.parity_max_abs_diff is not None:
            lines.append(
                f"parity with the reference (same random weights, eval): max |diff| {self.parity_max_abs_diff:.2e} "
                "(random-init logits can be large: see the relative figure printed during the run)"
            )
        return "\n".join(lines)


def _check_parity(name: str, ours: nn.Module, ref: ReferenceModel, x: torch.Tensor) -> tuple[float, float]:
    """Load the reference's weights into ours and compare eval outputs on ``x``: max |diff|, and that over max |reference|."""
    ours.load_state_dict(convert_reference_state_dict(name, ref.model.state_dict()), strict=True)
    ours.eval()
    ref.model.eval()
    with torch.no_grad():
        a = ours(x)
        b = ref.model(ref.adapt_input(x))
    a = a["logits"] if isinstance(a, dict) else a
    b = b["logits"] if isinstance(b, dict) else b
    worst = float((a - b).abs().max())
    return worst, worst / max(float(b.abs().max()), 1e-12)


def benchmark(
    model_name: str,
    reference: str | None = None,
    batch_size: int = 64,
    threads: int = 2,
    rounds: int = 5,
    iters: int = 3,
    warmup: int = 2,
    model_kwargs: dict[str, Any] | None = None,
    tune_malloc: bool = False,
    check_parity: bool = True,
    log: Callable[[str], None] | None = None,
) -> BenchResult:
    """Time ``model_name`` (and its reference at path ``reference``) at ``batch_size``.

    Each round times ``iters`` inference calls and ``iters`` training steps of each side, sides
    interleaved; the result holds the median over rounds. ``tune_malloc`` applies
    :func:`tune_glibc_malloc` first (to both sides alike). With ``check_parity`` the reference's
    weights are loaded into ours and both outputs are compared before timing.
    """
    if batch_size < 2:
        raise ValueError(f"batch_size must be >= 2 (training uses BatchNorm), got {batch_size}")
    if rounds < 1 or iters < 1 or warmup < 0:
        raise ValueError("rounds and iters must be >= 1 and warmup >= 0")
    torch.set_num_threads(threads)
    say = log or (lambda s: None)
    tuned = tune_glibc_malloc() if tune_malloc else False
    if tune_malloc and not tuned:
        say("malloc tuning is not available here (needs glibc); running with the defaults")
    torch.manual_seed(0)
    kwargs = dict(model_kwargs or {})
    ours = create_model(model_name, **kwargs)
    num_classes = int(getattr(ours, "num_classes", kwargs.get("num_classes", 60)))
    x = example_input(ours, batch_size, seed=1)
    labels = torch.randint(0, num_classes, (batch_size,), generator=torch.Generator().manual_seed(2))
    sides = [_Side("ours", ours, x, labels)]
    parity = None
    ref = None
    if reference is not None:
        ref = load_reference(model_name, reference, batch_size, num_classes)
        if check_parity:
            parity, relative = _check_parity(model_name, ours, ref, x)
            say(f"parity with the reference: max |diff| {parity:.2e} ({relative:.1e} of the largest logit)")
        sides.append(_Side("reference", ref.model, ref.adapt_input(x), labels))
    flops = {s.name: (count_flops(s.model, s.x), count_train_flops(s.model, s.x)) for s in sides}
    for s in sides:
        for _ in range(warmup):
            s.infer()
            s.train_step()
    matmul_rates = []  # measured every round, so that it sees the same machine load as the models
    for r in range(rounds):
        matmul_rates.append(matmul_gflops(seconds=0.5))
        for s in sides:
            for op, rates, cpus in ((s.infer, s.infer_times, s.infer_cpu), (s.train_step, s.train_times, s.train_cpu)):
                wall, cpu = _time(op, iters)
                rates.append(batch_size / wall)
                cpus.append(cpu)
        say(f"round {r + 1}/{rounds}: matmul {matmul_rates[-1]:.0f} GFLOP/s  " + "  ".join(f"{s.name} infer {s.infer_times[-1]:.0f}/s train {s.train_times[-1]:.0f}/s" for s in sides))
    peak = statistics.median(matmul_rates)

    def result(s: _Side) -> SideResult:
        inf, tr = statistics.median(s.infer_times), statistics.median(s.train_times)
        f_inf, f_tr = flops[s.name]
        return SideResult(
            s.name, count_parameters(s.model), f_inf, f_tr, inf, tr,
            f_inf * inf / (peak * 1e9), f_tr * tr / (peak * 1e9), max(s.infer_times), max(s.train_times),
            statistics.median(s.infer_cpu), statistics.median(s.train_cpu), s.infer_times, s.train_times,
        )  # fmt: skip

    mine = result(sides[0])
    theirs = result(sides[1]) if ref is not None else None
    return BenchResult(
        model_name, batch_size, threads, rounds, peak, mine, theirs,
        mine.infer_samples_per_s / theirs.infer_samples_per_s if theirs else None,
        mine.train_samples_per_s / theirs.train_samples_per_s if theirs else None,
        parity, tuned,
    )  # fmt: skip
