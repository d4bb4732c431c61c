"""The training loop: train, validate, checkpoint, select on validation, test once.

Honest evaluation: the checkpoint is selected on the validation set (carved from the training part),
never on the test set; the test set is scored once, at the end, with the selected checkpoint.
Resuming from ``last.pt`` reproduces an uninterrupted run exactly (same seed, same weights and metrics).
Under ``torchrun`` the same loop runs data-parallel (:mod:`skelar.engine.distributed`): the global
batch is split over the processes, evaluation is sharded and gathered, and rank 0 alone writes files.
"""

from __future__ import annotations

import datetime as _dt
import logging
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterator, Mapping, Sequence

import torch
from torch import nn

import skelar
from skelar.engine.amp import AmpSetting, build_train_step, resolve_amp
from skelar.engine.callbacks import Checkpointer, CurvePlotter, EpochLogger, MetricsWriter, ProgressBar, StepLogger, TensorBoardLogger
from skelar.engine.checkpoint import load_checkpoint, missing_plugins_hint, save_checkpoint, to_plain
from skelar.engine.config import Config, config_from_dict, config_to_dict, save_config
from skelar.engine.confusions import resolve_class_group, summarize_ambiguity
from skelar.engine.data_setup import DataBundle, build_data
from skelar.engine.distributed import DistContext, barrier, broadcast_object, gather_eval, init_distributed, shutdown
from skelar.engine.evaluate import EvalResult, evaluate
from skelar.engine.loaders import eval_loader, eval_positions, train_loader
from skelar.engine.loop import Callback, TrainLoop, run_epoch
from skelar.engine.model_setup import build_model, resolve_model_kwargs
from skelar.engine.reports import metrics_summary, save_evaluation
from skelar.engine.run_dir import check_fresh_run_dir, log_to_file, make_run_dir, record_command, recorded_commands, write_json
from skelar.engine.seeding import seed_everything, set_deterministic
from skelar.engine.train_state import TrainState
from skelar.engine.stages import StagePlan, StageSwitcher
from skelar.engine.train_step import TrainStep

__all__ = ["TrainResult", "train", "resume_config", "train_one_epoch", "build_metadata", "default_callbacks"]

log = logging.getLogger("skelar.train")


@dataclass
class TrainResult:
    """A finished run: its directory, final report, per-epoch history and this process's rank."""

    run_dir: Path
    report: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    rank: int = 0  # this process's rank in a data-parallel run (0 otherwise)


def build_metadata(cfg: Config, model: nn.Module, data: DataBundle, metrics: Mapping[str, Any], amp: AmpSetting | None = None) -> dict[str, Any]:
    """Everything needed to rebuild and use the model without its config file (``amp``: how it was trained)."""
    ds = data.source
    return to_plain(
        {
            "amp": amp.record() if amp is not None else None,
            "model": {"name": getattr(model, "skelar_name", cfg.model.name), "kwargs": getattr(model, "skelar_kwargs", cfg.model.kwargs)},
            "layout": {"name": ds.layout.name, "dict": ds.layout.to_dict()},
            "dataset": {
                "name": ds.name,
                "source": cfg.data.source,
                "root": str(ds.root.resolve()),
                "protocol": data.protocol,
                "classes": ds.classes,
                "num_channels": ds.num_channels,
                "num_persons": ds.num_persons,
                "input_shape": list(data.sample_shape),
            },
            "preprocessing": {
                "dataset": ds.preprocessing,
                "train_transforms": data.train_specs or cfg.data.train_transforms,  # as run (data.stream included)
                "test_transforms": data.test_specs or cfg.data.test_transforms,
                "test_clips": cfg.data.test_clips,
            },
            "metrics": dict(metrics),
            "config": config_to_dict(cfg),
            "seed": cfg.seed,
            "skelar_version": skelar.__version__,
            "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        },
        "metadata",
    )


def train_one_epoch(
    model: nn.Module,
    loader,
    optimizer: torch.optim.Optimizer,
    criterion,
    aux_weights: Mapping[str, float],
    device: torch.device,
    epoch: int,
    global_step: int,
    max_steps: int | None = None,
    log_every: int = 50,
    progress: bool = True,
    tb=None,
    ctx: DistContext | None = None,
) -> tuple[dict[str, float], int]:
    """One pass over ``loader``; returns ``({loss, acc, <aux>...}, global_step)`` (sample-weighted means).

    A stand-alone epoch outside a :class:`~skelar.engine.loop.TrainLoop` (``tb``: a SummaryWriter or None).
    In a data-parallel run (``ctx``) the means are over all processes' samples.
    """
    state = TrainState(model, optimizer, None, global_step=global_step)
    bar = ProgressBar(progress)
    callbacks: list[Callback] = [bar, StepLogger(log_every)]
    if tb is not None:
        board = TensorBoardLogger(Path("."), log_every)
        board.writer = tb
        callbacks.append(board)
    loop = SimpleNamespace(loader=loader, max_steps=max_steps)
    bar.on_epoch_start(loop, epoch)
    stats = run_epoch(state, model, loader, TrainStep(criterion, aux_weights), callbacks, loop, epoch, device, max_steps, ctx)
    return stats, state.global_step


def resume_config(resume: str | Path, overrides: tuple[str, ...] | list[str] = ()) -> tuple[Config, Path, dict[str, Any]]:
    """Config, run directory and checkpoint for ``--resume RUN_DIR_or_last.pt``.

    The run's own ``config.yaml`` is used; ``overrides`` apply on top (e.g. ``train.epochs=200`` to
    extend), but anything else changed breaks the exactness of the resumed run.
    """
    from skelar.engine.config import apply_overrides, load_config

    path = Path(resume)
    ckpt_path = path / "last.pt" if path.is_dir() else path
    if not ckpt_path.is_file():
        raise FileNotFoundError(f"--resume: no checkpoint at {ckpt_path} (the first epoch may not have finished)")
    ckpt = load_checkpoint(ckpt_path)
    run_dir = ckpt_path.parent
    if "optimizer" not in ckpt or "rng" not in ckpt:
        raise ValueError(f"--resume: {ckpt_path} holds weights only (no optimizer/RNG state); it cannot be resumed")
    cfg_file = run_dir / "config.yaml"
    if cfg_file.is_file():  # the run's own config (its imports run, as when the run started)
        return load_config(cfg_file, overrides), run_dir, ckpt
    meta = ckpt["metadata"]
    hint = missing_plugins_hint(meta)  # a checkpoint alone never causes an import
    if hint:
        raise ValueError(f"--resume: {ckpt_path} has no config.yaml beside it{hint}")
    return config_from_dict(apply_overrides(meta["config"], overrides), run_imports=False), run_dir, ckpt


def _select(history: list[dict[str, Any]], select: str) -> str:
    return "best.pt" if select == "val_top1" and any(r.get("val_top1") is not None for r in history) else "last.pt"


def train(
    cfg: Config,
    run_dir: str | Path | None = None,
    resume: Mapping[str, Any] | None = None,
    progress: bool = True,
    command: str | None = None,
    callbacks: Sequence[Callback] = (),
) -> TrainResult:
    """Train per ``cfg`` in ``run_dir`` (a new ``output_dir/name-time`` if None), then test once.

    ``resume`` is a checkpoint dict (see :func:`resume_config`) to continue from. ``command`` (the
    command line that started this invocation) is appended to ``run_dir/command.txt``. ``callbacks``
    (:class:`~skelar.engine.loop.Callback`) run after the logging ones and before the checkpoint ones,
    so what they keep in ``state.extra`` is saved with the epoch.
    Started by ``torchrun`` (``WORLD_SIZE`` > 1), every process calls this; see :mod:`skelar.engine.distributed`.
    """
    ctx, device = init_distributed(cfg.device)
    try:
        seed_everything(cfg.seed + ctx.rank)  # rank 0 (and a single process) uses the seed itself
        set_deterministic(cfg.deterministic)
        created = run_dir is None
        if run_dir is None:
            run_dir = make_run_dir(cfg.output_dir, cfg.run_name()) if ctx.is_main else None
        run_dir = Path(broadcast_object(str(run_dir), ctx))
        if resume is None:
            check_fresh_run_dir(run_dir)
        barrier(ctx)  # every process checked before rank 0 writes anything
        if ctx.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            if command:
                record_command(run_dir, command)
        try:
            with log_to_file(run_dir / "train.log") if ctx.is_main else _quiet_logs():
                result = _train(cfg, run_dir, resume, device, progress and ctx.is_main, ctx, callbacks)
            barrier(ctx)  # no process leaves the group while another still uses it (Gloo aborts otherwise)
            return result
        except Exception:
            if ctx.is_main and created and not (run_dir / "last.pt").exists():
                shutil.rmtree(run_dir, ignore_errors=True)  # a run that never got going leaves no empty folder
            raise
    finally:
        shutdown(ctx)


@contextmanager
def _quiet_logs() -> Iterator[None]:
    """Processes other than rank 0 log warnings and errors only (rank 0 reports the run)."""
    logger = logging.getLogger("skelar")
    level = logger.level
    logger.setLevel(max(logging.WARNING, level))
    try:
        yield
    finally:
        logger.setLevel(level)


def _train(cfg: Config, run_dir: Path, resume: Mapping[str, Any] | None, device: torch.device, progress: bool, ctx: DistContext,
           extra_callbacks: Sequence[Callback] = ()) -> TrainResult:
    log.info("%s run %s on %s (skelar %s, torch %s)%s", "resuming" if resume else "starting", run_dir, device, skelar.__version__, torch.__version__,
             f", data-parallel over {ctx.world_size} processes" if ctx.enabled else "")
    data = build_data(cfg, progress=progress)
    ds = data.source
    resolve_class_group(cfg.eval.ambiguous_classes, ds.classes, "eval.ambiguous_classes")  # fail now, not after training
    kwargs = resolve_model_kwargs(cfg.model.name, cfg.model.kwargs, ds.num_classes, ds.layout.name, data.sample_shape[3])
    cfg = cfg.model_copy(update={"model": cfg.model.model_copy(update={"kwargs": kwargs})})
    _register_layout(ds.layout)
    model = build_model(cfg.model.name, kwargs, data.sample_shape).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    log.info("model %s: %s parameters, kwargs %s", cfg.model.name, f"{n_params:,}", kwargs)
    if ctx.is_main:
        save_config(cfg, run_dir / "config.yaml")

    if cfg.train.stages and ctx.enabled:
        raise ValueError("train.stages: staged training is not supported in data-parallel runs yet")
    plan = StagePlan(cfg, model)  # without train.stages: one stage, the top-level optim/sched/loss
    stage = plan.activate(plan.index_at(int(resume["epoch"]) if resume is not None else 0))
    amp = resolve_amp(cfg.train.amp, device)
    if amp is not None:
        log.info("mixed precision: %s autocast on %s%s", amp.mode, amp.device_type, " with a gradient scaler" if amp.grad_scaler else "")
    step = build_train_step(None, {}, amp)  # type: ignore[arg-type]  # configured for the stage just below
    stage.configure(step)
    criterion = step.criterion
    state = TrainState(model, stage.optimizer, stage.scheduler, scaler=step.new_scaler())
    if resume is not None and amp is not None and amp.grad_scaler and "scaler" not in resume:
        raise ValueError("train.amp: this run's checkpoint has no gradient-scaler state (it was trained without fp16); resume it with its own train.amp")
    if resume is not None:
        state.restore(resume, ctx, cfg.seed)
        log.info("resumed after epoch %d (global step %d)", state.epoch, state.global_step)
    net = model  # what training calls; the model itself is evaluated and saved
    if ctx.enabled:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    train_set = data.train_set(cfg.seed)
    loader, sampler = train_loader(train_set, cfg.data.batch_size, cfg.seed, cfg.data.num_workers, device, ctx.rank, ctx.world_size)
    validate = None
    if len(data.val_idx):
        val_clips = cfg.data.val_clips or cfg.data.test_clips
        val_set = data.eval_set("val", val_clips, cfg.seed)
        val_pos = eval_positions(len(val_set), ctx.rank, ctx.world_size)
        val_loader = eval_loader(val_set, cfg.data.eval_batch_size, cfg.data.num_workers, device, cfg.seed, ctx.rank, ctx.world_size)

        def validate() -> EvalResult:
            return gather_eval(evaluate(model, val_loader, device, step.criterion, progress, desc="val"), val_pos, ctx)

    callbacks = default_callbacks(cfg, run_dir, progress, ctx, resume is not None, state.global_step,
                                  lambda row, best: build_metadata(cfg, model, data, {"epoch": row, "best": best}, amp),
                                  [StageSwitcher(plan, stage), *extra_callbacks] if cfg.train.stages else extra_callbacks)
    loop = TrainLoop(state, step, loader, sampler, cfg.train.epochs, device, ctx,
                     validate, callbacks, net, cfg.train.max_steps_per_epoch)
    loop.run()
    history, best = state.history, state.best

    barrier(ctx)  # rank 0's checkpoints are written before anyone loads them
    if cfg.train.test:
        report = _final_test(cfg, run_dir, data, history, best, device, criterion, progress, ctx, amp)
    else:
        report = _report_without_test(cfg, run_dir, data, history, best, ctx, amp)
    return TrainResult(run_dir, report, history, ctx.rank)


def default_callbacks(cfg: Config, run_dir: Path, progress: bool, ctx: DistContext, resumed: bool, global_step: int,
                      metadata: Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any]], extra: Sequence[Callback] = ()) -> list[Callback]:
    """A training run's callbacks in order: progress bar, step and epoch logs, TensorBoard (if on, rank 0),
    ``extra``, checkpoints, metric files, curves."""
    callbacks: list[Callback] = [ProgressBar(progress), StepLogger(cfg.train.log_every), EpochLogger()]
    if cfg.train.tensorboard and ctx.is_main:
        callbacks.append(TensorBoardLogger(run_dir, cfg.train.log_every, global_step if resumed else None))
    return callbacks + list(extra) + [Checkpointer(run_dir, metadata, cfg.train.checkpoint_every), MetricsWriter(run_dir), CurvePlotter(run_dir)]


def _register_layout(layout) -> None:
    from skelar.layouts import list_layouts, register_layout

    if layout.name not in list_layouts():
        register_layout(layout)


def _report_without_test(cfg: Config, run_dir: Path, data: DataBundle, history, best, ctx: DistContext, amp: AmpSetting | None) -> dict[str, Any]:
    """``train.test: false`` (cross-validation folds): report.json with the validation scores, no test."""
    last = history[-1] if history else {}
    report = {
        "checkpoint": None,
        "selection": "none: train.test is false, the test part was not scored",
        "best_val_top1": best.get("value"),
        "best_val_epoch": best.get("epoch"),
        "last_val_top1": last.get("val_top1"),
        "test": None,
        **_run_facts(run_dir, data, history, amp),
    }
    if ctx.is_main:
        write_json(run_dir / "report.json", report)
    return report


def _run_facts(run_dir: Path, data: DataBundle, history: list[dict[str, Any]], amp: AmpSetting | None) -> dict[str, Any]:
    """The closing entries of every report.json: dataset, split sizes, epochs, AMP and the commands run."""
    return {
        "dataset": data.source.name,
        "splits": {"train": len(data.train_idx), "val": len(data.val_idx), "test": len(data.test_idx)},
        "epochs_trained": len(history),
        "amp": amp.record() if amp is not None else None,
        "run_dir": str(run_dir),
        "commands": recorded_commands(run_dir),
    }


def _final_test(cfg: Config, run_dir: Path, data: DataBundle, history, best, device, criterion, progress: bool, ctx: DistContext,
                amp: AmpSetting | None = None) -> dict[str, Any]:
    """Score the test split once with the selected checkpoint; rank 0 writes report.json and friends.

    Returns the report on every process.
    """
    from skelar.engine.checkpoint import model_from_checkpoint

    chosen = _select(history, cfg.train.select)
    ckpt_path = run_dir / chosen
    model, ckpt = model_from_checkpoint(ckpt_path, device)
    test_set = data.eval_set("test", cfg.data.test_clips, cfg.seed)
    test_loader = eval_loader(test_set, cfg.data.eval_batch_size, cfg.data.num_workers, device, cfg.seed, ctx.rank, ctx.world_size)
    result = evaluate(model, test_loader, device, criterion, progress, desc="test")
    result = gather_eval(result, eval_positions(len(test_set), ctx.rank, ctx.world_size), ctx)
    if not ctx.is_main:
        return broadcast_object(None, ctx)
    metrics = save_evaluation(run_dir, result, data.source.classes, data.source.names, prefix="test",
                              ambiguous=cfg.eval.ambiguous_classes, top_confused=cfg.eval.top_confused)
    metrics["loss"] = result.loss
    epoch = int(ckpt["epoch"])
    if chosen == "best.pt":
        selection = f"best validation top-1 ({100 * best['value']:.2f}%) at epoch {epoch}"
    elif cfg.train.select == "val_top1":
        selection = f"last epoch ({epoch}); no validation scores were recorded"
    else:
        selection = f"last epoch ({epoch}), as train.select is 'last'"
    report = {
        "checkpoint": chosen,
        "checkpoint_epoch": epoch,
        "selection": selection,
        "selected_on": "val" if chosen == "best.pt" else "none (last epoch)",
        "best_val_top1": best.get("value"),
        "test": {
            "protocol": data.protocol,
            "clips": cfg.data.test_clips,
            "loss": metrics["loss"],
            **metrics_summary(metrics, data.source.classes),
        },
        **_run_facts(run_dir, data, history, amp),
    }
    write_json(run_dir / "report.json", report)
    # record the test result in the selected checkpoint's metadata too
    ckpt.pop("path", None)
    ckpt["metadata"]["metrics"]["test"] = to_plain({k: v for k, v in report["test"].items() if k not in ("per_class_accuracy", "ambiguity")})
    save_checkpoint(ckpt_path, ckpt)
    log.info("test (%s, %d samples x %d clips): top-1 %.2f%%, top-5 %.2f%% [%s]",
             data.protocol, metrics["num_samples"], cfg.data.test_clips, 100 * metrics["top1"], 100 * metrics["top5"], selection)
    for line in summarize_ambiguity(metrics["ambiguity"]):
        log.info("test: %s", line.strip())
    return broadcast_object(report, ctx)
