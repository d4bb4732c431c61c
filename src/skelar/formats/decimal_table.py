"""Vectorised, exact parsing of decimal numbers in text (the bulk of text skeleton files).

* :func:`parse_tokens_at` converts the tokens that start at given offsets of a text and run to the
  next space, line feed or other control byte, and says where each ends: the way to walk the fields
  of many lines at once.
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
_FIELD = re.compile(rb"[^\x00-\x20]*")  # a token for parse_tokens_at: up to the next space, LF or control byte
_WIDTH = 16  # characters looked at per token: a plain token has at most 15, then its terminator
_NARROW = 12  # first pass of parse_tokens_at: tokens of at most 11 characters (nearly all of them)
# divisors 10**e (e < 32), negated at index 32 + e: the sign rides on the one division
_SIGNED_POW10 = np.concatenate([10.0 ** np.minimum(np.arange(32), 22), -(10.0 ** np.minimum(np.arange(32), 22))])
_ALLOWED_BYTES = b"0123456789.+-eE \t\n"
_CHUNK = 16384  # tokens converted together: the work arrays stay in the CPU caches


def _columns_at(c: np.ndarray, starts: np.ndarray, width: int = _WIDTH) -> np.ndarray:
    """``(width, n)`` uint8: column ``i`` holds ``c[starts[i] : starts[i] + width]`` (zeros past the end of ``c``)."""
    if starts.size and int(starts.max()) + width > c.size:
        padded = np.zeros(int(starts.max()) + width, np.uint8)
        padded[: c.size] = c
        c = padded
    c = np.ascontiguousarray(c)
    windows = np.ndarray((c.size - width + 1,), np.dtype((np.void, width)), buffer=c, strides=(1,))
    return np.ascontiguousarray(windows[starts].view(np.uint8).reshape(-1, width).T)


def _plain_values(chars: np.ndarray, inside: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values of the tokens in the columns of ``chars`` (``(W, n)`` uint8; ``inside`` marks each
    token's characters, a prefix of its column), whether each is plain (otherwise its value is
    meaningless) and the token lengths (uint8)."""
    width = chars.shape[0]
    digit = chars - np.uint8(48)  # zeros and other bytes wrap to >= 10
    is_digit = digit < 10
    is_digit &= inside
    is_dot = chars == 46
    is_dot &= inside
    length = np.add.reduce(inside, axis=0, dtype=np.uint8)
    n_digit = np.add.reduce(is_digit, axis=0, dtype=np.uint8)
    n_dot = np.add.reduce(is_dot, axis=0, dtype=np.uint8)
    neg = chars[0] == 45
    sign = neg | (chars[0] == 43)
    # the characters are the digits, at most one dot and a leading sign; fewer than `width` of them
    plain = (n_digit >= 1) & (n_dot <= 1) & (n_digit + n_dot + sign == length) & ~inside[width - 1]
    after_dot = np.empty_like(is_dot)
    after_dot[0] = False
    for j in range(1, width):
        np.logical_or(after_dot[j - 1], is_dot[j - 1], out=after_dot[j])
    after_dot &= is_digit
    n_frac = np.add.reduce(after_dot, axis=0, dtype=np.uint8)
    # digits count once before the dot and ten times after it (no gap at the dot); the rest not at all
    factor = after_dot.view(np.uint8) * np.uint8(9)
    factor += is_digit.view(np.uint8)
    digit *= factor
    # an integer below 10**(width - 1): the number times 10**(width - length), with a dot, or
    # 10**(width - 1 - length) without (both exact in float64 for width <= 16)
    scaled = _slot_weights(width) @ digit[: width - 1].astype(np.float64)
    exponent = np.uint8(width - 1) - length + n_dot * (n_frac + np.uint8(1))  # in [0, 31] when plain
    exponent &= np.uint8(31)
    exponent |= neg.view(np.uint8) << np.uint8(5)
    val = scaled / _SIGNED_POW10[exponent]  # one correctly rounded division (by -10**e for a minus sign)
    return val, plain, length


def _slot_weights(width: int) -> np.ndarray:
    return 10.0 ** np.arange(width - 2, -1, -1)


def _convert_at(c: np.ndarray, starts: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``_plain_values`` of the tokens from ``starts`` to the next byte <= 32, ``width`` characters looked at."""
    chars = _columns_at(c, starts, width)
    inside = chars > 32  # up to the first space or LF (or other control byte: never part of a number)
    for j in range(1, width):
        np.logical_and(inside[j - 1], inside[j], out=inside[j])
    return _plain_values(chars, inside)


def parse_tokens_at(c: np.ndarray, starts: np.ndarray, raw=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tokens ``c[starts[i]:ends[i]]`` that run from ``starts[i]`` to the next byte <= 32 (space, LF,
    another control byte: the caller checks that it is the separator it expects).

    ``c`` is the text as uint8, ``raw`` the same as a bytes-like object if at hand. Returns ``values``
    (float64), ``ends`` (the offset of each token's terminator, or of the end of ``c``) and ``ok``
    (the token is a finite number). Empty tokens are not ok.
    """
    n = starts.size
    values = np.empty(n, np.float64)
    ok = np.empty(n, bool)
    length = np.empty(n, np.uint8)
    step = max(1, -(-n // max(1, -(-n // _CHUNK))))  # equal chunks of at most _CHUNK: no small last one
    for a in range(0, n, step):
        values[a : a + step], ok[a : a + step], length[a : a + step] = _convert_at(c, starts[a : a + step], _NARROW)
    ends = starts + length
    longer = np.flatnonzero(~ok & (length == _NARROW))
    if longer.size:  # tokens of 12 to 15 characters: once more, looking further
        v, p, ln = _convert_at(c, starts[longer], _WIDTH)
        values[longer], ok[longer], ends[longer] = v, p, starts[longer] + ln
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
        values[a : a + _CHUNK], plain[a : a + _CHUNK], _ = _plain_values(_columns_at(c, s), inside)
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
