"""One Registry class behind every extension point; config checks names against it; ``skelar list`` shows them."""

from __future__ import annotations

import pytest
import torch

from skelar.cli.main import main
from skelar.engine.config import ConfigError, config_from_dict
from skelar.engine.losses import LOSSES, build_loss
from skelar.engine.optim import OPTIMIZERS, SCHEDULERS, build_optimizer, lr_factor
from skelar.models.registry import MODELS
from skelar.registry import Registry, UnknownNameError, all_registries
from skelar.transforms.base import TRANSFORMS
from skelar.transforms.streams import STREAMS, to_stream


def test_registry_registers_looks_up_and_names_the_unknown():
    reg: Registry[int] = Registry("widget", "test widgets")
    reg.register("b", 2)

    @reg.register("a")
    def a() -> int:
        return 1

    assert reg.names() == ["a", "b"] and reg.in_order() == ["b", "a"] and reg.get("a") is a and "b" in reg
    assert reg.names("a*") == ["a"] and len(reg) == 2 and all_registries()["test widgets"] is reg
    with pytest.raises(ValueError, match="widget 'b' registered twice"):
        reg.register("b", 3)
    reg.register("b", 3, replace=True)
    with pytest.raises(UnknownNameError) as e:
        reg.get("c", "cfg.key")
    assert str(e.value) == "cfg.key: unknown widget 'c'; known: a, b"
    assert isinstance(e.value, KeyError) and isinstance(e.value, ValueError)
    assert str(reg.choices_error("c")) == "input should be 'b' or 'a' (got 'c')"


def test_every_extension_point_uses_the_registry_class():
    for reg in (MODELS, TRANSFORMS, LOSSES, OPTIMIZERS, SCHEDULERS, STREAMS):
        assert isinstance(reg, Registry) and len(reg) > 0
    assert LOSSES.names() == ["cross_entropy", "sgn_label_smoothing", "soft_target_ce"]
    assert OPTIMIZERS.in_order() == ["adam", "adamw", "sgd"] and SCHEDULERS.names() == ["cosine", "imdar_chained", "multistep", "none"]
    assert STREAMS.in_order() == ["joint", "bone", "motion", "bone_motion"]


BASE = {"model": {"name": "sgn"}}


@pytest.mark.parametrize(("key", "value", "message"), [
    ("loss", {"name": "focal"}, "loss.name: input should be 'cross_entropy', 'sgn_label_smoothing' or 'soft_target_ce' (got 'focal')"),
    ("sched", {"name": "step"}, "sched.name: input should be 'multistep', 'cosine', 'none' or 'imdar_chained' (got 'step')"),
    ("optim", {"name": "rmsprop"}, "optim.name: input should be 'adam', 'adamw' or 'sgd' (got 'rmsprop')"),
])
def test_config_checks_names_against_the_registries(key, value, message):
    with pytest.raises(ConfigError) as e:
        config_from_dict({**BASE, key: value})
    assert str(e.value) == f"config error: {message}"


def test_a_registered_loss_optimizer_schedule_and_stream_are_usable_by_name():
    LOSSES.register("test_l1", lambda **options: (lambda z, y: z.abs().mean()))
    OPTIMIZERS.register("test_plain_sgd", lambda params, lr, weight_decay, momentum, nesterov: torch.optim.SGD(params, lr=lr))
    SCHEDULERS.register("test_halve", lambda epoch, s: 0.5 ** epoch)
    STREAMS.register("test_double", lambda x, layout: 2 * x)
    try:
        cfg = config_from_dict({**BASE, "loss": {"name": "test_l1"}, "optim": {"name": "test_plain_sgd"},
                                "sched": {"name": "test_halve"}, "data": {"stream": "test_double"}})
        assert float(build_loss(cfg.loss.name)(torch.tensor([[-2.0, 2.0]]), torch.tensor([0]))) == 2.0
        opt = build_optimizer(torch.nn.Linear(2, 2).parameters(), cfg.optim.name, lr=0.1)
        assert type(opt) is torch.optim.SGD and opt.defaults["momentum"] == 0
        assert [lr_factor(cfg.sched.name, 10, warmup_epochs=1)(e) for e in range(3)] == [1.0, 0.5, 0.25]
        assert (to_stream(torch.ones(1).numpy(), "test_double") == 2).all()
    finally:
        LOSSES.unregister("test_l1")
        OPTIMIZERS.unregister("test_plain_sgd")
        SCHEDULERS.unregister("test_halve")
        STREAMS.unregister("test_double")


@pytest.mark.parametrize("kind", ["models", "transforms", "losses", "optimizers", "schedulers", "preparers", "streams", "layouts"])
def test_skelar_list_shows_each_kind(kind, capsys):
    assert main(["list", kind]) == 0
    out = capsys.readouterr().out
    expected = {"models": "sgn ", "transforms": "segment_sample ", "losses": "sgn_label_smoothing ", "optimizers": "adamw ",
                "schedulers": "cosine ", "preparers": "ucla ", "streams": "bone_motion ", "layouts": "ucla20 "}[kind]
    assert expected in out


def test_skelar_list_without_a_kind_shows_all(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(f"{kind}:" in out for kind in ("models", "transforms", "losses", "optimizers", "schedulers", "preparers", "streams", "layouts"))


def test_import_option_names_a_missing_plugin_in_one_line(capsys):
    assert main(["--import", "no_such_plugin_xyz", "list", "losses"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("skelar: error: --import no_such_plugin_xyz: cannot import it") and "\n" not in err
