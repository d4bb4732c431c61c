"""Tests that need ../shared skip locally without it, but fail under CI (env CI set)."""

from __future__ import annotations

import pytest

import conftest


@pytest.mark.parametrize("ci", ["true", "1", "yes"])
def test_missing_shared_fails_under_ci(ci, monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "SHARED", tmp_path / "absent")
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        conftest.shared_path("parity", "models", "x.npz")


@pytest.mark.parametrize("ci", [None, "", "0", "false"])
def test_missing_shared_skips_locally(ci, monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "SHARED", tmp_path / "absent")
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="needs"):
        conftest.shared_path("parity", "models", "x.npz")


def test_present_shared_is_returned(monkeypatch, tmp_path):
    (tmp_path / "a").mkdir()
    monkeypatch.setattr(conftest, "SHARED", tmp_path)
    monkeypatch.setenv("CI", "true")
    assert conftest.shared_path("a") == tmp_path / "a"
