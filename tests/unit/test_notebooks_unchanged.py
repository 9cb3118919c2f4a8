"""`make test` first checks that notebooks/ holds the committed notebooks (JupyterLab autosaves)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.notebooks.check_unchanged import check


def git(root: Path, *arguments: str) -> None:
    subprocess.run(["git", "-C", str(root), *arguments], check=True, capture_output=True)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A repository with one committed notebook, as a fresh clone has it."""
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "00_setup.ipynb").write_text('{"cells": []}\n')
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "notebooks")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "c")
    return tmp_path


def test_a_clean_checkout_passes(checkout: Path) -> None:
    assert check(checkout, {}) == (0, "notebooks/ holds the committed notebooks.")


def test_an_autosaved_notebook_stops_the_run_and_says_how_to_restore(checkout: Path) -> None:
    (checkout / "notebooks" / "00_setup.ipynb").write_text('{"cells": ["new outputs"]}\n')
    status, message = check(checkout, {})
    assert status == 1
    assert "notebooks/00_setup.ipynb" in message and "git checkout notebooks/" in message
    assert check(checkout, {"ALLOW_CHANGED_NOTEBOOKS": "1"})[0] == 0


def test_a_new_notebook_is_named_too(checkout: Path) -> None:
    (checkout / "notebooks" / "Untitled.ipynb").write_text("{}\n")
    status, message = check(checkout, {})
    assert status == 1 and "?? notebooks/Untitled.ipynb" in message


def test_without_git_only_this_check_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "notebooks").mkdir()
    status, message = check(tmp_path, {})
    assert status == 0 and "No git repository here: skipping" in message


def test_a_copy_inside_another_repository_is_not_compared_with_it(checkout: Path) -> None:
    copy = checkout / "copy"
    (copy / "notebooks").mkdir(parents=True)
    status, message = check(copy, {})
    assert status == 0 and "skipping" in message
