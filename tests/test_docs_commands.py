"""Every full ``skelar ...`` command quoted in README.md and docs/*.md parses with the real CLI parser."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from skelar.cli.main import build_parser

REPO = Path(__file__).resolve().parents[1]
_WITH_TARGET = {"prepare", "data"}  # commands whose first argument chooses a sub-command


def _commands() -> list[tuple[str, str]]:
    out = []
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for m in re.finditer(r"`(skelar [^`\n]+)`", doc.read_text()):
            out.append((doc.name, m.group(1)))
    return out


def _argv(command: str) -> list[str] | None:
    """The arguments of a full command; None for a mention (a bare name, one option, placeholders)."""
    text = re.sub(r"\[[^\]]*\]", "", command)  # optional parts
    if "..." in text or "|" in text:
        return None
    try:
        argv = shlex.split(text)[1:]
    except ValueError:
        return None
    head = 2 if argv and argv[0] in _WITH_TARGET else 1
    if len(argv) < head or any(a.isupper() for a in argv[:head]):
        return None
    rest = argv[head:]
    if not rest or (len(rest) == 1 and rest[0].startswith("-")):
        return None
    return argv


def test_documented_commands_parse():
    checked, bad = 0, []
    for doc, command in _commands():
        argv = _argv(command)
        if argv is None:
            continue
        checked += 1
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err):
                build_parser().parse_args(argv)
        except SystemExit as e:
            if e.code:
                bad.append(f"{doc}: `{command}`: {err.getvalue().strip().splitlines()[-1]}")
    assert checked >= 10
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("command,full", [("skelar prepare synthetic OUT", True), ("skelar prepare ntu60", False),
                                          ("skelar test --ambiguous", False), ("skelar prepare TARGET", False)])
def test_what_counts_as_a_full_command(command, full):
    assert (_argv(command) is not None) == full
