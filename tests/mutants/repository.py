"""A throw-away copy of the repository for mutants: this checkout is never changed."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What a copy leaves out: version control, environments, caches, and the notebooks' folder
# at the top (the lessons, which no mutant's tests run).
_IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "venv", "__pycache__", "*.egg-info", ".pytest_cache", ".hypothesis",
    ".mypy_cache", ".ruff_cache", ".local_aws.*",
)  # fmt: skip
_IGNORED_AT_THE_TOP = {"notebooks"}


def _ignore(folder: str, names: list[str]) -> set[str]:
    ignored = set(_IGNORED(folder, names))
    if Path(folder) == ROOT:
        ignored |= _IGNORED_AT_THE_TOP & set(names)
    return ignored


def copy_repository(destination: Path) -> Path:
    """The working tree (committed or not) copied into `destination`/repo; its path."""
    target = destination / "repo"
    shutil.copytree(ROOT, target, ignore=_ignore, symlinks=True)
    return target
