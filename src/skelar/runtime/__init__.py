"""Inference pieces that need no torch: the preprocessing a model records, per-sample test clips, top-k rows,
and an onnxruntime predictor. Sits above transforms and below models in the import flow."""

from skelar.runtime.clips import fit_persons, make_clips, sample_seed
from skelar.runtime.spec import InferenceSpec
from skelar.runtime.topk import softmax, top_k_row

__all__ = ["InferenceSpec", "fit_persons", "make_clips", "sample_seed", "softmax", "top_k_row"]
