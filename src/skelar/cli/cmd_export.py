"""``skelar export``: write a checkpoint's model as ONNX (dynamic batch), verified with onnxruntime."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="export a checkpoint's model to ONNX",
        description="Input 'x' (N, C, T, V, M) with a dynamic batch axis, output 'logits' (N, K).",
    )
    p.add_argument("--checkpoint", required=True, help="a skelar checkpoint or a run directory")
    p.add_argument("--out", required=True, help="output .onnx path")
    p.add_argument("--opset", type=int, help="ONNX opset (default: the exporter's)")
    p.add_argument("--no-verify", action="store_true", help="skip the onnxruntime comparison")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from skelar.engine.export import export_onnx

    info = export_onnx(args.checkpoint, args.out, opset=args.opset, verify=not args.no_verify)
    shape = "x".join(str(s) for s in info["input_shape"])
    check = "not verified" if info["max_scaled_diff"] is None else f"onnxruntime max |diff|/(1+|out|) {info['max_scaled_diff']:.2e}"
    print(f"wrote {info['path']} (input {shape}, {info['exporter']} exporter; {check})")
    return 0
