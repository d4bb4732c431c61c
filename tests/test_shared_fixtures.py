"""Tests that need ../shared skip locally without it, but fail under CI (env CI set)."""

from __future__ import annotations

import pytest

import conftest


def _outcome(*parts: str) -> BaseException:
    """What shared_path raises (skip and fail are both BaseExceptions; catching both lets a skip fail the test)."""
    try:
        conftest.shared_path(*parts)
    except BaseException as e:  # noqa: BLE001 - pytest's Skipped/Failed outcomes
        return e
    raise AssertionError("shared_path returned for a missing path")


@pytest.mark.parametrize("ci", ["true", "1", "yes"])
def test_missing_shared_fails_under_ci(ci, monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "SHARED", tmp_path / "absent")
    monkeypatch.setenv("CI", ci)
    e = _outcome("parity", "models", "x.npz")
    assert isinstance(e, pytest.fail.Exception) and "CI is set" in str(e)


@pytest.mark.parametrize("ci", [None, "", "0", "false"])
def test_missing_shared_skips_locally(ci, monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "SHARED", tmp_path / "absent")
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    e = _outcome("parity", "models", "x.npz")
    assert isinstance(e, pytest.skip.Exception) and "needs" in str(e)


def test_present_shared_is_returned(monkeypatch, tmp_path):
    (tmp_path / "a").mkdir()
    monkeypatch.setattr(conftest, "SHARED", tmp_path)
    monkeypatch.setenv("CI", "true")
    assert conftest.shared_path("a") == tmp_path / "a"
