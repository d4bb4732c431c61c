"""The training loop's extension points: a TrainStep subclass, callbacks that stop early or freeze parameters,
TrainState saved and restored as one unit, and callbacks given to ``train``."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import engine_helpers as h
from skelar.engine.config import config_from_dict
from skelar.engine.distributed import DistContext
from skelar.engine.loop import Callback, EpochResult, TrainLoop
from skelar.engine.train_state import TrainState
from skelar.engine.train_step import TrainStep
from skelar.engine.trainer import train

CPU = torch.device("cpu")
SOLO = DistContext()


class _Sampler:
    def __init__(self):
        self.epochs: list[int] = []

    def set_epoch(self, epoch: int) -> None:
        self.epochs.append(epoch)


def _batches(n: int = 3) -> list:
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(4, 1, 2, generator=g), torch.tensor([0, 1, 0, 1]), torch.arange(4)) for _ in range(n)]


def _state(lr: float = 0.1) -> TrainState:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    return TrainState(model, opt, torch.optim.lr_scheduler.StepLR(opt, 1, 0.5))


class CountingStep(TrainStep):
    """A step that records each forward (where autocast would go) and each update (where a scaler would step)."""

    def __init__(self):
        super().__init__(nn.CrossEntropyLoss(), {})
        self.calls: list[str] = []

    def forward(self, net, x):
        self.calls.append("forward")
        return super().forward(net, x)

    def update(self, state):
        self.calls.append("update")
        super().update(state)


class StopAfter(Callback):
    def __init__(self, epochs: int):
        self.epochs = epochs

    def on_epoch_end(self, loop, result: EpochResult) -> None:
        loop.should_stop = result.epoch >= self.epochs


class FreezeFirstLayer(Callback):
    """A two-stage schedule: layer 0 frozen in epoch 0, trained from epoch 1."""

    def on_epoch_start(self, loop, epoch: int) -> None:
        for p in loop.state.model[0].parameters():
            p.requires_grad_(epoch >= 1)


def test_a_step_subclass_and_early_stopping_need_no_change_of_the_loop():
    state, step, sampler = _state(), CountingStep(), _Sampler()
    TrainLoop(state, step, _batches(3), sampler, epochs=5, device=CPU, ctx=SOLO, callbacks=[StopAfter(2)]).run()
    assert step.calls == ["forward", "update"] * 6 and state.global_step == 6
    assert state.epoch == 2 and [r["epoch"] for r in state.history] == [1, 2] and sampler.epochs == [0, 1]
    assert state.optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**2)  # the scheduler stepped per epoch


def test_a_staged_schedule_freezes_and_unfreezes_parameters():
    state = _state()
    first = [p.detach().clone() for p in state.model[0].parameters()]
    last = [p.detach().clone() for p in state.model[2].parameters()]

    class Check(Callback):
        def on_epoch_end(self, loop, result):
            now = [p.detach() for p in loop.state.model[0].parameters()]
            same = all(torch.equal(a, b) for a, b in zip(first, now))
            assert same == (result.epoch == 1), f"layer 0 after epoch {result.epoch}"

    TrainLoop(state, TrainStep(nn.CrossEntropyLoss(), {}), _batches(2), _Sampler(), epochs=2, device=CPU, ctx=SOLO,
              callbacks=[FreezeFirstLayer(), Check()]).run()
    assert not all(torch.equal(a, p) for a, p in zip(last, state.model[2].parameters()))


def test_train_state_is_saved_and_restored_as_one_unit():
    """Two epochs in one go equal one epoch, a save and restore into fresh objects, and one more epoch."""
    batches = _batches(3)
    whole = _state()
    TrainLoop(whole, TrainStep(nn.CrossEntropyLoss(), {}), batches, _Sampler(), 2, CPU, SOLO).run()
    first = _state()
    TrainLoop(first, TrainStep(nn.CrossEntropyLoss(), {}), batches, _Sampler(), 1, CPU, SOLO).run()
    first.extra["ema_decay"] = 0.99
    payload = first.payload(SOLO)
    assert {"model", "optimizer", "scheduler", "epoch", "global_step", "rng", "best", "history", "extra"} <= set(payload)
    assert "scaler" not in payload  # no AMP, no scaler entry: the checkpoint format is unchanged
    torch.manual_seed(123)  # disturb the RNG; restore must put it back
    second = _state(lr=0.5)
    second.restore(payload, SOLO, seed=0)
    assert second.epoch == 1 and second.global_step == 3 and second.extra == {"ema_decay": 0.99}
    TrainLoop(second, TrainStep(nn.CrossEntropyLoss(), {}), batches, _Sampler(), 2, CPU, SOLO).run()
    for a, b in zip(whole.model.parameters(), second.model.parameters()):
        assert torch.equal(a, b)
    assert [r["train_loss"] for r in whole.history] == [r["train_loss"] for r in second.history]


def test_train_takes_extra_callbacks(tmp_path):
    """A callback given to ``train`` sees every epoch and can end the run early; the run is still tested."""
    data = h.make_easy_dataset(tmp_path / "easy")
    seen: list[int] = []

    class Record(StopAfter):
        def on_epoch_end(self, loop, result):
            seen.append(result.epoch)
            super().on_epoch_end(loop, result)

    res = train(config_from_dict(h.tiny_config(data, tmp_path / "runs", train={"epochs": 4})), progress=False, callbacks=[Record(2)])
    assert seen == [1, 2] and len(res.history) == 2 and res.report["epochs_trained"] == 2
    assert torch.load(res.run_dir / "last.pt", weights_only=True)["epoch"] == 2
