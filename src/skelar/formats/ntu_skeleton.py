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

Reading is two passes. The structure (frame, body and joint counts, bodyIDs) is walked in Python,
touching only the count and body lines. The numbers are then converted with vectorised NumPy code
(:mod:`skelar.formats.decimal_table`), for one file or for a batch of files at once
(:func:`read_ntu_skeletons`), optionally only for the fields a pipeline needs. Whenever anything is
unusual, a line-by-line validating pass takes over, so that every defect raises
:class:`NtuSkeletonError` with the message ``"<file>:<line>: <what is wrong>"``. Values are exactly
Python's ``float()`` of each field (then float32 for the joints).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from skelar.formats.decimal_table import NUMBER_PATTERN, parse_decimal_table, parse_first_fields, parse_leading_columns

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
        raise NtuSkeletonError(path, 0, "is a directory, not a .skeleton file") from None
    return parse_ntu_skeleton(data, path, fields)


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


def _scan_fast(data: bytes, path: str) -> _Scan | None:
    """The structure of a file in canonical layout, reading only the count and bodyID lines;
    ``None`` on anything unusual (then :func:`_scan_careful` decides and names the problem)."""
    if not data.endswith(b"\n") or data.endswith(b"\n\n") or b"\r" in data:
        return None
    line_start, line_end = _line_bounds(data)
    le = line_end.tolist()  # line i spans data[le[i - 1] + 1 : le[i]]
    n = len(le)
    head = data[: le[0]]
    if not head.isdigit() or len(head) > 6:
        return None
    num_frames = int(head)
    block = 2 + NUM_JOINTS
    counts = [0] * num_frames
    bodies: list[int] = []
    i = 1
    try:
        for f in range(num_frames):
            s = data[le[i - 1] + 1 : le[i]]
            if not s.isdigit() or len(s) > 2:
                return None
            nb = int(s)
            if nb:
                if nb > MAX_BODIES:
                    return None
                counts[f] = nb
                bodies.extend(range(i + 1, i + 1 + block * nb, block))
            i += 1 + block * nb
    except IndexError:
        return None
    if i != n or num_frames == 0:
        return None
    joint_count = str(NUM_JOINTS).encode()
    if any(data[le[b] + 1 : le[b + 1]] != joint_count for b in bodies):
        return None
    tokens = [data[le[b - 1] + 1 : le[b]].partition(b" ")[0] for b in bodies]
    if not all(t.isdigit() and len(t) <= 20 for t in tokens):
        return None
    ids = [int(t) for t in tokens]
    if ids and max(ids) > _UINT64_MAX:
        return None
    return _Scan(path, data, line_start, line_end, num_frames, counts, bodies, ids)


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


def _scan(data: bytes, path: str) -> _Scan:
    return _scan_fast(data, path) or _scan_careful(data, path)


def _joint_rows(bodies: list[int]) -> np.ndarray:
    return (np.asarray(bodies, np.int64)[:, None] + 2 + np.arange(NUM_JOINTS)).ravel()


def _is_clean(data: bytes, columns: list[int] | None) -> bool:
    """Only number characters, spaces and LF line ends; not checked (always True) when only the
    first fields of the joint lines are read: those are validated one by one, the rest is not used."""
    if columns is not None and columns[-1] < 3:
        return True
    return not data.translate(None, b"0123456789.+-eE \n")


def _fast_numbers(c: np.ndarray, raw: bytes, line_start: np.ndarray, line_end: np.ndarray, joint_rows: np.ndarray,
                  info_rows: np.ndarray | None, columns: list[int] | None, expected_spaces: int
                  ) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Joint values (rows x (12 or k)) and body-info values via the canonical-layout fast paths, or None."""
    k = 12 if columns is None else columns[-1] + 1
    if columns is not None and columns != list(range(k)):
        return None
    if columns is not None and k <= 3:
        # only the first fields are converted; the others are only counted: the whole text must
        # hold 11 separators per joint line and 9 per body line
        if np.count_nonzero(c == 32) != expected_spaces:
            return None
        joints = parse_first_fields(c, line_start[joint_rows], line_end[joint_rows], k, raw)
    else:
        joints = parse_leading_columns(c, line_start[joint_rows], line_end[joint_rows], 12, k, raw)
    if joints is None:
        return None
    info = None
    if info_rows is not None:  # the 9 fields after the bodyID
        sp = np.flatnonzero(c == 32)
        first = np.searchsorted(sp, line_start[info_rows])
        if first.size and first.max() >= sp.size:
            return None
        info = parse_leading_columns(c, sp[first] + 1, line_end[info_rows], 9, 9, raw)
        if info is None:
            return None
    return joints, info


def _spaces(scan: _Scan) -> int:
    return len(scan.bodies) * (9 + 11 * NUM_JOINTS)


def _build(scan: _Scan, joints: np.ndarray | None, info: np.ndarray | None, columns: list[int] | None) -> NtuSkeleton:
    body_counts = np.asarray(scan.counts, np.int64)
    B = len(scan.bodies)
    if B:
        cols = list(range(12)) if columns is None else columns
        values = joints[:, cols] if joints.shape[1] > len(cols) else joints
        with np.errstate(over="ignore"):
            values = values.astype(np.float32)
        if not np.isfinite(values).all():  # finite in float64 but beyond float32
            r = int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0])
            line = scan.bodies[r // NUM_JOINTS] + 2 + r % NUM_JOINTS
            raise NtuSkeletonError(scan.path, line + 1, "a joint value is beyond the float32 range")
        if columns is None:
            joints = values.reshape(B, NUM_JOINTS, 12)
        else:
            full = np.full((B * NUM_JOINTS, 12), np.nan, np.float32)
            full[:, columns] = values
            joints = full.reshape(B, NUM_JOINTS, 12)
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


def _numbers_one(scan: _Scan, columns: list[int] | None) -> NtuSkeleton:
    """Convert the numbers of one scanned file (fast path if canonical, else the validating path)."""
    if not scan.bodies:
        return _build(scan, None, None, columns)
    c = np.frombuffer(scan.data, np.uint8)
    rows = _joint_rows(scan.bodies)
    info_rows = np.asarray(scan.bodies) if columns is None else None
    fast = None
    if _is_clean(scan.data, columns):
        fast = _fast_numbers(c, scan.data, scan.line_start, scan.line_end, rows, info_rows, columns, _spaces(scan))
    if fast is not None:
        return _build(scan, *fast, columns)
    joint_first = [i + 2 for i in scan.bodies]
    joints = _parse_rows(scan.data, scan.line_start, scan.line_end, joint_first, NUM_JOINTS, 12, scan.path,
                         "a joint line", columns=columns)
    info = None
    if columns is None:
        info = _parse_rows(scan.data, scan.line_start, scan.line_end, scan.bodies, 1, 9, scan.path,
                           "the body-info line", skip_first_token=True)
    return _build(scan, joints, info, columns)


def parse_ntu_skeleton(data: bytes, path: str = "<bytes>", fields: Sequence[str] | None = None) -> NtuSkeleton:
    """Parse the bytes of a ``.skeleton`` file (``path`` is only used in error messages)."""
    columns = _columns(fields)
    return _numbers_one(_scan(data, path), columns)


def read_ntu_skeletons(paths: Sequence[str | os.PathLike], fields: Sequence[str] | None = None
                       ) -> list[NtuSkeleton | NtuSkeletonError]:
    """Read several files; a malformed or unreadable file gives its :class:`NtuSkeletonError` in place.

    Same results as :func:`read_ntu_skeleton` file by file, but the numbers of all files in canonical
    layout are converted together in one vectorised pass (NumPy's per-call overhead is paid once per
    batch instead of once per file).
    """
    columns = _columns(fields)
    out: list[NtuSkeleton | NtuSkeletonError | None] = [None] * len(paths)
    batch: list[tuple[int, _Scan]] = []
    for i, p in enumerate(paths):
        try:
            try:
                data = Path(p).read_bytes()
            except OSError as e:
                raise NtuSkeletonError(str(p), 0, f"cannot read: {e.strerror or e}") from None
            scan = _scan(data, str(p))
        except NtuSkeletonError as e:
            out[i] = e
            continue
        if scan.bodies:
            batch.append((i, scan))
        else:
            out[i] = _build(scan, None, None, columns)
    if batch:
        big = b"".join([s.data for _, s in batch] + [b"\n" * 16])  # the tail keeps windows in bounds
        fast = None
        if all(s.data.endswith(b"\n") for _, s in batch) and _is_clean(big, columns):
            byte_off = np.cumsum([0] + [len(s.data) for _, s in batch[:-1]])
            line_start = np.concatenate([s.line_start + o for (_, s), o in zip(batch, byte_off)])
            line_end = np.concatenate([s.line_end + o for (_, s), o in zip(batch, byte_off)])
            line_off = np.cumsum([0] + [len(s.line_start) for _, s in batch[:-1]])
            rows = np.concatenate([_joint_rows(s.bodies) + o for (_, s), o in zip(batch, line_off)])
            info_rows = None
            if columns is None:
                info_rows = np.concatenate([np.asarray(s.bodies) + o for (_, s), o in zip(batch, line_off)])
            spaces = sum(_spaces(s) for _, s in batch)
            fast = _fast_numbers(np.frombuffer(big, np.uint8), big, line_start, line_end, rows, info_rows, columns,
                                 spaces)
        if fast is not None:
            joints, info = fast
            j0 = b0 = 0
            for i, scan in batch:
                B = len(scan.bodies)
                try:
                    out[i] = _build(scan, joints[j0 : j0 + B * NUM_JOINTS],
                                    None if info is None else info[b0 : b0 + B], columns)
                except NtuSkeletonError as e:
                    out[i] = e
                j0, b0 = j0 + B * NUM_JOINTS, b0 + B
        else:  # something unusual in the batch: file by file, with precise errors
            for i, scan in batch:
                try:
                    out[i] = _numbers_one(scan, columns)
                except NtuSkeletonError as e:
                    out[i] = e
    return out  # type: ignore[return-value]


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
