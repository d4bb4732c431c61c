"""NTU RGB+D ``.skeleton`` files: a strict, vectorised reader, a writer and the sample-name parser.

The official text layout (Kinect v2, one file per recording)::

    <numFrames>
    per frame:  <numBodies>                     (0 allowed)
      per body: <bodyID> + 9 body-info fields   (clippedEdges handLeftConfidence handLeftState
                                                 handRightConfidence handRightState isRestricted
                                                 leanX leanY trackingState)
                <numJoints>                     (always 25)
                25 lines of 12 fields           (x y z depthX depthY colorX colorY
                                                 orientW orientX orientY orientZ trackingState)

Files in the canonical layout (LF line ends, one final LF, fields separated by single spaces: every
official file) are parsed by NumPy code, many files at once (:func:`read_ntu_skeletons`) and with no
Python work per line: the line ends are found in one pass; the body and joint counts are the lines of
at most two characters, and their chain must tile each file exactly; the fields of all joint lines are
then converted together, field after field (:func:`skelar.formats.decimal_table.parse_tokens_at`),
optionally only the fields a pipeline needs. A file this path does not accept goes to a line-by-line
validating path, which accepts unusual but valid spacing (CRLF, blank lines at the end, repeated
spaces) and otherwise raises :class:`NtuSkeletonError` with the message ``"<file>:<line>: <what is
wrong>"``. Values are exactly Python's ``float()`` of each field (then float32 for the joints).
"""

from __future__ import annotations

import os
import re
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from skelar.formats.decimal_table import NUMBER_PATTERN, parse_decimal_table, parse_tokens_at

__all__ = [
    "NUM_JOINTS",
    "JOINT_FIELDS",
    "BODY_INFO_FIELDS",
    "NtuSkeletonError",
    "NtuSkeleton",
    "read_ntu_skeleton",
    "read_ntu_skeletons",
    "parse_ntu_skeleton",
    "write_ntu_skeleton",
    "format_ntu_skeleton",
    "parse_ntu_name",
    "NTU_NAME_RE",
]

NUM_JOINTS = 25
MAX_BODIES = 16  # Kinect v2 tracks at most 6; larger counts are treated as corruption
JOINT_FIELDS = ("x", "y", "z", "depthX", "depthY", "colorX", "colorY",
                "orientW", "orientX", "orientY", "orientZ", "trackingState")
BODY_INFO_FIELDS = ("clippedEdges", "handLeftConfidence", "handLeftState", "handRightConfidence",
                    "handRightState", "isRestricted", "leanX", "leanY", "trackingState")
_UINT64_MAX = 2**64 - 1
NTU_NAME_RE = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")


class NtuSkeletonError(ValueError):
    """A malformed ``.skeleton`` file; the message is ``"<file>:<line>: <what is wrong>"``."""

    def __init__(self, path: str, line: int, what: str):
        super().__init__(f"{path}:{line}: {what}")
        self.path, self.line, self.what = path, line, what


@dataclass
class NtuSkeleton:
    """One parsed ``.skeleton`` file, flattened over body entries (``B`` = bodies summed over frames)."""

    path: str
    num_frames: int
    body_counts: np.ndarray  # (F,) int64: bodies listed in each frame (0 allowed)
    frame_index: np.ndarray  # (B,) int64: frame of each body entry
    slot: np.ndarray  # (B,) int64: position of the body within its frame
    body_id: np.ndarray  # (B,) uint64: Kinect tracking id
    body_info: np.ndarray  # (B, 9) float64: the 9 fields after bodyID
    joints: np.ndarray  # (B, 25, 12) float32: JOINT_FIELDS per joint

    @property
    def num_bodies(self) -> int:
        """Number of body entries (summed over frames)."""
        return int(len(self.body_id))

    @property
    def xyz(self) -> np.ndarray:
        """``(B, 25, 3)`` camera-space coordinates in metres."""
        return self.joints[:, :, :3]



# -- reading ------------------------------------------------------------------------------------

def read_ntu_skeleton(path: str | os.PathLike, fields: Sequence[str] | None = None) -> NtuSkeleton:
    """Read and validate one NTU RGB+D ``.skeleton`` file.

    ``fields`` (names from :data:`JOINT_FIELDS`) limits which joint fields are converted, e.g.
    ``("x", "y", "z")`` for a pipeline that only needs positions: several times faster. The other joint
    fields and ``body_info`` are then NaN and not validated beyond the number of fields in the file.
    The structure (frame, body and joint counts, bodyIDs) and the requested fields are always fully
    validated.
    """
    path = str(path)
    try:
        data = Path(path).read_bytes()
    except IsADirectoryError:
        raise NtuSkeletonError(path, 0, _IS_DIRECTORY) from None
    return parse_ntu_skeleton(data, path, fields)


def parse_ntu_skeleton(data: bytes, path: str = "<bytes>", fields: Sequence[str] | None = None) -> NtuSkeleton:
    """Parse the bytes of a ``.skeleton`` file (``path`` is only used in error messages)."""
    columns = _columns(fields)
    buf = np.zeros(_padded(len(data)), np.uint8)
    buf[: len(data)] = np.frombuffer(data, np.uint8)
    out = _parse_buffer(buf, [0], [len(data)], [path], columns)[0]
    if isinstance(out, NtuSkeletonError):
        raise out
    return out


def read_ntu_skeletons(paths: Sequence[str | os.PathLike], fields: Sequence[str] | None = None
                       ) -> list[NtuSkeleton | NtuSkeletonError]:
    """Read several files; a malformed or unreadable file gives its :class:`NtuSkeletonError` in place.

    Same results as :func:`read_ntu_skeleton` file by file, but the files are read into one buffer and
    parsed together by vectorised code, which is much faster for many small files.
    """
    columns = _columns(fields)
    out: list[NtuSkeleton | NtuSkeletonError] = []
    for a in range(0, len(paths), _FILES_PER_PASS):
        out.extend(_read_group([str(p) for p in paths[a : a + _FILES_PER_PASS]], columns))
    return out


_IS_DIRECTORY = "is a directory, not a .skeleton file"
_FILES_PER_PASS = 32  # files parsed together: enough to spread NumPy's per-call cost, small enough for the cache
_PAD = 64  # zero bytes after the text: fixed-width windows never run past the buffer
_BLOCK = 2 + NUM_JOINTS  # lines per body: body-info line, joint count, joint lines


def _padded(size: int) -> int:
    return (size + _PAD + 63) // 64 * 64


_buffers = threading.local()


def _group_buffer(size: int, kind: str = "text") -> np.ndarray:
    """A uint8 buffer of ``size`` bytes (``kind``: "text" for the files, "mask" for byte comparisons),
    reused from group to group within a thread: a fresh one would cost a page fault per 4 KiB, a
    tenth of the reading time. Nothing returned to callers refers to it."""
    buf = getattr(_buffers, kind, None)
    if buf is None or buf.size < size:
        buf = np.empty(max(size, 1 << 20), np.uint8)
        setattr(_buffers, kind, buf)
    return buf[:size]


def _equal(buf: np.ndarray, byte: int) -> np.ndarray:
    """``buf == byte`` as bool, in the reused mask buffer."""
    return np.equal(buf, np.uint8(byte), out=_group_buffer(buf.size, "mask").view(bool))


def _read_group(paths: list[str], columns: list[int] | None) -> list[NtuSkeleton | NtuSkeletonError]:
    """Read ``paths`` back to back into one zero-padded buffer and parse them."""
    out: list = [None] * len(paths)
    sizes = []
    for i, p in enumerate(paths):
        try:
            st = os.stat(p)
            if stat.S_ISDIR(st.st_mode):
                out[i] = NtuSkeletonError(p, 0, _IS_DIRECTORY)
            sizes.append(st.st_size)
        except OSError as e:
            out[i] = NtuSkeletonError(p, 0, f"cannot read: {e.strerror or e}")
            sizes.append(0)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    buf = _group_buffer(_padded(offsets[-1]))
    buf[offsets[-1] :] = 0
    todo = []
    for i, p in enumerate(paths):
        if out[i] is not None:
            continue
        try:
            with open(p, "rb", buffering=0) as f:
                got = f.readinto(buf[offsets[i] : offsets[i] + sizes[i]])
                changed = got != sizes[i] or f.read(1)
        except OSError as e:
            out[i] = NtuSkeletonError(p, 0, f"cannot read: {e.strerror or e}")
            continue
        if changed:  # the file changed size while being read: read it again on its own
            try:
                out[i] = parse_ntu_skeleton(Path(p).read_bytes(), p, [JOINT_FIELDS[k] for k in columns] if columns else None)
            except (NtuSkeletonError, OSError) as e:
                out[i] = e if isinstance(e, NtuSkeletonError) else NtuSkeletonError(p, 0, f"cannot read: {e}")
            continue
        todo.append(i)
    if todo:
        done = _parse_buffer(buf, [offsets[i] for i in todo], [sizes[i] for i in todo], [paths[i] for i in todo], columns)
        for i, r in zip(todo, done):
            out[i] = r
    return out


def _parse_buffer(buf: np.ndarray, offsets: list[int], sizes: list[int], paths: list[str],
                  columns: list[int] | None) -> list[NtuSkeleton | NtuSkeletonError]:
    """Parse the files ``buf[offsets[i] : offsets[i] + sizes[i]]`` (in increasing order; ``buf`` has at
    least ``_PAD`` bytes after the last, which may be overwritten).

    Files in the canonical layout (LF line ends, one final LF, single spaces) go through the vectorised
    path together; any file it does not accept is parsed on its own by the line-by-line validating
    path, which either accepts it (unusual but valid spacing) or names the first bad line.
    """
    n = len(paths)
    out: list = [None] * n
    end = [o + s for o, s in zip(offsets, sizes)]
    canonical = [s > 0 and buf[e - 1] == 10 and not (s > 1 and buf[e - 2] == 10) for s, e in zip(sizes, end)]
    total = end[-1] if n else 0
    if np.count_nonzero(_equal(buf[:total], 13)):
        canonical = [ok and not np.count_nonzero(buf[o:e] == 13) for ok, o, e in zip(canonical, offsets, end)]
    fast = [i for i in range(n) if canonical[i]]
    if fast:
        back_to_back = len(fast) == n and all(end[i] == offsets[i + 1] for i in range(n - 1))
        if not back_to_back:  # the canonical files alone, back to back, zeros after them
            parts = [buf[offsets[i] : end[i]] for i in fast]
            sub = np.zeros(_padded(sum(p.size for p in parts)), np.uint8)
            np.concatenate(parts, out=sub[: sum(p.size for p in parts)])
            sub_offsets = np.concatenate([[0], np.cumsum([p.size for p in parts])[:-1]]).tolist()
        else:
            sub, sub_offsets = buf, offsets
            buf[end[-1] :] = 0  # nothing after the last file (a file skipped by the caller may lie there)
        for i, r in zip(fast, _parse_canonical(sub, sub_offsets, [sizes[i] for i in fast], [paths[i] for i in fast], columns)):
            out[i] = r
    for i in range(n):
        if out[i] is None:
            try:
                out[i] = _parse_careful(buf[offsets[i] : end[i]].tobytes(), paths[i], columns)
            except NtuSkeletonError as e:
                out[i] = e
    return out


def _newlines(buf: np.ndarray, total: int) -> np.ndarray:
    """Offsets of the LF bytes in ``buf[:total]`` (``buf`` is zero beyond ``total``, its size a multiple of 64)."""
    bits = np.packbits(_equal(buf, 10), bitorder="little").view(np.uint64)  # bit j of word w: buf[64w + j] is an LF
    w = np.flatnonzero(bits != 0)
    word = bits[w]
    count = np.bitwise_count(word).astype(np.int64)
    first = np.cumsum(count) - count  # where the LFs of each word go in the output
    out = np.empty(int(first[-1] + count[-1]) if w.size else 0, np.int64)
    base = w * 64
    low = word & (~word + np.uint64(1))  # the lowest LF of every word
    out[first] = base + np.bitwise_count(low - np.uint64(1))
    more = np.flatnonzero(count > 1)  # words with several LFs (short lines): one LF per round
    word, base, first = word[more] ^ low[more], base[more], first[more]
    k = 1
    while word.size:
        low = word & (~word + np.uint64(1))
        out[first + k] = base + np.bitwise_count(low - np.uint64(1))
        word ^= low
        keep = word != 0
        word, base, first = word[keep], base[keep], first[keep]
        k += 1
    return out


def _body_ids(buf: np.ndarray, starts: np.ndarray, line_end: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """bodyIDs at ``starts`` (digits up to the first space): values (uint64), offsets of the space, ok."""
    width = 24
    windows = np.ndarray((buf.size - width + 1,), np.dtype((np.void, width)), buffer=buf, strides=(1,))
    chars = windows[starts].view(np.uint8).reshape(-1, width)
    space = chars == 32
    k = space.argmax(axis=1)
    digit = chars.astype(np.int64) - 48
    inside = np.arange(width) < k[:, None]
    ok = space[np.arange(k.size), k] & (k >= 1) & (k <= 20) & (starts + k < line_end)
    ok &= (((digit >= 0) & (digit <= 9)) | ~inside).all(axis=1)
    digit[~inside] = 0
    # left-aligned in 19 places, then divided down: exact in uint64 for up to 19 digits
    scaled = digit[:, :19].astype(np.uint64) @ (np.uint64(10) ** np.arange(18, -1, -1, dtype=np.uint64))
    ids = scaled // (np.uint64(10) ** np.clip(19 - k, 0, 19).astype(np.uint64))
    for i in np.flatnonzero(ok & (k == 20)).tolist():  # 20 digits: may exceed 2**64 - 1
        v = int(buf[starts[i] : starts[i] + 20].tobytes())
        ok[i] = v <= _UINT64_MAX
        ids[i] = v if ok[i] else 0
    return ids, starts + k, ok


def _parse_canonical(buf: np.ndarray, offsets: list[int], sizes: list[int], paths: list[str],
                     columns: list[int] | None) -> list[NtuSkeleton | None]:
    """The vectorised path for files in the canonical layout, back to back in ``buf``, each ending in
    LF; ``None`` for a file it does not accept (the caller then uses the validating path)."""
    nf = len(paths)
    total = offsets[-1] + sizes[-1]
    nl = _newlines(buf, total)
    line_end = nl
    line_start = np.empty_like(nl)
    line_start[0] = 0
    line_start[1:] = nl[:-1] + 1
    first_line = np.searchsorted(nl, offsets)
    next_file_line = np.append(first_line[1:], nl.size)
    bad = np.zeros(nf, bool)

    # frame counts: the first line of each file
    num_frames = np.zeros(nf, np.int64)
    for i in range(nf):
        head = buf[offsets[i] : nl[first_line[i]]].tobytes()
        if head.isdigit() and len(head) <= 6 and int(head) > 0:
            num_frames[i] = int(head)
        else:
            bad[i] = True

    # the short lines are the body counts and the joint counts ("25"); the chain of body counts must
    # tile each file exactly: frame line, then 27 lines per body, up to the next frame line
    length = line_end - line_start
    short = length <= 2
    short[first_line] = False
    idx = np.flatnonzero(short)
    a = buf[line_start[idx]].astype(np.int64) - 48
    b = buf[line_start[idx] + 1].astype(np.int64) - 48
    two = length[idx] == 2
    is25 = two & (a == 2) & (b == 5)
    frame = ~is25
    fl, a, b, two = idx[frame], a[frame], b[frame], two[frame]
    count_ok = (length[fl] >= 1) & (a >= 0) & (a <= 9) & (~two | ((b >= 0) & (b <= 9)))
    nb = np.where(two, 10 * a + b, a)
    count_ok &= nb <= MAX_BODIES
    file_of = np.searchsorted(first_line, fl, side="right") - 1
    bad[file_of[~count_ok]] = True
    bad |= np.bincount(file_of, minlength=nf) != num_frames
    if fl.size:
        last = np.empty(fl.size, bool)
        last[-1] = True
        np.not_equal(file_of[1:], file_of[:-1], out=last[:-1])
        first = np.empty(fl.size, bool)
        first[0] = True
        first[1:] = last[:-1]
        following = np.empty_like(fl)
        following[:-1] = fl[1:]
        following[last] = next_file_line[file_of[last]]
        bad[file_of[fl + 1 + _BLOCK * nb != following]] = True
        bad[file_of[first & (fl != first_line[file_of] + 1)]] = True
    keep = ~bad[file_of]
    fl, nb, file_of = fl[keep], nb[keep], file_of[keep]
    frames_before = np.cumsum(nb) - nb
    slot = np.arange(int(nb.sum())) - np.repeat(frames_before, nb)
    body = np.repeat(fl + 1, nb) + _BLOCK * slot
    file_of_body = np.repeat(file_of, nb)
    joint_count = np.zeros(nl.size + 1, bool)
    joint_count[idx[is25]] = True
    bad[file_of_body[~joint_count[body + 1]]] = True
    bad |= np.bincount(np.searchsorted(first_line, idx[is25], side="right") - 1, minlength=nf) != \
        np.bincount(file_of_body, minlength=nf)

    ids, id_end, ids_ok = _body_ids(buf, line_start[body], line_end[body])
    bad[file_of_body[~ids_ok]] = True
    bodies_per_file = np.bincount(file_of_body, minlength=nf)
    if columns is not None:  # the unconverted fields are only counted: 9 + 11 * 25 spaces per body
        space = _equal(buf[:total], 32)
        for i in np.flatnonzero(~bad).tolist():
            bad[i] = np.count_nonzero(space[offsets[i] : offsets[i] + sizes[i]]) != bodies_per_file[i] * (9 + 11 * NUM_JOINTS)

    # the numbers: the fields of all joint lines at once, field after field
    rows = (body[:, None] + (2 + np.arange(NUM_JOINTS))).ravel()
    file_of_row = np.repeat(file_of_body, NUM_JOINTS)
    wanted = list(range(12)) if columns is None else columns
    values = np.full((rows.size, 12), np.nan, np.float32)
    starts = line_start[rows]
    text = buf[:total]  # what the one-by-one conversion of unusual tokens may look at
    for k in range(wanted[-1] + 1):
        v, ends, ok = parse_tokens_at(buf, starts, text)
        ok &= buf[ends] == (10 if k == 11 else 32)
        bad[file_of_row[~ok]] = True
        if k in wanted:
            with np.errstate(over="ignore"):
                values[:, k] = v
        starts = np.minimum(ends + 1, total)
    beyond = ~np.isfinite(values[:, wanted]).all(axis=1)  # finite in float64 but beyond float32
    bad[file_of_row[beyond]] = True
    info = None
    if columns is None:
        info = np.empty((body.size, 9), np.float64)
        starts = np.minimum(id_end + 1, total)
        for k in range(9):
            info[:, k], ends, ok = parse_tokens_at(buf, starts, text)
            ok &= buf[ends] == (10 if k == 8 else 32)
            bad[file_of_body[~ok]] = True
            starts = np.minimum(ends + 1, total)

    # every file's arrays are slices of the batch's (disjoint views)
    joints = values.reshape(-1, NUM_JOINTS, 12)
    if info is None:
        info = np.full((body.size, 9), np.nan)
    frame_lo = np.searchsorted(file_of, np.arange(nf))
    frame_hi = np.searchsorted(file_of, np.arange(nf), side="right")
    frame_index = np.repeat(np.arange(fl.size) - frame_lo[file_of], nb)
    body_hi = np.cumsum(bodies_per_file).tolist()
    out: list[NtuSkeleton | None] = [None] * nf
    for i in np.flatnonzero(~bad).tolist():
        b0, b1 = body_hi[i] - int(bodies_per_file[i]), body_hi[i]
        out[i] = NtuSkeleton(
            path=paths[i],
            num_frames=int(num_frames[i]),
            body_counts=nb[frame_lo[i] : frame_hi[i]],
            frame_index=frame_index[b0:b1],
            slot=slot[b0:b1],
            body_id=ids[b0:b1],
            body_info=info[b0:b1],
            joints=joints[b0:b1],
        )
    return out


# -- the validating path -------------------------------------------------------------------------

def _count(lines: list[bytes], i: int, path: str, what: str) -> int:
    if i >= len(lines):
        raise NtuSkeletonError(path, i + 1, f"unexpected end of file: expected {what}")
    tok = lines[i].strip()
    if not tok.isdigit():
        shown = tok[:40].decode("ascii", "replace")
        raise NtuSkeletonError(path, i + 1, f"expected {what} (a non-negative integer), got {shown!r}")
    return int(tok)


def _bad_token_message(toks: list[bytes], ncols: int, what: str) -> str | None:
    if len(toks) != ncols:
        return f"expected {ncols} fields in {what}, got {len(toks)}"
    for k, t in enumerate(toks):
        if not NUMBER_PATTERN.fullmatch(t):
            return f"field {k + 1} of {what} is not a number: {t[:40].decode('ascii', 'replace')!r}"
        if not np.isfinite(float(t)):
            return f"field {k + 1} of {what} is not finite: {t.decode('ascii', 'replace')!r}"
    return None


def _parse_rows(data: bytes, line_start: np.ndarray, line_end: np.ndarray, first_rows: list[int],
                block: int, ncols: int, path: str, what: str, skip_first_token: bool = False,
                columns: list[int] | None = None) -> np.ndarray:
    """Parse ``block`` consecutive lines from each of ``first_rows`` into ``(len*block, ncols)`` float64."""
    starts = line_start[first_rows].tolist()
    ends = line_end[np.asarray(first_rows) + block - 1].tolist()
    chunks = [data[a:b] for a, b in zip(starts, ends)]
    if skip_first_token:
        chunks = [c.lstrip().partition(b" ")[2] for c in chunks]
    n = len(first_rows) * block
    values = parse_decimal_table(b"\n".join(chunks), n, ncols, columns)
    if values is not None:
        return values
    # slow, validating path: name the first bad line (or accept unusual but valid spacing)
    out = np.empty((n, ncols), np.float64)
    r = 0
    for first, chunk in zip(first_rows, chunks):
        for j, line in enumerate(chunk.split(b"\n")):
            toks = line.split()
            if skip_first_token and line.strip() == b"":
                toks = []
            msg = _bad_token_message(toks, ncols, what)
            if msg is not None:
                raise NtuSkeletonError(path, first + j + 1, msg)
            out[r] = [float(t) for t in toks]
            r += 1
    return out if columns is None else out[:, columns]


def _walk_careful(lines: list[bytes], num_frames: int, path: str) -> tuple[list[int], list[int]]:
    """Body counts and body-line indices, line by line, tolerating unusual spacing and naming the
    first structural error."""
    counts = [0] * num_frames
    bodies: list[int] = []
    i = 1
    n_lines = len(lines)
    for f in range(num_frames):
        nb = _count(lines, i, path, f"the body count of frame {f + 1}")
        if nb > MAX_BODIES:
            raise NtuSkeletonError(path, i + 1, f"body count {nb} of frame {f + 1} exceeds {MAX_BODIES}")
        counts[f] = nb
        i += 1
        for b in range(nb):
            if i >= n_lines:
                raise NtuSkeletonError(path, i + 1, f"unexpected end of file: expected body {b + 1} of frame {f + 1}")
            _body_id(lines, i, path)
            nj = _count(lines, i + 1, path, "the joint count")
            if nj != NUM_JOINTS:
                raise NtuSkeletonError(path, i + 2, f"joint count {nj}, expected {NUM_JOINTS}")
            if i + 2 + NUM_JOINTS > n_lines:
                raise NtuSkeletonError(path, n_lines, f"unexpected end of file inside the joints of frame {f + 1}")
            bodies.append(i)
            i += 2 + NUM_JOINTS
    for k in range(i, n_lines):
        if lines[k].strip():
            raise NtuSkeletonError(path, k + 1, f"unexpected data after the last frame ({num_frames} frames)")
    return counts, bodies


def _body_id(lines: list[bytes], i: int, path: str) -> int:
    tok = lines[i].split(None, 1)
    if not tok or not tok[0].isdigit() or len(tok[0]) > 20 or int(tok[0]) > _UINT64_MAX:
        shown = (tok[0] if tok else b"")[:40].decode("ascii", "replace")
        raise NtuSkeletonError(path, i + 1, f"expected a bodyID (unsigned 64-bit integer), got {shown!r}")
    return int(tok[0])


def _columns(fields: Sequence[str] | None) -> list[int] | None:
    if fields is None:
        return None
    unknown = [f for f in fields if f not in JOINT_FIELDS]
    if unknown:
        raise ValueError(f"unknown joint field(s) {unknown}; known: {', '.join(JOINT_FIELDS)}")
    return sorted({JOINT_FIELDS.index(f) for f in fields})



@dataclass
class _Scan:
    """The structure of one file: its (LF-normalised) bytes, line bounds, body counts and body lines."""

    path: str
    data: bytes
    line_start: np.ndarray  # byte offset of every line (trailing blank lines excluded)
    line_end: np.ndarray
    num_frames: int
    counts: list[int]
    bodies: list[int]  # line index of each body-info line
    ids: list[int]


def _line_bounds(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    c = np.frombuffer(data, np.uint8)
    line_end = np.flatnonzero(c == 10)
    if not data.endswith(b"\n"):
        line_end = np.append(line_end, len(data))
    return np.concatenate([[0], line_end[:-1] + 1]), line_end



def _scan_careful(data: bytes, path: str) -> _Scan:
    """Validate the structure line by line, tolerating unusual spacing; raise naming the first problem."""
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    lines = data.split(b"\n")
    while lines and not lines[-1].strip():  # trailing blank lines are not content
        lines.pop()
    if not lines:
        raise NtuSkeletonError(path, 1, "empty file")
    num_frames = _count(lines, 0, path, "the frame count")
    if num_frames == 0:
        raise NtuSkeletonError(path, 1, "frame count is 0")
    if num_frames > len(lines) - 1:  # every frame needs at least its body-count line
        raise NtuSkeletonError(path, 1, f"frame count {num_frames} but only {len(lines) - 1} lines follow "
                                        "(truncated file?)")
    counts, bodies = _walk_careful(lines, num_frames, path)
    ids = [_body_id(lines, i, path) for i in bodies]
    line_start, line_end = _line_bounds(data)
    return _Scan(path, data, line_start[: len(lines)], line_end[: len(lines)], num_frames, counts, bodies, ids)



def _build(scan: _Scan, joints: np.ndarray | None, info: np.ndarray | None, columns: list[int] | None) -> NtuSkeleton:
    body_counts = np.asarray(scan.counts, np.int64)
    B = len(scan.bodies)
    if B:
        cols = list(range(12)) if columns is None else columns
        with np.errstate(over="ignore"):
            values = joints.astype(np.float32)
        if not np.isfinite(values).all():  # finite in float64 but beyond float32
            r = int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0])
            line = scan.bodies[r // NUM_JOINTS] + 2 + r % NUM_JOINTS
            raise NtuSkeletonError(scan.path, line + 1, "a joint value is beyond the float32 range")
        full = np.full((B * NUM_JOINTS, 12), np.nan, np.float32)
        full[:, cols] = values
        joints = full.reshape(B, NUM_JOINTS, 12)
        if info is None:
            info = np.full((B, 9), np.nan)
    else:
        info = np.zeros((0, 9), np.float64)
        joints = np.zeros((0, NUM_JOINTS, 12), np.float32)
    return NtuSkeleton(
        path=scan.path,
        num_frames=scan.num_frames,
        body_counts=body_counts,
        frame_index=np.repeat(np.arange(scan.num_frames, dtype=np.int64), body_counts),
        slot=np.arange(B, dtype=np.int64) - np.repeat(np.cumsum(body_counts) - body_counts, body_counts),
        body_id=np.asarray(scan.ids, np.uint64),
        body_info=info,
        joints=joints,
    )


def _parse_careful(data: bytes, path: str, columns: list[int] | None) -> NtuSkeleton:
    """The validating path: structure line by line, numbers table by table, naming the first bad line."""
    scan = _scan_careful(data, path)
    if not scan.bodies:
        return _build(scan, None, None, columns)
    joints = _parse_rows(scan.data, scan.line_start, scan.line_end, [i + 2 for i in scan.bodies], NUM_JOINTS, 12,
                         scan.path, "a joint line", columns=columns)
    info = None
    if columns is None:
        info = _parse_rows(scan.data, scan.line_start, scan.line_end, scan.bodies, 1, 9, scan.path,
                           "the body-info line", skip_first_token=True)
    return _build(scan, joints, info, columns)


# -- writing ------------------------------------------------------------------------------------

def _format_values(values: np.ndarray, dtype: type) -> list[str]:
    """Rows of space-separated numbers in the official style (7 significant digits, ``E-05``),
    falling back to the shortest round-trip form where 7 digits would not reproduce the value."""
    values = np.asarray(values, dtype=dtype)
    ncols = values.shape[1]
    fmt = " ".join(["%.7g"] * ncols)
    rows = [fmt % tuple(r) for r in values.tolist()]
    back = np.fromstring("\n".join(rows), dtype=np.float64, sep=" ").astype(dtype).reshape(values.shape)
    bad = np.flatnonzero(~((back == values) | (np.isnan(back) & np.isnan(values))).all(axis=1))
    for r in bad.tolist():
        rows[r] = " ".join(np.format_float_positional(v, unique=True, trim="-") if np.float32(v) != 0 or dtype is np.float64
                           else "0" for v in values[r])
    return [s.replace("e", "E") for s in rows]


def format_ntu_skeleton(ske: NtuSkeleton) -> str:
    """The official text of ``ske`` (LF line ends, one newline at the end)."""
    B = ske.num_bodies
    info = _format_values(ske.body_info.reshape(B, 9), np.float64) if B else []
    joints = _format_values(ske.joints.reshape(B * NUM_JOINTS, 12), np.float32) if B else []
    out = [str(int(ske.num_frames))]
    order = np.argsort(ske.frame_index, kind="stable")
    by_frame: dict[int, list[int]] = {}
    for b in order.tolist():
        by_frame.setdefault(int(ske.frame_index[b]), []).append(b)
    for f in range(int(ske.num_frames)):
        bodies = by_frame.get(f, [])
        if len(bodies) != int(ske.body_counts[f]):
            raise ValueError(f"{ske.path}: frame {f} lists {ske.body_counts[f]} bodies but has {len(bodies)} entries")
        out.append(str(len(bodies)))
        for b in bodies:
            out.append(f"{int(ske.body_id[b])} {info[b]}")
            out.append(str(NUM_JOINTS))
            out.extend(joints[b * NUM_JOINTS:(b + 1) * NUM_JOINTS])
    return "\n".join(out) + "\n"


def write_ntu_skeleton(path: str | os.PathLike, ske: NtuSkeleton) -> None:
    """Write ``ske`` in the exact official ``.skeleton`` text layout."""
    Path(path).write_text(format_ntu_skeleton(ske), newline="\n")


# -- names --------------------------------------------------------------------------------------

def parse_ntu_name(name: str) -> dict[str, int]:
    """``"S001C002P003R002A013"`` (optionally with a directory/``.skeleton``) -> setup, camera,
    performer, replication, action (all 1-based ints)."""
    base = os.path.basename(str(name))
    if base.endswith(".skeleton"):
        base = base[: -len(".skeleton")]
    m = NTU_NAME_RE.fullmatch(base)
    if not m:
        raise ValueError(f"{name!r} is not an NTU RGB+D sample name (SsssCcccPpppRrrrAaaa)")
    s, c, p, r, a = (int(g) for g in m.groups())
    return {"setup": s, "camera": c, "performer": p, "replication": r, "action": a}
