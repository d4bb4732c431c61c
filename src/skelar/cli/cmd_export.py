"""``skelar export``: a checkpoint's model as ONNX (dynamic batch, verified with onnxruntime) or as shippable weights."""

from __future__ import annotations

import argparse
import shlex

from skelar.cli.weights_args import add_checkpoint_arguments, import_plugins, resolve_checkpoint


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``skelar export`` to the command's sub-parsers."""
    p = subparsers.add_parser(
        "export",
        help="export a checkpoint's model to ONNX or as shippable pretrained weights",
        description="onnx: input 'x' (N, C, T, V, M) with a dynamic batch axis, output 'logits' (N, K); the class "
        "names and preprocessing go into the file's metadata, so `skelar predict --onnx` needs no PyTorch "
        "(needs the onnx extra: pip install 'skelar[onnx]'). "
        "weights: OUT is <model>-<tag>.pt holding fp32 weights + metadata (test transforms, clips, seed, test "
        "metrics, commands), loadable as create_model(model, weights=tag); a <model>-<tag>.json card is written beside it.",
    )
    add_checkpoint_arguments(p, "a skelar checkpoint or a run directory")
    p.add_argument("--out", required=True, help="output path: model.onnx, or <model>-<tag>.pt for --format weights")
    p.add_argument("--format", choices=["onnx", "weights"], help="default: weights when OUT ends in .pt, else onnx")
    p.add_argument("--opset", type=int, help="onnx: ONNX opset (default: the exporter's)")
    p.add_argument("--no-verify", action="store_true", help="onnx: skip the onnxruntime comparison")
    p.add_argument("--exporter", choices=["dynamo", "torchscript"], default="dynamo",
                   help="onnx: torch.export-based (default; falls back to TorchScript on failure) or TorchScript")
    p.add_argument("--description", help="weights: one-line description (default: dataset, protocol, test top-1, clips, seed)")
    p.add_argument("--test-report", help="weights: report.json of `skelar test` on this checkpoint, for one without a test result (e.g. last.pt)")
    p.add_argument("--train-command", help="weights: the command that trained the run (default: skelar train -c RUN/config.yaml)")
    p.set_defaults(func=run)


def _export_command(args: argparse.Namespace) -> str:
    """The export command line, rebuilt from the parsed arguments."""
    source = ["--checkpoint", str(args.checkpoint)] if args.checkpoint else ["--model", str(args.model), "--weights", str(args.weights)]
    argv = ["skelar", "export", *source, "--format", "weights", "--out", str(args.out)]
    for flag, value in (("--description", args.description), ("--train-command", args.train_command), ("--test-report", args.test_report)):
        if value is not None:
            argv += [flag, value]
    return shlex.join(argv)


def run(args: argparse.Namespace) -> int:
    """Run ``skelar export`` with the parsed ``args``; returns the exit code."""
    import_plugins(args)
    fmt = args.format or ("weights" if str(args.out).endswith(".pt") else "onnx")
    checkpoint = resolve_checkpoint(args)
    if fmt == "weights":
        if args.opset is not None or args.no_verify:
            raise ValueError("--opset and --no-verify apply to --format onnx only")
        from skelar.engine.weights_export import export_weights

        info = export_weights(checkpoint, args.out, args.description, args.train_command, _export_command(args), args.test_report)
        print(f"wrote {info['path']} ({info['bytes'] / 1e6:.2f} MB; {info['description']})")
        print(f"card: {info['card']}; load with create_model({info['model']!r}, weights={info['tag']!r}) "
              f"or skelar test --model {info['model']} --weights {info['tag']}")
        return 0
    if args.description is not None or args.train_command is not None or args.test_report is not None:
        raise ValueError("--description, --train-command and --test-report apply to --format weights only")
    from skelar.engine.export import export_onnx

    info = export_onnx(checkpoint, args.out, opset=args.opset, verify=not args.no_verify, exporter=args.exporter)
    shape = "x".join(str(s) for s in info["input_shape"])
    check = "not verified" if info["max_scaled_diff"] is None else f"onnxruntime max |diff|/(1+|out|) {info['max_scaled_diff']:.2e}"
    print(f"wrote {info['path']} (input {shape}, {info['exporter']} exporter; {check})")
    return 0
