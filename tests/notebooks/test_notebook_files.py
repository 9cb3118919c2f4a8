"""The committed notebooks: lesson shape, tags, and outputs that are clean to publish.

nbval checks that each notebook still produces its committed outputs; these tests check the
files themselves.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
AWS_ONLY = {"nbval-skip", "skip-execution"}


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def source(cell: dict[str, Any]) -> str:
    return "".join(cell["source"])


def tags(cell: dict[str, Any]) -> set[str]:
    return set(cell["metadata"].get("tags", []))


def test_the_six_lessons_are_there() -> None:
    assert [path.stem for path in NOTEBOOKS] == [
        "00_setup",
        "01_deploy",
        "02_connect",
        "03_messages",
        "04_disconnect_and_ttl",
        "05_cleanup",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_lesson_shape(path: Path) -> None:
    cells = load(path)["cells"]
    first, last = source(cells[0]), source(cells[-1])
    assert first.startswith(f"# {path.stem[:2]} · ")
    for heading in ("## Overview", "## Prerequisites", "**Time to learn**"):
        assert heading in first, heading
    for heading in ("## Summary", "### What's next?", "## Resources and references"):
        assert heading in last, heading


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_metadata_is_portable(path: Path) -> None:
    notebook = load(path)
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    assert "papermill" not in notebook["metadata"]
    for cell in notebook["cells"]:
        assert not {"execution", "papermill"} & set(cell["metadata"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_cell_ran_and_only_expected_errors_are_shown(path: Path) -> None:
    for cell in load(path)["cells"]:
        if cell["cell_type"] != "code":
            continue
        if tags(cell) >= AWS_ONLY:
            assert cell["execution_count"] is None and not cell["outputs"]
            continue
        assert tags(cell).isdisjoint(AWS_ONLY), "AWS-only cells need both tags"
        assert cell["execution_count"] is not None, source(cell)
        errors = [output for output in cell["outputs"] if output["output_type"] == "error"]
        assert bool(errors) == ("raises-exception" in tags(cell)), source(cell)
        assert "# NBVAL" not in source(cell).upper(), "use tags, not comment markers"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_outputs_name_no_local_paths(path: Path) -> None:
    outputs = json.dumps([cell.get("outputs", []) for cell in load(path)["cells"]])
    assert str(ROOT) not in outputs
    assert not re.search(r"/(home|Users|tmp|root)/", outputs)
    assert "site-packages" not in outputs
