"""Vectorised, strict parsing of whitespace-separated decimal tables (the bulk of text skeleton files).

* :func:`parse_decimal_table` converts ``rows`` newline-separated lines of exactly ``cols`` numbers.
* :func:`parse_leading_columns` converts the first ``k`` of the ``cols`` single-space-separated
  fields of chosen lines of a larger text, checking each line's field count.
* :func:`parse_first_fields` converts only the first ``k`` fields of chosen lines and looks at nothing
  else: the cheapest way to get, e.g., x, y, z of every joint line.

All return ``None`` instead of raising when anything is unusual, so that callers can fall back to a
line-by-line validator that names the offending line.

Every value equals Python's ``float(token)``. Plain decimals (``[+-]digits[.digits]``, at most 15
characters) are converted with NumPy on a (character position x token) matrix: the digits form an
exact integer (below 10**15, exact in float64; one matrix-vector product with the powers of ten),
the dot is taken out exactly, and a single correctly rounded division by a power of ten gives the
value (the classic fast path of decimal conversion). Other valid tokens (exponents such as
``9.276937E-05``, longer numbers) are checked against a strict pattern and converted with ``float``.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

__all__ = ["parse_decimal_table", "parse_leading_columns", "parse_first_fields", "tokens_to_float", "NUMBER_PATTERN"]

NUMBER_PATTERN = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_MAX_WIDTH = 15  # up to 15 characters the digits stay exact in float64 arithmetic
_POW10 = 10.0 ** np.arange(23)
_ALLOWED_BYTES = b"0123456789.+-eE \t\n"


_CHUNK = 8192  # tokens converted together: the (width, chunk) work arrays stay in the CPU cache


def _windows(c: np.ndarray, width: int, last_start: int) -> np.ndarray:
    """``(len, width)`` sliding windows over ``c``, zero-padded when a window would run past its end."""
    if last_start + width > c.size:
        padded = np.zeros(last_start + width, np.uint8)
        padded[: c.size] = c
        c = padded
    return np.lib.stride_tricks.sliding_window_view(c, width)


def tokens_to_float(c: np.ndarray, starts: np.ndarray, ends: np.ndarray, raw: bytes | None = None) -> np.ndarray | None:
    """Values of the tokens ``c[starts[i]:ends[i]]`` (``c``: the text as uint8, ``raw``: the same as
    bytes if at hand), or ``None`` if one is not a finite number. Tokens must be non-empty."""
    n = starts.size
    if n == 0:
        return np.zeros(0)
    width = min(int((ends - starts).max()), _MAX_WIDTH)
    windows = _windows(c, width, int(starts.max()))
    out = np.empty(n, np.float64)
    for a in range(0, n, _CHUNK):
        s, e = starts[a : a + _CHUNK], ends[a : a + _CHUNK]
        val = _convert(np.ascontiguousarray(windows[s].T), e - s, s, c, raw)
        if val is None:
            return None
        out[a : a + _CHUNK] = val
    return out


def _convert(mat: np.ndarray, lengths: np.ndarray, starts: np.ndarray, c: np.ndarray,
             raw: bytes | None, ok: np.ndarray | None = None) -> np.ndarray | None:
    """Values of tokens given as a ``(width, n)`` character matrix (character j of token i in
    ``mat[j, i]``; characters past a token's length are ignored). Tokens where ``ok`` is False are
    skipped (their values are meaningless)."""
    width, n = mat.shape
    ends = starts + lengths
    ln = np.minimum(lengths, 255).astype(np.uint8)
    pos = np.arange(width, dtype=np.uint8)[:, None]
    mat = mat * (pos < ln)  # characters beyond a token's end belong to the next one: zero them
    first = mat[0]
    neg = first == 45
    off = (neg | (first == 43)).view(np.uint8)
    is_dot = mat == 46
    n_dot = np.add.reduce(is_dot, axis=0, dtype=np.uint8)
    has_dot = n_dot > 0
    dpos = np.where(has_dot, np.add.reduce(is_dot * pos, axis=0, dtype=np.uint8), ln)  # valid when n_dot <= 1
    digit = mat - np.uint8(48)  # zeros (outside) wrap to 208: not a digit
    in_mant = digit < 10
    n_digit = np.add.reduce(in_mant, axis=0, dtype=np.uint8)
    # plain: [sign] digits with at most one dot, nothing else
    plain = (lengths <= _MAX_WIDTH) & (n_dot <= 1) & (n_digit >= 1) & (n_digit + off + n_dot == ln)
    # All digits read as one integer V (dot and sign as zeros): exact below 10**15, then the dot is
    # taken out: with R the `frac` digits after it, the mantissa is (V - R) / 10 + R.
    v = _POW10[width - 1 - np.arange(width)] @ (digit * in_mant).astype(np.float64)
    v /= _POW10[width - np.minimum(ln, width)]
    frac = np.where(has_dot, ln.astype(np.int64) - dpos - 1, 0)
    scale = _POW10[np.clip(frac, 0, 22)]
    # exact: v < 10**15, so v / scale is never within half an ulp of the next integer above its floor
    r = v - np.floor(v / scale) * scale
    mant = (v - r) / np.where(has_dot, 10.0, 1.0) + r
    val = mant / scale  # one correctly rounded division
    np.negative(val, out=val, where=neg)
    if ok is not None:
        plain |= ~ok
    if not plain.all():
        raw = c.tobytes() if raw is None else raw
        for t in np.flatnonzero(~plain).tolist():
            token = raw[starts[t] : ends[t]]
            if not NUMBER_PATTERN.fullmatch(token):
                return None
            val[t] = float(token)
    if not np.isfinite(val if ok is None else val[ok]).all():
        return None
    return val


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
    out_cols = cols
    if columns is not None:
        sel = (np.arange(rows)[:, None] * cols + np.asarray(columns)).ravel()
        starts, ends, out_cols = starts[sel], ends[sel], len(columns)
    val = tokens_to_float(c, starts, ends, blob)
    return None if val is None else val.reshape(rows, out_cols)


def parse_leading_columns(c: np.ndarray, line_start: np.ndarray, line_end: np.ndarray, cols: int,
                          k: int, raw: bytes | None = None) -> np.ndarray | None:
    """The first ``k`` of the ``cols`` fields of each line ``c[line_start[i]:line_end[i]]``, as
    ``(len(line_start), k)`` float64; ``None`` unless every such line has exactly ``cols`` fields
    separated by single spaces (with no leading or trailing space) and the first ``k`` are numbers.

    ``c`` is the whole text as uint8. Doubled or line-edge spaces make empty fields and give ``None``.
    The fields after the first ``k`` are counted, not parsed.
    """
    sp = np.flatnonzero(c == 32)
    k0 = np.searchsorted(sp, line_start)
    last = k0 + cols - 2  # index of the line's last space
    if sp.size == 0 or last.max() >= sp.size:
        return None
    ok = sp[last] < line_end
    nxt = last + 1
    inside = nxt < sp.size
    ok &= ~inside | (sp[np.minimum(nxt, sp.size - 1)] > line_end)
    if not ok.all():
        return None
    starts = np.empty((len(line_start), k), np.int64)
    ends = np.empty((len(line_start), k), np.int64)
    starts[:, 0] = line_start
    for j in range(k):
        ends[:, j] = sp[k0 + j] if j < cols - 1 else line_end
        if j + 1 < k:
            starts[:, j + 1] = ends[:, j] + 1
    val = tokens_to_float(c, starts.ravel(), ends.ravel(), raw)
    return None if val is None else val.reshape(len(line_start), k)


def parse_first_fields(c: np.ndarray, line_start: np.ndarray, line_end: np.ndarray, k: int,
                       raw: bytes | None = None) -> np.ndarray | None:
    """The first ``k`` space-separated fields of each line ``c[line_start[i]:line_end[i]]`` (which must
    have more than ``k`` fields), as ``(len(line_start), k)`` float64, or ``None``.

    Only the beginning of each line is looked at, so this is the cheapest way to read, e.g., x, y, z
    of every joint line; the rest of the lines is not checked.
    """
    n = line_start.size
    if n == 0:
        return np.zeros((0, k))
    span = _MAX_WIDTH + 1
    windows = _windows(c, span, int(line_end.max()))
    out = np.empty((n, k), np.float64)
    slow: list[np.ndarray] = []
    for a in range(0, n, _CHUNK):
        cur = line_start[a : a + _CHUNK].copy()
        r = np.arange(cur.size)
        odd = np.zeros(cur.size, bool)  # lines with a field of more than 15 characters (or malformed)
        for j in range(k):
            win = windows[cur]  # (m, span): the field starts at column 0
            is_sp = win == 32
            length = is_sp.argmax(axis=1)
            odd |= ~(is_sp[r, length] & (length > 0))
            length[odd] = 1
            val = _convert(np.ascontiguousarray(win[:, : int(length.max())].T), length, cur, c, raw, ok=~odd)
            if val is None:
                return None
            out[a : a + cur.size, j] = val
            cur = cur + length + 1
        odd |= cur - 1 >= line_end[a : a + _CHUNK]
        slow.append(np.flatnonzero(odd) + a)
    rest = np.concatenate(slow)
    if rest.size:  # the few odd lines, one by one
        raw = c.tobytes() if raw is None else raw
        for i in rest.tolist():
            fields = raw[line_start[i] : line_end[i]].split(b" ")
            if len(fields) <= k or not all(NUMBER_PATTERN.fullmatch(f) for f in fields[:k]):
                return None
            out[i] = [float(f) for f in fields[:k]]
        if not np.isfinite(out[rest]).all():
            return None
    return out
