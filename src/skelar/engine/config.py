"""Run configuration: YAML file + ``--set a.b=value`` overrides, validated by pydantic models.

Every problem becomes a :class:`ConfigError` whose message is ONE line naming the key path and the
bad value (or the file and line for YAML syntax errors), e.g.
``config error: train.batch_size: input should be a valid integer (got 'abc')``.
"""

from __future__ import annotations

import copy
import importlib
import re
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from skelar.store.atomic import write_text_atomic
from skelar.store.names import check_path_name

__all__ = [
    "ConfigError",
    "Config",
    "DataConfig",
    "ValConfig",
    "ModelConfig",
    "OptimConfig",
    "SchedConfig",
    "LossConfig",
    "TrainConfig",
    "EvalConfig",
    "load_config",
    "config_from_dict",
    "import_plugins",
    "apply_overrides",
    "parse_override",
    "save_config",
    "config_to_dict",
]


class ConfigError(ValueError):
    """A bad configuration; ``str(err)`` is one line starting with ``config error:``."""

    def __init__(self, message: str):
        super().__init__("config error: " + " ".join(str(message).split()))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _check_transforms(specs: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    from skelar.transforms import check_transforms

    check_transforms(specs, where=where)  # raises ValueError naming where[i].key; layout-bound ones are built with the data
    return specs


def _registered(registry: Any, name: str) -> str:
    """``name`` if ``registry`` holds it, else the one-line error listing the registered names."""
    if name not in registry:
        raise registry.choices_error(name)
    return name


STREAM_TRANSFORMS = ("stream", "bone", "motion")  # transforms that data.stream would duplicate


class ValConfig(_Section):
    """Where the validation set (used for checkpoint selection) comes from."""

    mode: Literal["split", "carve", "none"] = "carve"
    fraction: float = Field(0.1, gt=0.0, lt=1.0)
    by: Literal["subject", "sample"] = "subject"
    seed: int = 0


class DataConfig(_Section):
    """The ``data`` section: source, protocol, validation, pipelines, stream, batching."""

    source: str = "synthetic"
    synthetic: dict[str, Any] = Field(default_factory=dict)
    cache_dir: str | None = None
    protocol: str = "xsub"
    val: ValConfig = Field(default_factory=ValConfig)
    train_transforms: list[dict[str, Any]] = Field(default_factory=list)
    test_transforms: list[dict[str, Any]] = Field(default_factory=list)
    stream: str = "joint"  # a name in skelar.transforms.streams.STREAMS
    train_repeat: int = Field(1, ge=1)
    test_clips: int = Field(1, ge=1)
    val_clips: int | None = Field(None, ge=1)
    num_workers: int = Field(0, ge=0)
    batch_size: int = Field(64, ge=1)
    eval_batch_size: int = Field(64, ge=1)

    @field_validator("synthetic")
    @classmethod
    def _synthetic(cls, v: dict[str, Any]) -> dict[str, Any]:
        from skelar.engine.data_setup import synthetic_spec_dict

        try:
            synthetic_spec_dict(v)  # raises ValueError naming data.synthetic[.key]
        except ImportError:  # generator unavailable: the data step reports it if the source is 'synthetic'
            pass
        return v

    @field_validator("stream")
    @classmethod
    def _stream(cls, v: str) -> str:
        from skelar.transforms.streams import STREAMS

        return _registered(STREAMS, v)

    @field_validator("train_transforms")
    @classmethod
    def _train_t(cls, v: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return _check_transforms(v, "data.train_transforms")

    @field_validator("test_transforms")
    @classmethod
    def _test_t(cls, v: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return _check_transforms(v, "data.test_transforms")

    @model_validator(mode="after")
    def _one_stream_choice(self) -> "DataConfig":
        if self.stream != "joint":
            for part in ("train_transforms", "test_transforms"):
                for i, spec in enumerate(getattr(self, part)):
                    if spec.get("name") in STREAM_TRANSFORMS:
                        raise ValueError(
                            f"data.stream: {self.stream!r} is appended to both pipelines, but data.{part}[{i}] is already "
                            f"a {spec.get('name')!r} transform; use one or the other"
                        )
        return self


class ModelConfig(_Section):
    """The ``model`` section: a registered model name and its keyword arguments."""

    name: str
    kwargs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        from skelar.models.registry import list_models

        if v not in list_models():
            raise ValueError(f"unknown model {v!r}; available: {', '.join(list_models()) or 'none'}")
        return v


class OptimConfig(_Section):
    """The ``optim`` section: a registered optimiser and its hyper-parameters."""

    name: str = "adam"  # a name in skelar.engine.optim.OPTIMIZERS
    lr: float = Field(1e-3, gt=0.0)
    weight_decay: float = Field(0.0, ge=0.0)
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    nesterov: bool = False

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        from skelar.engine.optim import OPTIMIZERS

        return _registered(OPTIMIZERS, v)


class SchedConfig(_Section):
    """The ``sched`` section: a registered learning-rate schedule, warm-up and its parameters."""

    name: str = "none"  # a name in skelar.engine.optim.SCHEDULERS
    milestones: list[int] = Field(default_factory=list)
    gamma: float = Field(0.1, gt=0.0)
    warmup_epochs: int = Field(0, ge=0)
    min_lr: float = Field(0.0, ge=0.0)

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        from skelar.engine.optim import SCHEDULERS

        return _registered(SCHEDULERS, v)

    @field_validator("milestones")
    @classmethod
    def _sorted(cls, v: list[int]) -> list[int]:
        if any(m < 1 for m in v) or v != sorted(v):
            raise ValueError(f"milestones must be increasing positive epochs (got {v})")
        return v


class LossConfig(_Section):
    """The ``loss`` section: a registered classification loss, label smoothing, auxiliary-loss weights."""

    name: str = "cross_entropy"  # a name in skelar.engine.losses.LOSSES
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0)
    cls_weight: float = Field(1.0, ge=0.0)
    target_on: float = Field(0.8, ge=0.0)  # soft_target_ce: target of the true class
    target_off: float = Field(0.1, ge=0.0)  # soft_target_ce: target of every other class
    aux_weights: dict[str, float] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        from skelar.engine.losses import LOSSES

        return _registered(LOSSES, v)


class StageConfig(_Section):
    """One training stage (``train.stages``): its epochs, which parameters train, its losses and optimiser.

    ``train``/``freeze`` are parameter-name prefixes (``aim`` matches ``aim.*``); frozen modules also
    stay in eval mode. ``optim``/``sched``/``loss`` override the top-level sections for this stage.
    """

    name: str = ""
    epochs: int = Field(ge=1)
    train: list[str] | None = None
    freeze: list[str] = Field(default_factory=list)
    optim: dict[str, Any] = Field(default_factory=dict)
    sched: dict[str, Any] = Field(default_factory=dict)
    loss: dict[str, Any] = Field(default_factory=dict)


class TrainConfig(_Section):
    """The ``train`` section: epochs, checkpoint selection, logging and snapshots."""

    epochs: int = Field(10, ge=1)
    select: Literal["val_top1", "last"] = "val_top1"
    log_every: int = Field(50, ge=1)
    tensorboard: bool = False
    checkpoint_every: int = Field(0, ge=0)
    max_steps_per_epoch: int | None = Field(None, ge=1)
    stages: list[StageConfig] = Field(default_factory=list)


class EvalConfig(_Section):
    """Ambiguous-action analysis added to every evaluation report (final test, ``skelar test``)."""

    ambiguous_classes: list[str | int] = Field(default_factory=list)
    top_confused: int = Field(10, ge=0)


class Config(_Section):
    """A whole training run. See docs/engine.md for every key."""

    imports: list[str] = Field(default_factory=list)
    seed: int = 0
    deterministic: bool = False
    device: str = "auto"
    output_dir: str = "runs"
    name: str | None = None
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig
    optim: OptimConfig = Field(default_factory=OptimConfig)
    sched: SchedConfig = Field(default_factory=SchedConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        return None if v is None else check_path_name(v, "name")

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", v):
            raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N' (got {v!r})")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "Config":
        if self.train.select == "val_top1" and self.data.val.mode == "none":
            raise ValueError("train.select: 'val_top1' needs a validation set but data.val.mode is 'none' (use select: last)")
        if self.train.stages:
            total = sum(st.epochs for st in self.train.stages)
            if total != self.train.epochs:
                raise ValueError(f"train.epochs: {self.train.epochs} but train.stages add up to {total} epochs")
            for i, st in enumerate(self.train.stages):
                for key, section in (("optim", self.optim), ("sched", self.sched), ("loss", self.loss)):
                    try:
                        type(section).model_validate({**section.model_dump(), **getattr(st, key)})
                    except ValidationError as e:
                        raise ValueError(f"train.stages[{i}].{key}: {_format_validation_error(e)}") from None
        return self

    def stage_sections(self, index: int) -> tuple[OptimConfig, SchedConfig, LossConfig]:
        """The optimiser, scheduler and loss sections in force during ``train.stages[index]``."""
        st = self.train.stages[index]
        return tuple(type(sec).model_validate({**sec.model_dump(), **getattr(st, key)})  # type: ignore[return-value]
                     for key, sec in (("optim", self.optim), ("sched", self.sched), ("loss", self.loss)))

    def run_name(self) -> str:
        """``name``, else ``<model>-<data source folder>`` (the run directory's prefix)."""
        return self.name or f"{self.model.name}-{Path(self.data.source).name}"


# -- errors -----------------------------------------------------------------------------------------

def _loc(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _short(value: Any) -> str:
    r = repr(value)
    return r if len(r) <= 60 else r[:57] + "..."


def _format_validation_error(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        path = _loc(e["loc"])
        if e["type"] == "extra_forbidden":
            parts.append(f"unknown key {path!r}")
            continue
        msg = str(e["msg"])
        msg = re.sub(r"^(Value|Assertion) error, ", "", msg)
        msg = msg[:1].lower() + msg[1:]
        msg = msg.split(", unable to ")[0].split(", got a number with a fractional part")[0]
        if e["type"] == "missing":
            parts.append(f"{path}: required key is missing")
        elif e["type"] == "value_error" or e["type"] == "assertion_error":
            # our own validators already name the value; they may also name a deeper key
            parts.append(msg if path and msg.startswith(path) else (f"{path}: {msg}" if path else msg))
        else:
            parts.append(f"{path}: {msg} (got {_short(e.get('input'))})")
    return "; ".join(parts)


# -- loading ----------------------------------------------------------------------------------------

def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: {e.problem or e.context or 'invalid YAML'}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(data).__name__}")
    return data


_SEGMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_\-]*)((?:\[\d+\])*)$")


def parse_override(text: str) -> tuple[list[str | int], Any]:
    """``"a.b[2].c=value"`` -> ``(["a", "b", 2, "c"], parsed value)``; the value is parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE (e.g. train.epochs=5)")
    key, raw = text.split("=", 1)
    key = key.strip()
    path: list[str | int] = []
    for seg in key.split("."):
        m = _SEGMENT.match(seg)
        if not m:
            raise ConfigError(f"--set {text!r}: bad key {key!r} (use dotted names like optim.lr or data.train_transforms[0].theta)")
        path.append(m.group(1))
        path.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(2)))
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise ConfigError(f"--set {key}: cannot parse value {raw!r}: {problem}") from None
    return path, value


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with each ``KEY=VALUE`` override applied (creating mappings as needed)."""
    data = copy.deepcopy(data)
    for text in overrides:
        path, value = parse_override(text)
        node: Any = data
        for i, part in enumerate(path[:-1]):
            where = _loc(path[: i + 1])
            nxt = path[i + 1]
            if isinstance(part, int):
                if not isinstance(node, list) or not -len(node) <= part < len(node):
                    raise ConfigError(f"--set {_loc(path)}: {where} is not an existing list item")
                node = node[part]
                continue
            if not isinstance(node, dict):
                raise ConfigError(f"--set {_loc(path)}: {_loc(path[:i]) or 'top level'} is not a mapping")
            if part not in node or node[part] is None:
                node[part] = [] if isinstance(nxt, int) else {}
            node = node[part]
        last = path[-1]
        if isinstance(last, int):
            if not isinstance(node, list) or not -len(node) <= last < len(node):
                raise ConfigError(f"--set {_loc(path)}: {_loc(path)} is not an existing list item")
            node[last] = value
        else:
            if not isinstance(node, dict):
                raise ConfigError(f"--set {_loc(path)}: {_loc(path[:-1]) or 'top level'} is not a mapping")
            node[last] = value
    return data


def _run_imports(modules: Any) -> None:
    """Import user modules that register models/transforms (the ``imports`` key of a config the user gave)."""
    if modules is None:
        return
    if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
        raise ConfigError(f"imports: expected a list of module names (got {_short(modules)})")
    import_plugins(modules, "imports[{i}]")


def import_plugins(modules: Sequence[str], where: str = "--import") -> None:
    """Import plug-in modules the user named (config ``imports``, CLI ``--import``); ``where`` may hold
    ``{i}`` (the position) and names the source in the one-line error."""
    for i, name in enumerate(modules):
        try:
            importlib.import_module(name)
        except ImportError as e:
            raise ConfigError(f"{where.format(i=i)}: cannot import {name!r}: {e}") from None


def config_from_dict(data: Mapping[str, Any], run_imports: bool = True) -> Config:
    """Validate a plain mapping into a :class:`Config` (one-line :class:`ConfigError` on failure).

    ``run_imports=False`` for a config read from a checkpoint: its ``imports`` are kept, not imported."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"the config must be a mapping, got {type(data).__name__}")
    if run_imports:
        _run_imports(data.get("imports"))
    try:
        return Config.model_validate(dict(data))
    except ValidationError as e:
        raise ConfigError(_format_validation_error(e)) from None


def load_config(path: str | Path | None = None, overrides: Sequence[str] = (), base: Mapping[str, Any] | None = None) -> Config:
    """Read ``path`` (or start from ``base``), apply ``overrides`` (``a.b=value``) and validate."""
    data: dict[str, Any] = dict(base or {})
    if path is not None:
        data = _read_yaml(Path(path))
    return config_from_dict(apply_overrides(data, overrides))


def config_to_dict(cfg: Config) -> dict[str, Any]:
    """The config as plain JSON-compatible values (what checkpoints and ``config.yaml`` hold)."""
    return cfg.model_dump(mode="json")


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the fully resolved config as YAML."""
    text = "# fully resolved skelar config (defaults and overrides applied)\n"
    text += yaml.safe_dump(config_to_dict(cfg), sort_keys=False)
    write_text_atomic(path, text)
