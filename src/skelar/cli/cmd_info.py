"""``skelar info MODEL``: parameters, FLOPs per sample, input shape and per-clip latency (PyTorch, ONNX) of a registered model."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``skelar info`` to the command's sub-parsers."""
    p = subparsers.add_parser(
        "info",
        help="size and cost of a model",
        description="Parameters, inference FLOPs per sample (multiply-add = 2) and the expected input (C, T, V, M).",
    )
    p.add_argument("model", help="registered model name (see `skelar models`)")
    p.add_argument("--num-classes", type=int, help="number of classes (default: the model's)")
    p.add_argument("--layout", help="joint layout: a registered name, a layout YAML file, or a dataset folder "
                                    "(prepared or plain format) whose layout to use (default: the model's)")
    p.add_argument("--kwarg", action="append", default=[], metavar="KEY=VALUE",
                   help="another constructor argument, value parsed as YAML (e.g. width=256); repeatable")
    p.add_argument("--no-latency", action="store_true", help="skip the latency measurement (PyTorch and exported ONNX, one clip)")
    p.add_argument("--threads", type=int, default=1, help="threads for the latency measurement (default 1)")
    p.set_defaults(func=run)


def _kwargs(items: list[str]) -> dict:
    import yaml

    out = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"--kwarg {item!r}: expected KEY=VALUE (e.g. width=256)")
        try:
            out[key] = yaml.safe_load(raw)
        except yaml.YAMLError:
            raise ValueError(f"--kwarg {item!r}: cannot parse the value as YAML") from None
    return out


def run(args: argparse.Namespace) -> int:
    """Run ``skelar info`` with the parsed ``args``; returns the exit code."""
    from skelar.models import create_model, get_model_entry
    from skelar.models.profile import count_flops, count_literal_flops, count_parameters, example_input

    from skelar.preprocess.layout_arg import resolve_layout_arg

    layout = resolve_layout_arg(args.layout).name if args.layout else None  # registered: the model finds it by name
    kwargs = {k: v for k, v in (("num_classes", args.num_classes), ("layout", layout)) if v is not None}
    kwargs.update(_kwargs(args.kwarg))
    model = create_model(args.model, **kwargs)
    x = example_input(model, 2)
    flops, literal = count_flops(model, x), count_literal_flops(model, x)
    trainable = count_parameters(model, trainable_only=True)
    total = count_parameters(model)
    print(f"model        {args.model}  ({get_model_entry(args.model).description})")
    print(f"arguments    {', '.join(f'{k}={v!r}' for k, v in model.skelar_kwargs.items()) or '(defaults)'}")
    print(f"input        (N, {', '.join(map(str, model.input_shape))})  = (N, C, T, V, M)")
    joints = model.input_shape[2]
    print(f"layout       {layout} ({joints} joints)" if layout else
          f"layout       the model's default ({joints} joints); --layout DATASET_DIR sizes it for your data's layout")
    print(f"parameters   {total:,}" + (f" ({trainable:,} trainable)" if trainable != total else ""))
    print(f"FLOPs/sample {flops / 1e9:.3f} G  (inference, as executed; multiply-add = 2)")
    if literal is not None and abs(literal - flops) > 1e-3 * literal:
        print(f"             {literal / 1e9:.3f} G  (the literal layer-by-layer formulation, as papers count it)")
    if not args.no_latency:
        _latency(model, tuple(model.input_shape), args.threads)
    return 0


def _latency(model, shape: tuple[int, ...], threads: int) -> None:
    import torch

    from skelar.engine.latency import onnx_latency_ms, torch_latency_ms

    torch.set_num_threads(threads)
    where = f"batch 1, {threads} thread{'s' if threads > 1 else ''}, median of 20"
    print(f"latency/clip {torch_latency_ms(model, shape):.2f} ms  (PyTorch, {where})")
    try:
        ms, exporter = onnx_latency_ms(model, shape, threads=threads)
    except RuntimeError as e:  # the onnx extra is not installed
        print(f"             ONNX: not measured ({e})")
        return
    print(f"             {ms:.2f} ms  (onnxruntime CPU, {exporter} export, {where})")
