"""Every shipped recipe (configs/*.yaml) loads, builds its pipelines and its model, and runs a forward pass;
the CTR-GCN / SF-Head recipes carry the reference's numbers; the NW-UCLA recipes run on the real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from skelar.data import PreparedDataset, is_prepared_dir
from skelar.engine.config import load_config
from skelar.engine.data_setup import build_data, with_stream
from skelar.engine.losses import build_loss, combine_losses, head_losses, split_output
from skelar.engine.model_setup import build_model, resolve_model_kwargs
from skelar.engine.optim import build_optimizer, build_scheduler, lr_factor
from skelar.layouts import get_layout
from skelar.transforms import build_transforms
from skelar.transforms.streams import to_bone

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))




def _prepared(cfg) -> PreparedDataset | None:
    """The recipe's dataset when it has been prepared here (relative sources are relative to the repo)."""
    if cfg.data.source == "synthetic":
        return None
    path = Path(cfg.data.source)
    path = path if path.is_absolute() else REPO / path
    return PreparedDataset(path) if is_prepared_dir(path) else None


def _fake_sample(layout: str) -> np.ndarray:
    """A random 90-frame sequence: one person for NW-UCLA's 20 joints, two otherwise (as the prepared data)."""
    v = get_layout(layout).num_joints
    return np.random.default_rng(0).normal(0, 0.5, (3, 90, v, 1 if layout == "ucla20" else 2)).astype(np.float32)


def _layout_of(cfg) -> str:
    for spec in [*cfg.data.train_transforms, *cfg.data.test_transforms]:
        if "layout" in spec:
            return spec["layout"]
    return cfg.model.kwargs.get("layout", "ntu25")


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_recipe_builds_pipelines_and_model(path):
    cfg = load_config(path)
    ds = _prepared(cfg)  # real data when present; data loading is skipped otherwise
    if ds is not None:
        layout, num_classes = ds.layout.name, ds.num_classes
        x = ds[int(ds.split(cfg.data.protocol, "train")[0])]
    else:
        layout, num_classes = _layout_of(cfg), 10
        x = _fake_sample(layout)
    lay = ds.layout if ds is not None else get_layout(layout)
    train_t = build_transforms(with_stream(cfg.data.train_transforms, cfg.data.stream), layout=lay)
    test_t = build_transforms(with_stream(cfg.data.test_transforms, cfg.data.stream), layout=lay)
    train_x = np.stack([train_t(x, np.random.default_rng([0, k])) for k in range(2)])
    test_x = np.stack([test_t(x, np.random.default_rng([1, k])) for k in range(2)])
    assert train_x.shape == test_x.shape, "train and test pipelines must give one input shape"
    shape = tuple(test_x.shape[1:])
    kwargs = resolve_model_kwargs(cfg.model.name, cfg.model.kwargs, num_classes, layout, shape[3])
    torch.manual_seed(0)
    model = build_model(cfg.model.name, kwargs, shape)  # also checks the model's input_shape
    with torch.no_grad():
        logits, _ = split_output(model.eval()(torch.from_numpy(test_x)))
    assert logits.shape == (2, num_classes) and torch.isfinite(logits).all()
    if cfg.loss.aux_weights:  # the auxiliary losses the model returns must match the configured weights
        out = model.train()(torch.from_numpy(train_x))
        criterion = build_loss(cfg.loss.name, cfg.loss.label_smoothing, cfg.loss.target_on, cfg.loss.target_off)
        logits, aux = split_output(out)
        aux = {**aux, **head_losses(out, torch.tensor([0, 1]), criterion)}
        loss, parts = combine_losses(logits, aux, torch.tensor([0, 1]), criterion, cfg.loss.aux_weights)
        assert torch.isfinite(loss) and set(aux) == set(cfg.loss.aux_weights)


CTRGCN_NTU = ["ctrgcn_ntu60_xsub", "ctrgcn_ntu60_xview", "ctrgcn_ntu120_xsub", "ctrgcn_ntu120_xset", "sfhead_ntu60_xsub"]
CTRGCN_UCLA = ["ctrgcn_ucla", "sfhead_ucla"]


@pytest.mark.parametrize("name", CTRGCN_NTU + CTRGCN_UCLA)
def test_ctrgcn_recipes_follow_the_reference(name):
    """CTR-GCN's configs (reference-notes §3.4; config/ucla/default.yaml): optimiser, schedule, batch, views."""
    cfg = load_config(REPO / "configs" / f"{name}.yaml")
    ucla = name in CTRGCN_UCLA
    o, s = cfg.optim, cfg.sched
    assert (o.name, o.lr, o.momentum, o.nesterov, o.weight_decay) == ("sgd", 0.1, 0.9, True, 1e-4 if ucla else 4e-4)
    assert (cfg.data.batch_size, cfg.train.epochs, cfg.data.train_repeat) == ((16, 65, 5) if ucla else (64, 65, 1))
    f = lr_factor(s.name, cfg.train.epochs, s.milestones, s.gamma, s.warmup_epochs)
    lr = [round(f(e), 6) for e in range(cfg.train.epochs)]
    # the optimiser and scheduler the trainer builds from these keys
    opt = build_optimizer([torch.nn.Parameter(torch.zeros(2))], o.name, o.lr, o.weight_decay, o.momentum, o.nesterov)
    assert isinstance(opt, torch.optim.SGD) and opt.param_groups[0]["nesterov"] and opt.param_groups[0]["momentum"] == 0.9
    sched = build_scheduler(opt, s.name, cfg.train.epochs, s.milestones, s.gamma, s.warmup_epochs, s.min_lr)
    seen = []
    for _ in range(cfg.train.epochs):
        seen.append(round(opt.param_groups[0]["lr"] / o.lr, 6))
        opt.step()
        sched.step()
    assert seen == lr
    assert lr[:6] == [0.2, 0.4, 0.6, 0.8, 1.0, 1.0]  # (epoch + 1) / 5, then the base lr
    if ucla:
        assert lr[49] == 1.0 and lr[50] == 0.1 and lr[64] == 0.1
    else:
        assert lr[34] == 1.0 and lr[35] == 0.1 and lr[54] == 0.1 and lr[55] == 0.01
    # NW-UCLA: a fixed epoch budget (its one-subject validation part only monitors); NTU: best validation top-1
    assert cfg.data.val.mode == "split" and cfg.train.select == ("last" if ucla else "val_top1") and cfg.data.test_clips == 1
    names = [t["name"] for t in cfg.data.train_transforms]
    if ucla:
        assert names == ["center_first_frame", "ucla_view_augment", "minmax_normalize", "ucla_sample"]
    else:
        assert cfg.data.train_transforms == [{"name": "valid_crop_resize", "window": 64, "p_interval": [0.5, 1.0]},
                                             {"name": "random_rotation", "theta": 0.3}]
        assert cfg.data.test_transforms == [{"name": "valid_crop_resize", "window": 64, "p_interval": [0.95]}]
    if name.startswith("sfhead"):
        assert cfg.model.kwargs["sf_head"] == "all" and cfg.loss.aux_weights == {"f_rl": 0.1, "f_cl": 0.1}
    else:
        assert cfg.model.kwargs == {} and cfg.loss.aux_weights == {}


@pytest.fixture(scope="module")
def ucla_prepared(tmp_path_factory):
    from conftest import shared_path
    from skelar.preprocess.ucla import prepare_ucla

    src = shared_path("data", "nw-ucla", "all_sqe")
    return prepare_ucla(src, tmp_path_factory.mktemp("ucla") / "ucla").root


@pytest.mark.parametrize("name", CTRGCN_UCLA)
def test_ucla_recipes_on_the_real_data(name, ucla_prepared, tmp_path):
    """The whole data side of the NW-UCLA recipes on the real 1,484 sequences, joint and bone streams."""
    path = REPO / "configs" / f"{name}.yaml"
    joint = build_data(load_config(path, [f"data.source={ucla_prepared}", f"output_dir={tmp_path}"]), progress=False)
    assert joint.sample_shape == (3, 52, 20, 1)
    assert len(joint.train_idx) + len(joint.val_idx) == 1020 and len(joint.test_idx) == 464
    assert len(joint.train_set(0)) == 5 * len(joint.train_idx)
    bone = build_data(load_config(path, [f"data.source={ucla_prepared}", f"output_dir={tmp_path}", "data.stream=bone"]), progress=False)
    a, b = joint.eval_set("test", 1, 0), bone.eval_set("test", 1, 0)
    for i in (0, 100, 463):
        assert np.allclose(b[i][0][0].numpy(), to_bone(a[i][0][0].numpy(), "ucla20"), atol=1e-6)


@pytest.mark.parametrize("name", ["ltscl_ntu60_xsub", "ltscl_ntu60_xview", "ltscl_ucla"])
def test_ltscl_recipes_follow_the_reference_stages(name):
    """LTSCL (reference-notes §5.4-5.5): AIM stage with NLL + KL on Adam 5e-4, then the backbone with
    0.1 CE + 0.45 MSE + 0.45 contrastive on SGD 0.1 Nesterov, the AIM frozen; corrected protocol."""
    cfg = load_config(REPO / "configs" / f"{name}.yaml")
    aim, backbone = cfg.train.stages
    a_optim, _, a_loss = cfg.stage_sections(0)
    b_optim, b_sched, b_loss = cfg.stage_sections(1)
    assert aim.train == ["aim"] and backbone.freeze == ["aim"]
    assert (a_optim.name, a_optim.lr, a_loss.cls_weight) == ("adam", 0.0005, 0)
    assert {k: v for k, v in a_loss.aux_weights.items() if v} == {"aim_nll": 1, "aim_kl": 1}
    assert (b_optim.name, b_optim.lr, b_optim.momentum, b_optim.nesterov, b_optim.weight_decay) == ("sgd", 0.1, 0.9, True, 1e-4)
    # NW-UCLA's CPU-sized recipe raises the classification weight to 1 (its header says why)
    assert b_loss.cls_weight == (1.0 if name == "ltscl_ucla" else 0.1)
    assert {k: v for k, v in b_loss.aux_weights.items() if v} == {"recon": 0.45, "contrastive": 0.45}
    assert cfg.data.batch_size == 16 and cfg.model.kwargs["variant"] == "corrected"
    if name.startswith("ltscl_ntu60"):
        assert (aim.epochs, backbone.epochs, b_sched.milestones) == (10, 80, [30, 50, 70])
        assert cfg.data.protocol == name.rsplit("_", 1)[1] and "num_classes" not in cfg.model.kwargs  # 60 classes from the data
    # the model reads exactly the clip the transform makes
    clip = cfg.data.test_transforms[-1]
    assert clip["name"] == "ltscl_clip" and clip["aim_offset"] == "fixed"
    kw = cfg.model.kwargs
    assert clip["window"] == kw["input_frames"] + kw["future_frames"] and clip["aim_frames"] == kw["aim_frames"]
