"""The docs' tables name the test that holds each row: every test they name must exist.

A row of docs/fidelity.md or docs/bad-inputs.md cites tests as
`file.py::test_name` (or `::test_name` for another test of the file cited before it in the
same row). A renamed, moved or deleted test would leave a row claiming a check nobody makes.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ["docs/fidelity.md", "docs/bad-inputs.md"]
_REFERENCE = re.compile(r"`(?P<file>[\w./-]*\.py)?::(?P<test>\w+)(?:\[[^\]`]*\])?`")


@cache
def _tests_in(basename_or_path: str) -> frozenset[str]:
    """The test functions defined in every file under tests/ with this name or path."""
    path = Path(basename_or_path)
    candidates = [ROOT / path] if len(path.parts) > 1 else list((ROOT / "tests").rglob(path.name))
    names: set[str] = set()
    for candidate in candidates:
        if candidate.is_file():
            names.update(re.findall(r"^\s*(?:async )?def (test_\w+)", candidate.read_text(), re.M))
    return frozenset(names)


def _references(doc: str) -> list[tuple[int, str, str]]:
    """(line number, file, test) for every test the document names."""
    found = []
    for number, line in enumerate((ROOT / doc).read_text().splitlines(), start=1):
        current = None
        for match in _REFERENCE.finditer(line):
            current = match["file"] or current
            if current is not None:
                found.append((number, current, match["test"]))
    return found


@pytest.mark.parametrize("doc", DOCS)
def test_every_test_a_doc_names_exists(doc: str) -> None:
    references = _references(doc)
    assert references, f"{doc} names no test: the pattern no longer matches its citations"
    missing = [
        f"{doc}:{number}: {file}::{test}"
        for number, file, test in references
        if test not in _tests_in(file)
    ]
    assert not missing, "tests named by the docs that do not exist:\n" + "\n".join(missing)
