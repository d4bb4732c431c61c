"""The NTU .skeleton reader/writer: real files, exact values, malformed input, and a parser fuzz."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skelar.formats.decimal_table import parse_decimal_table, parse_tokens_at
from skelar.formats.ntu_skeleton import _newlines, _padded
from skelar.formats.ntu_skeleton import (
    NtuSkeleton,
    NtuSkeletonError,
    format_ntu_skeleton,
    parse_ntu_name,
    parse_ntu_skeleton,
    read_ntu_skeleton,
    read_ntu_skeletons,
    write_ntu_skeleton,
)


def _all_files(shared) -> list[Path]:
    real = sorted(shared("data", "ntu-samples", "skeletons").glob("*.skeleton"))
    synthetic = sorted(shared("data", "ntu-synthetic").glob("*.skeleton"))
    return real + synthetic


def _reference_parse(path: Path) -> tuple[list[int], list[np.ndarray]]:
    """Straightforward line-by-line parse (float per token), for comparison."""
    lines = path.read_text().split("\n")
    counts, joints = [], []
    i = 1
    for _ in range(int(lines[0])):
        nb = int(lines[i])
        counts.append(nb)
        i += 1
        for _ in range(nb):
            i += 2
            joints.append(np.array([[float(t) for t in lines[i + j].split()] for j in range(25)], np.float32))
            i += 25
    return counts, joints


def test_real_and_synthetic_files_parse_exactly(shared):
    for path in _all_files(shared):
        ske = read_ntu_skeleton(path)
        counts, joints = _reference_parse(path)
        assert ske.num_frames == len(counts)
        assert ske.body_counts.tolist() == counts
        assert ske.joints.shape == (sum(counts), 25, 12) and ske.joints.dtype == np.float32
        np.testing.assert_array_equal(ske.joints, np.stack(joints))
        assert ske.body_id.dtype == np.uint64 and ske.body_info.shape == (sum(counts), 9)
        assert (np.bincount(ske.frame_index, minlength=ske.num_frames) == ske.body_counts).all()


def test_known_values_of_first_real_file(shared):
    ske = read_ntu_skeleton(shared("data", "ntu-samples", "skeletons", "S001C001P001R001A001.skeleton"))
    assert ske.num_frames == 103 and ske.num_bodies == 103
    assert int(ske.body_id[0]) == 72057594037931101
    np.testing.assert_array_equal(ske.body_info[0], [0, 1, 1, 1, 1, 0, 0.02764709, 0.05745083, 2])
    np.testing.assert_array_equal(ske.joints[0, 0, :3], np.float32([0.2181153, 0.1725972, 3.785547]))


def test_writer_reproduces_official_bytes(shared, tmp_path):
    for path in _all_files(shared):
        ske = read_ntu_skeleton(path)
        out = tmp_path / path.name
        write_ntu_skeleton(out, ske)
        assert out.read_bytes() == path.read_bytes(), path.name


def test_xyz_only_reading_matches_full(shared):
    path = shared("data", "ntu-synthetic", "S013C001P018R001A059.skeleton")
    full, xyz = read_ntu_skeleton(path), read_ntu_skeleton(path, fields=("x", "y", "z"))
    np.testing.assert_array_equal(full.xyz, xyz.xyz)
    assert np.isnan(xyz.joints[..., 3:]).all() and np.isnan(xyz.body_info).all()
    np.testing.assert_array_equal(full.body_id, xyz.body_id)
    with pytest.raises(ValueError, match="unknown joint field"):
        read_ntu_skeleton(path, fields=("w",))


def test_crlf_and_missing_final_newline_are_accepted(shared):
    data = shared("data", "ntu-samples", "skeletons", "S001C001P001R001A005.skeleton").read_bytes()
    a = parse_ntu_skeleton(data)
    b = parse_ntu_skeleton(data.replace(b"\n", b"\r\n"))
    c = parse_ntu_skeleton(data.rstrip(b"\n"))
    for other in (b, c):
        np.testing.assert_array_equal(a.joints, other.joints)


# -- malformed files -----------------------------------------------------------------------------

def _small_file() -> list[str]:
    """2 frames: one body, then none; the body line is line 3, joints are lines 5-29."""
    joint = "0.1 0.2 3.5 250.5 200.25 1000.5 500.75 0.5 0.5 0.5 0.5 2"
    return ["2", "1", "72057594037931101 0 1 1 1 1 0 0.02 0.05 2", "25", *[joint] * 25, "0"]


def _variants() -> dict[str, tuple[str, int, str]]:
    base = _small_file()

    def edit(i, new):
        lines = list(base)
        lines[i] = new
        return "\n".join(lines) + "\n"

    ok = "\n".join(base) + "\n"
    return {
        "empty": ("", 1, "empty file"),
        "blank": ("\n\n", 1, "empty file"),
        "zero_frames": ("0\n", 1, "frame count is 0"),
        "frame_count_text": (edit(0, "two"), 1, "frame count"),
        "body_count_negative": (edit(1, "-1"), 2, "body count"),
        "body_count_huge": (edit(1, "99"), 2, "exceeds"),
        "bad_body_id": (edit(2, "x1 0 1 1 1 1 0 0.02 0.05 2"), 3, "bodyID"),
        "body_info_short": (edit(2, "7 0 1 1 1 1 0 0.02 2"), 3, "expected 9 fields"),
        "body_info_text": (edit(2, "7 0 1 1 1 1 0 abc 0.05 2"), 3, "field 7"),
        "joint_count": (edit(3, "24"), 4, "joint count 24"),
        "joint_short": (edit(10, "0.1 0.2 3.5"), 11, "expected 12 fields"),
        "joint_long": (edit(10, _small_file()[10] + " 1"), 11, "expected 12 fields"),
        "joint_text": (edit(12, _small_file()[12].replace("3.5", "3,5")), 13, "field 3"),
        "joint_nan": (edit(28, _small_file()[28].replace("0.1", "nan", 1)), 29, "field 1"),
        "joint_inf": (edit(6, _small_file()[6].replace("0.2", "1e999", 1)), 7, "not finite"),
        "joint_double_dot": (edit(8, _small_file()[8].replace("0.2", "0.2.1", 1)), 9, "field 2"),
        "truncated_joints": ("\n".join(base[:20]) + "\n", 20, "end of file"),
        "truncated_frames": ("\n".join(base[:-1]) + "\n", 30, "end of file"),
        "trailing_garbage": (ok + "garbage\n", 31, "after the last frame"),
        "binary": (ok[:200] + "\x00\x01" + ok[202:], 7, "field"),
        "float32_overflow": (edit(5, _small_file()[5].replace("0.1", "1e39", 1)), 6, "float32 range"),
    }


@pytest.mark.parametrize("case", sorted(_variants()))
def test_malformed_files_name_file_and_line(case, tmp_path):
    text, line, what = _variants()[case]
    path = tmp_path / "S001C001P001R001A001.skeleton"
    path.write_text(text, newline="")
    with pytest.raises(NtuSkeletonError) as err:
        read_ntu_skeleton(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:{line}: "), msg
    assert what in msg and "\n" not in msg
    assert err.value.line == line


def test_small_file_itself_is_valid():
    ske = parse_ntu_skeleton(("\n".join(_small_file()) + "\n").encode())
    assert ske.body_counts.tolist() == [1, 0] and ske.joints.shape == (1, 25, 12)


def test_directory_is_reported(tmp_path):
    with pytest.raises(NtuSkeletonError, match="directory"):
        read_ntu_skeleton(tmp_path)


# -- names ---------------------------------------------------------------------------------------

def test_parse_ntu_name():
    assert parse_ntu_name("S001C002P003R002A013") == {"setup": 1, "camera": 2, "performer": 3, "replication": 2, "action": 13}
    assert parse_ntu_name("/x/S032C003P106R002A120.skeleton")["action"] == 120
    for bad in ("S01C002P003R002A013", "S001C002P003R002A013x", "foo"):
        with pytest.raises(ValueError, match="not an NTU RGB\\+D sample name"):
            parse_ntu_name(bad)


# -- the vectorised number parser against Python's float ---------------------------------------------

_token = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda v: f"{v:.7g}".replace("e", "E")),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.from_regex(re.compile(r"[+-]?([0-9]{1,9}(\.[0-9]{0,8})?|\.[0-9]{1,8})([eE][+-]?[0-9]{1,2})?"), fullmatch=True),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_token, min_size=3, max_size=3), min_size=1, max_size=20))
def test_decimal_table_equals_python_float(rows):
    blob = "\n".join(" ".join(r) for r in rows).encode()
    got = parse_decimal_table(blob, len(rows), 3)
    expected = np.array([[float(t) for t in r] for r in rows])
    if not np.isfinite(expected).all():
        assert got is None
    else:
        assert got is not None
        np.testing.assert_array_equal(got, expected)


_loose_token = st.one_of(
    _token,
    st.text(alphabet="0123456789.+-eEx\t\r\x00", min_size=0, max_size=18),  # malformed, empty, long
    st.from_regex(re.compile(r"-?0\.[0-9]{9,14}"), fullmatch=True),  # 12 to 17 characters
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_loose_token, min_size=1, max_size=40), st.lists(st.sampled_from([" ", "\n"]), min_size=40, max_size=40))
def test_tokens_at_equal_python_float(tokens, seps):
    """parse_tokens_at, walked token after token as the reader does, against bytes.split and float()."""
    text = "".join(t + sep for t, sep in zip(tokens, seps)).encode()
    c = np.zeros(len(text) + 64, np.uint8)
    c[: len(text)] = np.frombuffer(text, np.uint8)
    starts, pos = [], 0
    for t, sep in zip(tokens, seps):
        starts.append(pos)
        pos += len(t.encode()) + 1
    values, ends, ok = parse_tokens_at(c, np.asarray(starts, np.int64), text)
    for i, t in enumerate(tokens):
        b = t.encode()
        piece = re.match(rb"[^\x00-\x20]*", b).group()  # a token stops at the first byte <= 32
        assert ends[i] == starts[i] + len(piece)
        try:
            want = float(piece) if re.fullmatch(rb"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", piece) else None
        except ValueError:
            want = None
        expect_ok = want is not None and bool(np.isfinite(want))
        assert ok[i] == expect_ok, (t, values[i])
        if expect_ok:
            assert values[i] == want and np.signbit(values[i]) == np.signbit(want), (t, values[i], want)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=0, max_size=600), st.floats(0, 1))
def test_newlines_are_found_exactly(data, density):
    """The packed-bit line-feed finder against np.flatnonzero, dense runs of LFs included."""
    raw = bytes(10 if (i * 7919 % 101) / 101 < density else b for i, b in enumerate(data))
    buf = np.zeros(_padded(len(raw)), np.uint8)
    buf[: len(raw)] = np.frombuffer(raw, np.uint8)
    np.testing.assert_array_equal(_newlines(buf, len(raw)), np.flatnonzero(buf == 10))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="0123456789.+-eE x\t", min_size=1, max_size=12), min_size=3, max_size=3))
def test_decimal_table_rejects_what_float_rejects(tokens):
    blob = " ".join(tokens).encode()
    got = parse_decimal_table(blob, 1, 3)
    try:
        parts = blob.split()
        expected = [float(t) for t in parts] if len(parts) == 3 and all(re.fullmatch(rb"[0-9.+\-eE]+", t) for t in parts) else None
    except ValueError:
        expected = None
    if expected is None or not np.isfinite(expected).all():
        assert got is None
    else:
        assert got is not None and got.ravel().tolist() == expected


# -- fuzz: mutated files raise NtuSkeletonError or parse consistently ----------------------------

def _base_files(shared) -> list[bytes]:
    """Small valid seeds: two frames with bodies, then either an empty last frame or none (so the last
    frame has bodies, and truncations reach the end-of-file checks inside a body's joints)."""
    out = []
    for path in (shared("data", "ntu-samples", "skeletons", "S001C001P001R001A005.skeleton"),
                 shared("data", "ntu-synthetic", "S013C001P018R001A059.skeleton")):
        ske = read_ntu_skeleton(path)
        keep = ske.frame_index < 2
        for trailing in ([0], []):
            counts = np.append(ske.body_counts[:2], trailing).astype(ske.body_counts.dtype)
            small = NtuSkeleton(path="", num_frames=len(counts), body_counts=counts,
                                frame_index=ske.frame_index[keep], slot=ske.slot[keep], body_id=ske.body_id[keep],
                                body_info=ske.body_info[keep], joints=ske.joints[keep])
            out.append(format_ntu_skeleton(small).encode())
    assert any(b.rstrip(b"\n").split(b"\n")[-1].count(b" ") == 11 for b in out)  # a seed ends in a joint line
    return out


_garbage = st.sampled_from([b"", b"x", b"nan", b"-", b"1e", b"25", b"0", b"3", b"\x00", b"1 2 3", b"  ", b"\r", b"999999999999999999999",
                            b"1e400", b"..", b"7 0 1 1 1 1 0 0 0 2", b"\xff\xfe"])


@st.composite
def _mutation(draw, bases):
    data = draw(st.sampled_from(bases))
    lines = data.split(b"\n")
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["delete", "duplicate", "replace", "token", "truncate", "insert"]))
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        if kind == "delete" and lines:
            del lines[i]
        elif kind == "duplicate" and lines:
            lines.insert(i, lines[i])
        elif kind == "replace" and lines:
            lines[i] = draw(_garbage)
        elif kind == "insert":
            lines.insert(i, draw(_garbage))
        elif kind == "token" and lines:
            toks = lines[i].split(b" ")
            j = draw(st.integers(0, len(toks) - 1))
            toks[j] = draw(_garbage)
            lines[i] = b" ".join(toks)
        elif kind == "truncate":
            blob = b"\n".join(lines)
            lines = blob[: draw(st.integers(0, len(blob)))].split(b"\n")
    return b"\n".join(lines)


def _python_joints(data: bytes, body_counts: np.ndarray) -> np.ndarray:
    """Joint values by plain per-line float() parsing, given the body counts."""
    lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    out, i = [], 1
    for nb in body_counts.tolist():
        i += 1
        for _ in range(nb):
            out.append([[float(t) for t in lines[i + 2 + j].split()] for j in range(25)])
            i += 27
    return np.asarray(out, np.float32).reshape(-1, 25, 12)


def test_fuzz_only_ntu_errors_escape(shared):
    bases = _base_files(shared)
    for b in bases:  # the bases themselves are valid
        parse_ntu_skeleton(b)

    @settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_mutation(bases))
    def run(data):
        try:
            xyz = parse_ntu_skeleton(data, "fuzz.skeleton", fields=("x", "y", "z"))
        except NtuSkeletonError as e:
            assert re.match(r"fuzz\.skeleton:\d+: \S", str(e)), str(e)
            xyz = None
        try:
            ske = parse_ntu_skeleton(data, "fuzz.skeleton")
        except NtuSkeletonError as e:
            assert re.match(r"fuzz\.skeleton:\d+: \S", str(e)), str(e)
            return
        # what reads in full also reads as positions only, with the same values as plain float()
        assert xyz is not None
        np.testing.assert_array_equal(xyz.xyz, ske.xyz)
        B = ske.num_bodies
        assert ske.joints.shape == (B, 25, 12) and np.isfinite(ske.joints).all()
        assert ske.body_counts.sum() == B == len(ske.frame_index) == len(ske.slot)
        np.testing.assert_array_equal(ske.joints, _python_joints(data, ske.body_counts))
        assert format_ntu_skeleton(parse_ntu_skeleton(format_ntu_skeleton(ske).encode())) == format_ntu_skeleton(ske)

    run()


def test_batch_reading_equals_file_by_file(shared, tmp_path):
    bases = _base_files(shared)
    counter = iter(range(10**9))

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.one_of(st.sampled_from(bases), _mutation(bases)), min_size=1, max_size=6),
           st.sampled_from([None, ("x", "y", "z")]))
    def run(files, fields):
        paths = []
        for data in files:
            p = tmp_path / f"f{next(counter)}.skeleton"
            p.write_bytes(data)
            paths.append(p)
        batch = read_ntu_skeletons(paths, fields)
        for p, got in zip(paths, batch):
            try:
                one = read_ntu_skeleton(p, fields)
            except NtuSkeletonError as e:
                assert isinstance(got, NtuSkeletonError) and str(got) == str(e)
                continue
            assert isinstance(got, NtuSkeleton)
            for key in ("body_counts", "frame_index", "slot", "body_id", "body_info", "joints"):
                np.testing.assert_array_equal(getattr(got, key), getattr(one, key))

    run()
    missing = read_ntu_skeletons([tmp_path / "nope.skeleton"])
    assert isinstance(missing[0], NtuSkeletonError) and "cannot read" in str(missing[0])


_number = st.one_of(
    st.floats(-10, 10, allow_nan=False, width=32).map(lambda v: f"{v:.7g}".replace("e", "E")),
    st.floats(-2000, 2000, allow_nan=False).map(lambda v: f"{v:.3f}"),
    st.floats(-1e30, 1e30, allow_nan=False).map(repr),
    st.integers(-5, 5).map(str),
)


@st.composite
def _valid_file(draw) -> bytes:
    """A random well-formed file: 1-3 frames of 0-2 bodies, numbers in assorted notations."""
    lines = []
    frames = draw(st.integers(1, 3))
    lines.append(str(frames))
    for _ in range(frames):
        nb = draw(st.integers(0, 2))
        lines.append(str(nb))
        for _ in range(nb):
            lines.append(" ".join([str(draw(st.integers(0, 2**64 - 1)))] + [draw(_number) for _ in range(9)]))
            lines.append("25")
            lines.extend(" ".join(draw(_number) for _ in range(12)) for _ in range(25))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    return (end.join(lines) + draw(st.sampled_from([end, "", end + end]))).encode()


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(_valid_file())
def test_valid_files_parse_like_plain_float(data):
    ske = parse_ntu_skeleton(data)
    np.testing.assert_array_equal(ske.joints, _python_joints(data, ske.body_counts))
    np.testing.assert_array_equal(parse_ntu_skeleton(data, fields=("x", "y", "z")).xyz, ske.xyz)
