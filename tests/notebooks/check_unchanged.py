"""Before `make test`: are the notebooks the committed ones? Say so, and how to restore them.

    .venv/bin/python -m tests.notebooks.check_unchanged

nbval compares every cell's output with the committed notebook. Working in JupyterLab saves
new outputs into notebooks/ (it autosaves every two minutes), so a test run afterwards would
fail cell by cell for no real reason. This check runs first and names the cause instead.
Exit status 0 when the notebooks are the committed ones, when ALLOW_CHANGED_NOTEBOOKS=1 is set
(you changed a notebook on purpose and regenerated its outputs), or when there is no git
repository to compare with (a copy without .git: only this check is skipped).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALLOW = "ALLOW_CHANGED_NOTEBOOKS"


def _git(root: Path, *arguments: str) -> str | None:
    """git's output in `root`, or None if git is missing or `root` is not a repository's top."""
    try:
        result = subprocess.run(
            ["git", "-C", str(root), *arguments], capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return result.stdout if result.returncode == 0 else None


def changed_notebooks(root: Path) -> list[str] | None:
    """`git status` lines for notebooks/ that differ from the last commit (modified, deleted or
    new), or None when `root` is not the top of a git work tree."""
    top = _git(root, "rev-parse", "--show-toplevel")
    if top is None or Path(top.strip()).resolve() != root.resolve():
        return None
    status = _git(root, "status", "--porcelain", "--untracked-files=all", "--", "notebooks")
    if status is None:
        return None
    return [line for line in status.splitlines() if line.strip()]


def check(root: Path, environment: dict[str, str]) -> tuple[int, str]:
    """The exit status and the message for the notebooks in `root`."""
    changed = changed_notebooks(root)
    if changed is None:
        return 0, (
            "No git repository here: skipping the check that notebooks/ holds the committed "
            "notebooks (if nbval fails on outputs, compare them with a fresh copy)."
        )
    if not changed:
        return 0, "notebooks/ holds the committed notebooks."
    listing = "\n".join(f"  {line}" for line in changed)
    if environment.get(ALLOW) == "1":
        return 0, f"{ALLOW}=1: testing the changed notebooks as they are:\n{listing}"
    return 1, (
        "notebooks/ differs from the committed notebooks, so nbval would fail on their "
        f"outputs:\n{listing}\n"
        "JupyterLab saves outputs into the notebooks as you work (autosave). To restore the "
        "committed ones (this discards your changes to them; copy a notebook elsewhere first "
        "to keep it):\n"
        "  git checkout notebooks/        (and delete any new file listed with ??)\n"
        "then run `make test` again. If you changed a notebook on purpose, regenerate its "
        "outputs (.venv/bin/python -m tests.notebooks.regenerate_outputs notebooks/NN.ipynb) "
        f"and run `{ALLOW}=1 make test`."
    )


def main() -> int:
    status, message = check(ROOT, dict(os.environ))
    print(message, file=sys.stderr if status else sys.stdout)
    return status


if __name__ == "__main__":
    sys.exit(main())
