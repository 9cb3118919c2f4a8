"""Each notebook, run with its exercises answered by notebooks/solutions/: every check says Right.

The committed notebooks keep their `...` placeholders (nbval checks those say "Not done yet");
this runs the lesson as a learner who answered would, in a kernel against a local_aws.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.notebooks.plugin import LOCAL_AWS_ARGS, REMOVED, notebook_environment
from tests.support import LocalAwsProcess

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PLACEHOLDER = re.compile(r"^\w+(, \w+)* = \.\.\.(  #.*)?$", re.MULTILINE)

# What a learner who solved exercise N writes in place of its `...` lines.
ANSWERS = {
    "00_setup": {
        1: "cloudformation = S.exercise_1(target)",
        2: "account = S.exercise_2(target)",
    },
    "01_deploy": {
        1: "iam_resources = S.exercise_1(template)",
        2: "new_template = S.exercise_2(template)",
    },
    "02_connect": {
        1: "my_url, my_ws, my_item = S.exercise_1(websocket_url, dynamodb, table_name)",
        2: "client_header = S.exercise_2(item)",
    },
    "03_messages": {
        1: "message = S.exercise_1()",
        2: "gone_ids = S.exercise_2(candidates, connections)",
    },
    "04_disconnect_and_ttl": {
        1: "ttl_in_two_hours = S.exercise_1(connected_at_ms)",
        2: "why = S.exercise_2()",
    },
    "05_cleanup": {
        1: "leftover_tables = S.exercise_1(target)",
        2: "retained = S.exercise_2(variant)",
    },
    "06_original_pattern": {
        1: "forgotten_routes = S.exercise_1(pattern_template)",
        2: "refused_values = S.exercise_2(candidates)",
    },
    "07_chat_room": {
        1: "join_message = S.exercise_1()",
        2: "lobby_ids = S.exercise_2(dynamodb, members_table)",
    },
    "08_scale_limits_cost": {
        1: "billed = S.exercise_1()",
        2: "fix = S.exercise_2()",
    },
    "09_observe_and_troubleshoot": {
        1: "failed_routes = S.exercise_1(access_lines)",
        2: "choice = S.exercise_2()",
    },
}


def loader(notebook: str) -> str:
    return (
        "import importlib.util as _util\n"
        f"_spec = _util.spec_from_file_location('solutions', 'solutions/{notebook}.py')\n"
        "S = _util.module_from_spec(_spec)\n"
        "_spec.loader.exec_module(S)\n"
    )


@pytest.fixture(scope="module")
def environment() -> Iterator[None]:
    with LocalAwsProcess(*LOCAL_AWS_ARGS) as server:
        saved = dict(os.environ)
        os.environ.update(notebook_environment(server.port))
        for name in REMOVED:
            os.environ.pop(name, None)
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)


@pytest.mark.parametrize("notebook", sorted(ANSWERS))
def test_the_solutions_pass_every_check_in_the_notebook(environment: None, notebook: str) -> None:
    path = NOTEBOOKS / f"{notebook}.ipynb"
    lesson = nbformat.read(path, as_version=4)
    answered = set()
    for cell in lesson.cells:
        found = re.search(r"# Your turn (\d)", cell.source)
        if cell.cell_type == "code" and found:
            number = int(found.group(1))
            assert PLACEHOLDER.search(cell.source), cell.source  # it ships unanswered
            answer = loader(notebook) + ANSWERS[notebook][number]
            cell.source = PLACEHOLDER.sub("", cell.source).rstrip() + "\n" + answer
            answered.add(number)
    assert answered == {1, 2}
    NotebookClient(
        lesson,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
        skip_cells_with_tag="skip-execution",
    ).execute()
    verdicts = [
        "".join(output.get("text", "") for output in cell.outputs)
        for cell in lesson.cells
        if cell.cell_type == "code" and "check_" in cell.source and "import check_" in cell.source
    ]
    assert len(verdicts) == 2
    for verdict in verdicts:
        assert verdict.startswith("Right: "), verdict
