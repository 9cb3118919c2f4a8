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
from nbval.plugin import get_sanitize_patterns

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
AWS_ONLY = {"nbval-skip", "skip-execution"}
SANITIZE = ROOT / "tests" / "notebooks" / "sanitize.cfg"


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def source(cell: dict[str, Any]) -> str:
    return "".join(cell["source"])


def tags(cell: dict[str, Any]) -> set[str]:
    return set(cell["metadata"].get("tags", []))


def sanitized(text: str) -> str:
    """`text` as nbval compares it: every rule of sanitize.cfg applied, in order."""
    for regex, replace in get_sanitize_patterns(SANITIZE.read_text()):
        text = re.sub(regex, replace, text)
    return text


def test_the_lessons_are_there() -> None:
    assert [path.stem for path in NOTEBOOKS] == [
        "00_setup",
        "01_deploy",
        "02_connect",
        "03_messages",
        "04_disconnect_and_ttl",
        "05_cleanup",
        "06_original_pattern",
        "07_chat_room",
        "08_scale_limits_cost",
        "09_observe_and_troubleshoot",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_lesson_shape(path: Path) -> None:
    cells = load(path)["cells"]
    first, last = source(cells[0]), source(cells[-1])
    assert first.startswith(f"# {path.stem[:2]} · ")
    for heading in ("## Overview", "## Prerequisites", "**Time to learn**"):
        assert heading in first, heading
    # A restarted kernel has lost every variable: the first cell says what to run again.
    assert "After a kernel restart" in first and "Run All Above Selected Cell" in first
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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_an_ignored_output_is_followed_by_a_checked_one(path: Path) -> None:
    """A cell whose output is not compared (a progress bar, random ids) is followed by one that
    prints the facts to check, and that output is compared."""
    cells = [cell for cell in load(path)["cells"] if cell["cell_type"] == "code"]
    for cell, following in zip(cells, [*cells[1:], None], strict=True):
        if "nbval-ignore-output" in tags(cell):
            assert following is not None, source(cell)
            assert not {"nbval-ignore-output", "nbval-skip"} & tags(following), source(cell)
            assert following["outputs"], source(following)


def test_sanitizers_keep_a_wrong_forwarded_port() -> None:
    """X-Forwarded-Port is replaced only where it is local_aws's port (the Host header's)."""

    def table_form(port: int, forwarded: int) -> str:
        return f"headers.Host  127.0.0.1:{port}\nheaders.X-Forwarded-Port  {forwarded}\n"

    def json_form(port: int, forwarded: int) -> str:
        return f'"Host": {{"S": "127.0.0.1:{port}"}},\n"X-Forwarded-Port": {{\n "S": "{forwarded}"'

    for form in (table_form, json_form):
        assert sanitized(form(49087, 49087)) == sanitized(form(50123, 50123))  # each run's port
        assert sanitized(form(49087, 443)) != sanitized(form(49087, 49087))
        assert sanitized(form(4908, 49087)) != sanitized(form(4908, 4908))


def test_sanitizers_replace_random_ids_but_not_the_made_up_stale_one() -> None:
    assert (
        sanitized("74OvsK40VSbLvy4=  alice") == sanitized("4t-LkGu9oQXrBLw=  alice") == "ID  alice"
    )
    assert sanitized("AAAAAAAAAAAAAAA=  dave") == "AAAAAAAAAAAAAAA=  dave"


def test_sanitizers_tell_a_five_digit_year_from_a_four_digit_one() -> None:
    seconds, milliseconds = "2026-11-27 15:04:51+00:00", "58870-10-16 18:46:38+00:00"
    assert sanitized(seconds) == "DATETIME"
    assert sanitized(milliseconds) != sanitized(seconds)


def test_sanitizers_replace_an_api_id_in_a_table_and_in_json_only() -> None:
    assert sanitized("requestContext.apiId   vjmvso8m4k") == "requestContext.apiId   API_ID"
    assert sanitized('"apiId": "vjmvso8m4k",') == '"apiId": "API_ID",'
    assert sanitized('"stage": "vjmvso8m4k",') == '"stage": "vjmvso8m4k",'


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_outputs_read_well_when_rendered_statically(path: Path) -> None:
    """No progress bar states or rates (GitHub and nbconvert show every redraw)."""
    outputs = json.dumps([cell.get("outputs", []) for cell in load(path)["cells"]])
    assert not re.search(r"\d+%\||\d/s\b|resource/s|\\r", outputs)


def test_sanitizers_replace_durations_and_latencies_only() -> None:
    report = "REPORT RequestId: x\tDuration: 2.09 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB"
    assert sanitized(report) == sanitized(report.replace("2.09", "17.5").replace("3 ms", "18 ms"))
    assert sanitized(report) != sanitized(report.replace("128 MB", "256 MB"))
    latency = "Received response. Status: 200, Integration latency: 3 ms"
    assert sanitized(latency) == sanitized(latency.replace("3 ms", "1000 ms"))
    assert sanitized(latency) != sanitized(latency.replace("200", "504"))
