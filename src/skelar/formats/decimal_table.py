"""Vectorised, strict parsing of whitespace-separated decimal tables (the bulk of text skeleton files).

``parse_decimal_table(blob, rows, cols)`` converts ``rows`` newline-separated lines of exactly
``cols`` numbers each, and returns ``None`` instead of raising when anything is unusual, so that
callers can fall back to a line-by-line validator that names the offending line.

Every value equals Python's ``float(token)``. Plain decimals (``[+-]digits[.digits]``, at most 15
characters) are converted column-wise with NumPy: the mantissa digits form an exact integer that is
divided by an exact power of ten, one correctly rounded operation (the classic fast path of decimal
conversion). The rare other tokens (exponents such as ``9.276937E-05``, very long numbers) are checked
against a strict pattern and converted with ``float``.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

__all__ = ["parse_decimal_table", "NUMBER_PATTERN"]

NUMBER_PATTERN = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_MAX_WIDTH = 15  # up to 15 characters the digits stay exact in float64 arithmetic
_POW10 = 10.0 ** np.arange(23)
_ALLOWED_BYTES = b"0123456789.+-eE \t\n"


def _token_bounds(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sep = c <= 32
    edge = np.empty(c.size + 1, bool)
    edge[0] = ~sep[0]
    edge[-1] = ~sep[-1]
    np.not_equal(sep[1:], sep[:-1], out=edge[1:-1])
    edges = np.flatnonzero(edge)
    return edges[0::2], edges[1::2]


def parse_decimal_table(blob: bytes, rows: int, cols: int, columns: Sequence[int] | None = None) -> np.ndarray | None:
    """``(rows, cols)`` float64 values of ``blob``, or ``None`` if it is not such a table of numbers.

    With ``columns``, only those columns are converted (shape ``(rows, len(columns))``); the others
    are still required to exist and to consist of number characters (digits, ``.+-eE``), but are not
    checked further.
    """
    if not blob or rows * cols == 0 or blob.translate(None, _ALLOWED_BYTES):
        return None  # empty, or some byte that cannot occur in a table of numbers
    c = np.frombuffer(blob, np.uint8)
    starts, ends = _token_bounds(c)
    if starts.size != rows * cols:
        return None
    nl = np.flatnonzero(c == 10)
    if nl.size != rows - 1:
        return None
    st = starts.reshape(rows, cols)
    if rows > 1 and not ((st[1:, 0] > nl).all() and (st[:-1, -1] < nl).all()):
        return None  # some line does not hold exactly `cols` tokens
    if columns is not None:
        cols_idx = np.asarray(columns)
        sel = (np.arange(rows)[:, None] * cols + cols_idx).ravel()
        starts, ends = starts[sel], ends[sel]
        out_cols = len(cols_idx)
    else:
        out_cols = cols
    n = starts.size
    lengths = ends - starts
    width = min(int(lengths.max()), _MAX_WIDTH)
    padded = np.zeros(c.size + width, np.uint8)
    padded[: c.size] = c
    pos = np.arange(width)[:, None]
    mat = np.empty((width, n), np.uint8)  # character j of every token, token-contiguous
    for j in range(width):
        np.take(padded, starts + j, out=mat[j])
    mat[pos >= lengths] = 0
    first = mat[0]
    neg = first == 45
    off = neg | (first == 43)
    is_dot = mat == 46
    has_dot = is_dot.any(axis=0)
    dpos = np.where(is_dot, pos, width).min(axis=0)
    dpos = np.where(has_dot, dpos, lengths)
    digit = mat - np.uint8(48)
    in_mant = (pos >= off) & (pos < lengths) & (pos != dpos)
    plain = (lengths <= _MAX_WIDTH) & ((digit < 10) | ~in_mant).all(axis=0) & (lengths - off - has_dot >= 1)
    # Horner over the mantissa digits (the dot and sign skipped): an exact integer below 10**15
    mant = np.zeros(n, np.float64)
    step = np.empty(n, np.float64)
    for j in range(width):
        np.multiply(mant, 10.0, out=step)
        np.add(step, digit[j], out=step)
        np.copyto(mant, step, where=in_mant[j])
    frac = np.where(has_dot, lengths - dpos - 1, 0)
    val = mant / _POW10[np.minimum(frac, 22)]  # one correctly rounded division
    val = np.where(neg, -val, val)
    if not plain.all():
        for t in np.flatnonzero(~plain).tolist():
            token = blob[starts[t] : ends[t]]
            if not NUMBER_PATTERN.fullmatch(token):
                return None
            val[t] = float(token)
    if not np.isfinite(val).all():
        return None
    return val.reshape(rows, out_cols)
