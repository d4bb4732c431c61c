"""Vectorised, exact parsing of decimal numbers in text (the bulk of text skeleton files).

* :func:`parse_tokens_at` converts the tokens that start at given offsets of a text and run to the
  next space or line feed, and says where each ends: the way to walk the fields of many lines at once.
* :func:`tokens_to_float` converts tokens whose bounds are known.
* :func:`parse_decimal_table` converts ``rows`` newline-separated lines of exactly ``cols`` numbers.

Every value equals Python's ``float(token)``. A *plain* token (``[+-]`` digits with at most one dot,
at most 15 characters) is converted with NumPy on a (character position x token) matrix: its digits,
those after the dot weighted ten times more, form an exact integer below 10**15 (one matrix-vector
product with powers of ten, exact in float64), and one correctly rounded division by a power of ten
gives the value (the classic fast path of decimal conversion). Other tokens (exponents such as
``9.276937E-05``, longer numbers, anything malformed) are checked against a strict pattern and
converted with ``float``, one by one.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

__all__ = ["parse_decimal_table", "parse_tokens_at", "tokens_to_float", "NUMBER_PATTERN"]

NUMBER_PATTERN = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_FIELD = re.compile(rb"[^ \n]*")  # a token for parse_tokens_at: up to the next space or LF
_WIDTH = 16  # characters looked at per token: a plain token has at most 15, then its terminator
_POW10 = 10.0 ** np.arange(23)
_SLOT_WEIGHT = 10.0 ** np.arange(_WIDTH - 2, -1, -1)  # character j weighs 10**(14 - j)
_ALLOWED_BYTES = b"0123456789.+-eE \t\n"
_CHUNK = 8192  # tokens converted together: the (16, chunk) work arrays stay in the CPU cache


def _columns_at(c: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """``(16, n)`` uint8: column ``i`` holds ``c[starts[i] : starts[i] + 16]`` (zeros past the end of ``c``)."""
    if starts.size and int(starts.max()) + _WIDTH > c.size:
        padded = np.zeros(int(starts.max()) + _WIDTH, np.uint8)
        padded[: c.size] = c
        c = padded
    c = np.ascontiguousarray(c)
    windows = np.ndarray((c.size - _WIDTH + 1,), np.dtype((np.void, _WIDTH)), buffer=c, strides=(1,))
    return np.ascontiguousarray(windows[starts].view(np.uint8).reshape(-1, _WIDTH).T)


def _plain_values(chars: np.ndarray, inside: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values of the tokens in the columns of ``chars`` (``(16, n)`` uint8; ``inside`` marks each
    token's characters, a prefix of its column) and whether each is plain (otherwise its value is
    meaningless)."""
    digit = chars - np.uint8(48)  # zeros and other bytes wrap to >= 10
    is_digit = digit < 10
    is_digit &= inside
    is_dot = chars == 46
    is_dot &= inside
    after_dot = np.empty_like(is_dot)
    after_dot[0] = False
    for j in range(1, _WIDTH):
        np.logical_or(after_dot[j - 1], is_dot[j - 1], out=after_dot[j])
    length = np.add.reduce(inside, axis=0, dtype=np.uint8)
    n_digit = np.add.reduce(is_digit, axis=0, dtype=np.uint8)
    n_dot = np.add.reduce(is_dot, axis=0, dtype=np.uint8)
    neg = chars[0] == 45
    sign = neg | (chars[0] == 43)
    # the characters are the digits, at most one dot and a leading sign; at most 15 of them
    plain = (n_digit >= 1) & (n_dot <= 1) & (n_digit + n_dot + sign == length) & ~inside[_WIDTH - 1]
    digit *= is_digit
    after_dot &= is_digit
    n_frac = np.add.reduce(after_dot, axis=0, dtype=np.uint8)
    digit += digit * np.uint8(9) * after_dot  # digits after the dot count ten times: no gap at the dot
    # integer < 10**15: the number times 10**(16 - length) with a dot, 10**(15 - length) without
    scaled = _SLOT_WEIGHT @ digit[: _WIDTH - 1].astype(np.float64)
    exponent = np.where(n_dot > 0, 16 + n_frac.astype(np.int16), 15) - length
    val = scaled / _POW10[np.clip(exponent, 0, 22)]  # one correctly rounded division
    np.negative(val, out=val, where=neg)
    return val, plain


def parse_tokens_at(c: np.ndarray, starts: np.ndarray, raw=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tokens ``c[starts[i]:ends[i]]`` that run from ``starts[i]`` to the next space or LF.

    ``c`` is the text as uint8, ``raw`` the same as a bytes-like object if at hand. Returns ``values``
    (float64), ``ends`` (the offset of each token's terminator, or of the end of ``c``) and ``ok``
    (the token is a finite number). Empty tokens are not ok.
    """
    n = starts.size
    values = np.empty(n, np.float64)
    ends = np.empty(n, np.int64)
    ok = np.empty(n, bool)
    for a in range(0, n, _CHUNK):
        s = starts[a : a + _CHUNK]
        chars = _columns_at(c, s)
        inside = (chars != 32) & (chars != 10)
        for j in range(1, _WIDTH):
            np.logical_and(inside[j - 1], inside[j], out=inside[j])
        values[a : a + _CHUNK], ok[a : a + _CHUNK] = _plain_values(chars, inside)
        ends[a : a + _CHUNK] = s + np.add.reduce(inside, axis=0, dtype=np.uint8)
    odd = np.flatnonzero(~ok)
    if odd.size:  # exponents, long tokens, anything unusual: one by one
        raw = c if raw is None else raw
        for i in odd.tolist():
            token = _FIELD.match(raw, int(starts[i])).group()
            ends[i] = starts[i] + len(token)
            if NUMBER_PATTERN.fullmatch(token):
                values[i] = float(token)
                ok[i] = np.isfinite(values[i])
    return values, ends, ok


def tokens_to_float(c: np.ndarray, starts: np.ndarray, ends: np.ndarray, raw=None) -> np.ndarray | None:
    """Values of the tokens ``c[starts[i]:ends[i]]`` (``c``: the text as uint8, ``raw``: the same as
    bytes if at hand), or ``None`` if one is not a finite number. Tokens must be non-empty."""
    n = starts.size
    values = np.empty(n, np.float64)
    plain = np.empty(n, bool)
    rows = np.arange(_WIDTH, dtype=np.int64)[:, None]
    for a in range(0, n, _CHUNK):
        s, e = starts[a : a + _CHUNK], ends[a : a + _CHUNK]
        inside = rows < (e - s)
        values[a : a + _CHUNK], plain[a : a + _CHUNK] = _plain_values(_columns_at(c, s), inside)
    odd = np.flatnonzero(~plain)
    if odd.size:
        raw = c.tobytes() if raw is None else raw
        for i in odd.tolist():
            token = bytes(raw[starts[i] : ends[i]])
            if not NUMBER_PATTERN.fullmatch(token):
                return None
            values[i] = float(token)
        if not np.isfinite(values[odd]).all():
            return None
    return values


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
