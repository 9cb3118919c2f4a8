"""Follow a CloudFormation stack while it changes: its events as lines, with a count, to its end.

`stack_events` gives all of a stack's events afterwards as a table (no times), for the lessons
to count by resource type and status.

Throttled calls (many learners polling one account) are retried by botocore itself, with
the backoff `target.AWS_CLIENT_CONFIG` sets: the helpers add no retry loop of their own.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC
from typing import Any, TextIO

import pandas as pd
from botocore.exceptions import ClientError

from tutorial_helpers.errors import WorkshopError


def describe_stack(cloudformation: Any, stack_name: str) -> dict[str, Any] | None:
    """The stack as `describe_stacks` returns it, or None if there is no such stack."""
    try:
        stack: dict[str, Any] = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    except ClientError as error:
        if "does not exist" in error.response["Error"].get("Message", ""):
            return None
        raise
    return stack


def event_ids(cloudformation: Any, stack_id: str) -> set[str]:
    """The ids of the stack's events so far (to print only the ones that follow)."""
    events = cloudformation.describe_stack_events(StackName=stack_id)["StackEvents"]
    return {event["EventId"] for event in events}


def stack_events(cloudformation: Any, stack_id: str) -> pd.DataFrame:
    """Every event of the stack so far, oldest first: logical id, type, status, reason.

    `stack_id` may be the stack's name, or its id (ARN), which still answers after the
    stack is deleted.
    """
    columns = ["logical id", "type", "status", "reason"]
    paginator = cloudformation.get_paginator("describe_stack_events")
    events = [
        event for page in paginator.paginate(StackName=stack_id) for event in page["StackEvents"]
    ]
    rows = [
        (
            event["LogicalResourceId"],
            event["ResourceType"],
            event["ResourceStatus"],
            event.get("ResourceStatusReason", ""),
        )
        for event in reversed(events)  # AWS lists the newest first
    ]
    return pd.DataFrame(rows, columns=columns)


def failure_reasons(cloudformation: Any, stack_id: str) -> list[str]:
    """`logical id: reason` for each failed resource event, oldest first."""
    events = cloudformation.describe_stack_events(StackName=stack_id)["StackEvents"]
    return [
        f"{event['LogicalResourceId']}: {event['ResourceStatusReason']}"
        for event in reversed(events)
        if event["ResourceStatus"].endswith("_FAILED") and event.get("ResourceStatusReason")
    ]


def _event_line(event: dict[str, Any], progress: str = "") -> str:
    when = event["Timestamp"].astimezone(UTC).strftime("%H:%M:%S")
    reason = event.get("ResourceStatusReason") or ""
    resource, status = event["LogicalResourceId"], event["ResourceStatus"]
    return f"{when}  {progress}{resource:<32} {status:<20} {reason}".rstrip()


def watch_stack(
    cloudformation: Any,
    stack_id: str,
    *,
    total_resources: int,
    seen_event_ids: Iterable[str] = (),
    poll_seconds: float = 5.0,
    timeout_seconds: float = 1800.0,
    sleep: Callable[[float], None] = time.sleep,
    out: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Print the stack's new events until it settles; return its final status.

    `stack_id` is the stack's id (ARN), which still answers after the stack is deleted. Each
    new event is one plain line; the line of a resource reaching a `*_COMPLETE` state first
    counts it (`3/18`). Plain lines read the same live, in a saved notebook and on GitHub
    (a redrawn progress bar leaves its intermediate states and rates in the saved output).
    """
    out = out or sys.stdout
    seen = set(seen_event_ids)
    done: set[str] = set()
    stack_name = stack_id.split("/")[1] if stack_id.startswith("arn:") else stack_id
    width = len(f"{total_resources}/{total_resources}")
    started = clock()
    while True:
        events = cloudformation.describe_stack_events(StackName=stack_id)["StackEvents"]
        for event in reversed(events):  # AWS lists the newest first
            if event["EventId"] in seen:
                continue
            seen.add(event["EventId"])
            resource = event["LogicalResourceId"]
            finished = event["ResourceStatus"].endswith(("_COMPLETE", "_SKIPPED"))
            progress = " " * width
            if resource != stack_name and finished and resource not in done:
                done.add(resource)
                progress = f"{len(done)}/{total_resources}".rjust(width)
            print(_event_line(event, progress + "  "), file=out, flush=True)
        stack = describe_stack(cloudformation, stack_id)
        status: str = stack["StackStatus"] if stack else "DELETE_COMPLETE"
        if not status.endswith("_IN_PROGRESS"):
            return status
        if clock() - started > timeout_seconds:
            raise WorkshopError(
                f"Stack {stack_name} is still {status} after {timeout_seconds / 60:.0f} "
                "minutes. Look at its Events tab in the CloudFormation console."
            )
        sleep(poll_seconds)
