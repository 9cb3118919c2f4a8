"""Errors in a notebook: one readable line for what a learner can fix, full tracebacks for bugs."""

from __future__ import annotations

import nbformat
from botocore.exceptions import ClientError, EndpointConnectionError
from nbclient import NotebookClient

from tutorial_helpers import WorkshopError
from tutorial_helpers.notebook_errors import RESTART_HINT, install, one_line


def gone() -> ClientError:
    return ClientError({"Error": {"Code": "GoneException", "Message": ""}}, "PostToConnection")


def test_a_workshop_error_renders_as_its_message_alone() -> None:
    error = WorkshopError("Do this, then run the cell again.")
    assert error._render_traceback_() == ["WorkshopError: Do this, then run the cell again."]


def test_local_aws_not_running_says_to_rerun_the_first_cells() -> None:
    error = EndpointConnectionError(endpoint_url="http://127.0.0.1:4566/")
    line = one_line(error)
    assert line is not None
    assert "local_aws is not running" in line and "start_workshop()" in line


def test_aws_unreachable_points_at_the_region() -> None:
    error = EndpointConnectionError(endpoint_url="https://sts.nowhere-1.amazonaws.com/")
    assert "region" in (one_line(error) or "")


def test_an_aws_error_is_its_code_operation_and_hint() -> None:
    assert one_line(gone()) == (
        "GoneException (PostToConnection). This connection is closed, or never existed: "
        "stop using its id (a broadcast deletes its item)."
    )
    other = ClientError({"Error": {"Code": "Odd", "Message": "no"}}, "GetItem")
    assert one_line(other) == "Odd: no (GetItem)"


def test_a_bug_keeps_its_traceback() -> None:
    assert one_line(ZeroDivisionError("division by zero")) is None
    assert one_line(NameError("name 'target' is not defined")) is None


def test_outside_ipython_nothing_is_installed() -> None:
    assert install() is False


def test_in_a_kernel_errors_read_as_one_line_and_bugs_keep_their_frames() -> None:
    cells = [
        "import boto3\nimport tutorial_helpers",
        "sts = boto3.client('sts', endpoint_url='http://127.0.0.1:9', region_name='us-east-1',"
        " aws_access_key_id='k', aws_secret_access_key='s')\nsts.get_caller_identity()",
        "raise tutorial_helpers.WorkshopError('Run the first cell.')",
        "1 / 0",
        "target_lost_in_a_restart",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(notebook, kernel_name="python3", allow_errors=True, timeout=60).execute()
    errors = [[o for o in cell.outputs if o.output_type == "error"] for cell in notebook.cells]
    assert errors[0] == []
    endpoint, workshop, bug, name = (cell_errors[0] for cell_errors in errors[1:])
    assert endpoint.ename == "EndpointConnectionError"  # nbval compares the name and value
    assert len(endpoint.traceback) == 1 and "start_workshop()" in endpoint.traceback[0]
    assert workshop.traceback == ["WorkshopError: Run the first cell."]
    assert len(bug.traceback) > 1 and "ZeroDivisionError" in bug.traceback[-1]
    assert len(name.traceback) > 2 and name.traceback[-1] == RESTART_HINT
