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

The reader walks the count lines in Python (a few hundred per file) and converts all numeric lines
of a file in one call to NumPy's C parser; only when that fast path fails does a line-by-line
validating pass run, to name the offending line. Every defect raises :class:`NtuSkeletonError`
with the message ``"<file>:<line>: <what is wrong>"``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from skelar.formats.decimal_table import parse_decimal_table

__all__ = [
    "NUM_JOINTS",
    "JOINT_FIELDS",
    "BODY_INFO_FIELDS",
    "NtuSkeletonError",
    "NtuSkeleton",
    "read_ntu_skeleton",
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
_NUMBER = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
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
    ``("x", "y", "z")`` for a pipeline that only needs positions: about twice as fast. The other joint
    fields and ``body_info`` are then NaN; their lines are still checked for field count and
    characters, but not converted. The structure (counts, bodyIDs) is always fully validated.
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
        if not _NUMBER.fullmatch(t):
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


def parse_ntu_skeleton(data: bytes, path: str = "<bytes>", fields: Sequence[str] | None = None) -> NtuSkeleton:
    """Parse the bytes of a ``.skeleton`` file (``path`` is only used in error messages)."""
    columns = None
    if fields is not None:
        unknown = [f for f in fields if f not in JOINT_FIELDS]
        if unknown:
            raise ValueError(f"unknown joint field(s) {unknown}; known: {', '.join(JOINT_FIELDS)}")
        columns = sorted({JOINT_FIELDS.index(f) for f in fields})
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if not data.strip():
        raise NtuSkeletonError(path, 1, "empty file")
    lines = data.split(b"\n")
    while not lines[-1].strip():  # trailing blank lines are not content
        lines.pop()
    num_frames = _count(lines, 0, path, "the frame count")
    if num_frames == 0:
        raise NtuSkeletonError(path, 1, "frame count is 0")
    if num_frames > len(lines) - 1:  # every frame needs at least its body-count line
        raise NtuSkeletonError(path, 1, f"frame count {num_frames} but only {len(lines) - 1} lines follow "
                                        "(truncated file?)")
    body_counts = np.empty(num_frames, np.int64)
    frame_index: list[int] = []
    slot: list[int] = []
    ids: list[int] = []
    info_rows: list[int] = []
    joint_starts: list[int] = []
    i = 1
    n_lines = len(lines)
    for f in range(num_frames):
        nb = _count(lines, i, path, f"the body count of frame {f + 1}")
        if nb > MAX_BODIES:
            raise NtuSkeletonError(path, i + 1, f"body count {nb} of frame {f + 1} exceeds {MAX_BODIES}")
        body_counts[f] = nb
        i += 1
        for b in range(nb):
            if i >= n_lines:
                raise NtuSkeletonError(path, i + 1, f"unexpected end of file: expected body {b + 1} of frame {f + 1}")
            tok = lines[i].split(None, 1)
            if not tok or not tok[0].isdigit() or int(tok[0]) > _UINT64_MAX:
                shown = (tok[0] if tok else b"")[:40].decode("ascii", "replace")
                raise NtuSkeletonError(path, i + 1, f"expected a bodyID (unsigned 64-bit integer), got {shown!r}")
            ids.append(int(tok[0]))
            info_rows.append(i)
            nj = _count(lines, i + 1, path, "the joint count")
            if nj != NUM_JOINTS:
                raise NtuSkeletonError(path, i + 2, f"joint count {nj}, expected {NUM_JOINTS}")
            if i + 2 + NUM_JOINTS > n_lines:
                raise NtuSkeletonError(path, n_lines, f"unexpected end of file inside the joints of frame {f + 1}")
            joint_starts.append(i + 2)
            frame_index.append(f)
            slot.append(b)
            i += 2 + NUM_JOINTS
    for k in range(i, n_lines):
        if lines[k].strip():
            raise NtuSkeletonError(path, k + 1, f"unexpected data after the last frame ({num_frames} frames)")
    B = len(ids)
    if B:
        line_end = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
        if line_end.size < n_lines:
            line_end = np.append(line_end, len(data))
        line_start = np.concatenate([[0], line_end[:-1] + 1])
        if columns is None:
            info = _parse_rows(data, line_start, line_end, info_rows, 1, 9, path, "the body-info line",
                               skip_first_token=True)
        else:
            info = np.full((B, 9), np.nan)
        parsed = _parse_rows(data, line_start, line_end, joint_starts, NUM_JOINTS, 12, path, "a joint line",
                             columns=columns)
        if columns is None:
            joints = parsed.astype(np.float32).reshape(B, NUM_JOINTS, 12)
        else:
            joints = np.full((B * NUM_JOINTS, 12), np.nan, np.float32)
            joints[:, columns] = parsed
            joints = joints.reshape(B, NUM_JOINTS, 12)
    else:
        info = np.zeros((0, 9), np.float64)
        joints = np.zeros((0, NUM_JOINTS, 12), np.float32)
    return NtuSkeleton(
        path=path,
        num_frames=num_frames,
        body_counts=body_counts,
        frame_index=np.asarray(frame_index, np.int64),
        slot=np.asarray(slot, np.int64),
        body_id=np.asarray(ids, np.uint64),
        body_info=info,
        joints=joints,
    )


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
