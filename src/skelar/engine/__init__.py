"""The training engine: config, trainer, evaluation, checkpoints, inference, export — knows no specific model.

A model returns logits ``(N, K)`` or ``{"logits": ..., "aux_losses": {name: scalar}}``; auxiliary losses
are added with the weights in ``loss.aux_weights``. See docs/engine.md.
"""

from skelar.engine.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from skelar.engine.config import Config, ConfigError, load_config
from skelar.engine.evaluate import EvalResult, evaluate

__all__ = [
    "Config",
    "ConfigError",
    "load_config",
    "save_checkpoint",
    "load_checkpoint",
    "model_from_checkpoint",
    "EvalResult",
    "evaluate",
    "train",
    "TrainResult",
]


def __getattr__(name: str):
    if name in ("train", "TrainResult"):
        from skelar.engine import trainer

        return getattr(trainer, name)
    raise AttributeError(name)
