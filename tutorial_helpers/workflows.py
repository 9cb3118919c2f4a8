"""Notebook 09's callback stack (`cfn/sfn.yaml`): a route starts a Step Functions workflow,
and the workflow tells the client later through `@connections`.

The stack is `<workshop stack>-workflow`, next to the workshop's. Its `report` route starts
a STANDARD execution and answers at once; the execution waits `WorkSeconds` (standing for
the work), then posts `{"done": job, ...}` to the connection.
"""

from __future__ import annotations

import dataclasses
import io
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import pandas as pd

from tutorial_helpers.stack import delete_stack, deploy_stack, stack_status
from tutorial_helpers.target import Target
from tutorial_helpers.template import TEMPLATE_PATH

WORKFLOW_TEMPLATE_PATH = TEMPLATE_PATH.with_name("sfn.yaml")
WORK_SECONDS = 45  # longer than API Gateway's 29 s integration timeout: the point of it


def workflow_target(target: Target) -> Target:
    """The same target, for the callback stack `<workshop stack>-workflow`."""
    return dataclasses.replace(target, stack_name=f"{target.stack_name}-workflow")


def deploy_workflow(
    target: Target, *, work_seconds: int = WORK_SECONDS, out: TextIO | None = None
) -> dict[str, str]:
    """Deploy (or update) the callback stack and return its outputs.

    Locally the deploy is silent (it takes a second); on AWS it shows its progress.
    """
    out = out or sys.stdout
    workflow = workflow_target(target)
    outputs = deploy_stack(
        workflow,
        replace_failed=True,
        template_path=WORKFLOW_TEMPLATE_PATH,
        capabilities=["CAPABILITY_IAM"],
        parameters={"WorkSeconds": str(work_seconds)},
        out=io.StringIO() if target.is_local else out,
    )
    print(f"Stack {workflow.stack_name} is deployed (work takes {work_seconds} s).", file=out)
    return outputs


def workflow_stack_status(target: Target) -> str:
    """The callback stack's status, `DOES_NOT_EXIST` when it is not there."""
    return stack_status(workflow_target(target))


def delete_workflow(target: Target, *, out: TextIO | None = None) -> None:
    """Delete the callback stack (silently locally; with its progress on AWS)."""
    out = out or sys.stdout
    workflow = workflow_target(target)
    delete_stack(workflow, out=io.StringIO() if target.is_local else out)
    print(f"Stack {workflow.stack_name} is deleted.", file=out)


def wait_for_execution(
    target: Target,
    execution_arn: str,
    *,
    timeout: float = 180.0,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """`describe_execution` again every half second until the execution is no longer
    RUNNING (or `timeout` seconds have passed); its last description."""
    sfn = target.client("stepfunctions")
    deadline = time.monotonic() + timeout
    with target.errors():
        while True:
            described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING" or time.monotonic() >= deadline:
                return described
            sleep(0.5)


def history_table(events: list[dict[str, Any]]) -> pd.DataFrame:
    """An execution's history as a table: one row per event, with the state it is about
    (entered or exited) where it names one, and the error of a failure."""
    rows = []
    for event in events:
        details: dict[str, Any] = next(
            (value for key, value in event.items() if key.endswith("EventDetails")), {}
        )
        rows.append(
            {
                "id": event["id"],
                "type": event["type"],
                "state": details.get("name", ""),
                "error": details.get("error", ""),
            }
        )
    return pd.DataFrame(rows, columns=["id", "type", "state", "error"])


def execution_history(target: Target, execution_arn: str) -> pd.DataFrame:
    """`get_execution_history` of the execution (every page), as `history_table`."""
    sfn = target.client("stepfunctions")
    events: list[dict[str, Any]] = []
    with target.errors():
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events += page["events"]
    return history_table(events)
