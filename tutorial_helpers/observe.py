"""Observing a WebSocket API: the troubleshooting stack, its logs and its metrics (notebook 09).

Plain boto3: CloudWatch Logs `filter_log_events` for the function's, the access and the
execution log groups, CloudWatch `get_metric_statistics` for `AWS/ApiGateway`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import sys
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, TextIO

import pandas as pd
import websocket

from tutorial_helpers.stack import delete_stack, deploy_stack, stack_status
from tutorial_helpers.target import Target
from tutorial_helpers.template import TEMPLATE_PATH

OBSERVED_TEMPLATE_PATH = TEMPLATE_PATH.with_name("observed.yaml")
METRICS = (
    "ConnectCount",
    "MessageCount",
    "IntegrationError",
    "ClientError",
    "ExecutionError",
    "IntegrationLatency",
)


def observed_target(target: Target) -> Target:
    """The same target, for the troubleshooting stack `<workshop stack>-observed`."""
    return dataclasses.replace(target, stack_name=f"{target.stack_name}-observed")


def logging_allowed(target: Target) -> bool:
    """Whether the stage may write access and execution logs.

    On AWS a WebSocket stage logs to CloudWatch only once the account's API Gateway settings
    name a CloudWatch role (`cloudwatchRoleArn`); local_aws always may.
    """
    if target.is_local:
        return True
    with target.errors():
        return bool(target.client("apigateway").get_account().get("cloudwatchRoleArn"))


def deploy_observed(target: Target, *, out: TextIO | None = None) -> dict[str, str]:
    """Deploy (or update) the troubleshooting stack and return its outputs.

    Logging is INFO where `logging_allowed`, else OFF. Locally the deploy is silent (it takes
    a second); on AWS it shows its progress.
    """
    out = out or sys.stdout
    observed = observed_target(target)
    level = "INFO" if logging_allowed(target) else "OFF"
    outputs = deploy_stack(
        observed,
        replace_failed=True,
        template_path=OBSERVED_TEMPLATE_PATH,
        parameters={"LoggingLevel": level},
        out=io.StringIO() if target.is_local else out,
    )
    print(f"Stack {observed.stack_name} is deployed (LoggingLevel {level}).", file=out)
    return outputs


def observed_stack_status(target: Target) -> str:
    """The troubleshooting stack's status, `DOES_NOT_EXIST` when it is not there."""
    return stack_status(observed_target(target))


def log_messages(target: Target, group: str, *, since: datetime | None = None) -> list[str]:
    """Every message of the log group (from `since` on), oldest first; [] if no group yet."""
    logs = target.client("logs")
    arguments: dict[str, Any] = {"logGroupName": group}
    if since is not None:
        arguments["startTime"] = int(since.timestamp() * 1000)
    messages: list[tuple[int, str]] = []
    with target.errors():
        try:
            for page in logs.get_paginator("filter_log_events").paginate(**arguments):
                messages += [(event["timestamp"], event["message"]) for event in page["events"]]
        except logs.exceptions.ResourceNotFoundException:
            return []
    return [message.rstrip("\n") for _, message in sorted(messages, key=lambda pair: pair[0])]


def wait_for_lines(
    read: Callable[[], list[str]],
    done: Callable[[list[str]], bool],
    *,
    timeout: float = 15.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """`read()` again every half second until `done` holds of its lines (or `timeout`)."""
    deadline = time.monotonic() + timeout
    lines = read()
    while not done(lines) and time.monotonic() < deadline:
        sleep(0.5)
        lines = read()
    return lines


def access_log_table(lines: Iterable[str]) -> pd.DataFrame:
    """Access log lines of the troubleshooting stage's Format as a table, one row a request.

    The Format is `requestId eventType routeKey status connectionId integrationLatency
    error.message`; an empty `routeKey` (no route matched) is shown as "(none)".
    """
    columns = ["requestId", "eventType", "routeKey", "status", "connectionId", "latency", "error"]
    rows = []
    for line in lines:
        fields = line.split(" ", 6)
        if len(fields) == 7:
            rows.append(fields)
    table = pd.DataFrame(rows, columns=columns)
    table["routeKey"] = table["routeKey"].replace("", "(none)")
    return table


def metric_statistics(
    target: Target,
    api_id: str,
    stage: str,
    *,
    start: datetime,
    end: datetime,
    metrics: Iterable[str] = METRICS,
) -> pd.DataFrame:
    """One row per 1-minute period and metric of the stage: Sum and SampleCount.

    Dimensions `ApiId, Stage` (the stage's totals, whatever the route).
    """
    cloudwatch = target.client("cloudwatch")
    rows = []
    with target.errors():
        for metric in metrics:
            points = cloudwatch.get_metric_statistics(
                Namespace="AWS/ApiGateway",
                MetricName=metric,
                Dimensions=[{"Name": "ApiId", "Value": api_id}, {"Name": "Stage", "Value": stage}],
                StartTime=start - timedelta(minutes=1),
                EndTime=end + timedelta(minutes=1),
                Period=60,
                Statistics=["Sum", "SampleCount", "Maximum"],
            )["Datapoints"]
            rows += [
                {
                    "minute": point["Timestamp"],
                    "metric": metric,
                    "Sum": point["Sum"],
                    "SampleCount": point["SampleCount"],
                    "Maximum": point["Maximum"],
                }
                for point in points
            ]
    columns = ["minute", "metric", "Sum", "SampleCount", "Maximum"]
    return pd.DataFrame(rows, columns=columns).sort_values(["minute", "metric"], ignore_index=True)


def metric_totals(statistics: pd.DataFrame, metrics: Iterable[str] = METRICS) -> pd.DataFrame:
    """Sum and SampleCount of each metric over every period (0 for a metric with no data)."""
    totals = statistics.groupby("metric")[["Sum", "SampleCount"]].sum()
    return totals.reindex(list(metrics), fill_value=0.0)


def close_code(ws: websocket.WebSocket, timeout: float = 5.0) -> tuple[int | None, str]:
    """The close code and reason the server closed `ws` with; (None, "") if it did not."""
    ws.settimeout(timeout)
    try:
        while True:
            opcode, data = ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                if len(data) < 2:
                    return None, ""
                return int.from_bytes(data[:2], "big"), data[2:].decode("utf-8", "replace")
    except (websocket.WebSocketConnectionClosedException, TimeoutError):
        return None, ""
    except websocket.WebSocketTimeoutException:
        return None, ""


def handshake_status(websocket_url: str, query: str = "", timeout: float = 10.0) -> int:
    """The HTTP status the API answers a handshake with (101 when it connects)."""
    url = f"{websocket_url}?{query}" if query else websocket_url
    try:
        ws = websocket.create_connection(url, timeout=timeout)
    except websocket.WebSocketBadStatusException as error:
        return int(error.status_code)
    ws.close()
    return 101


def send_in_fragments(ws: websocket.WebSocket, text: str, fragment_bytes: int = 32 * 1024) -> None:
    """Send `text` as one message in frames of `fragment_bytes` (API Gateway's frame limit
    is 32 KB, its message limit 128 KB). Stops quietly if the server closes meanwhile."""
    data = text.encode("utf-8")
    pieces = [data[i : i + fragment_bytes] for i in range(0, len(data), fragment_bytes)] or [b""]
    try:
        for number, piece in enumerate(pieces):
            opcode = websocket.ABNF.OPCODE_TEXT if number == 0 else websocket.ABNF.OPCODE_CONT
            last = number == len(pieces) - 1
            ws.send_frame(websocket.ABNF.create_frame(piece, opcode, fin=int(last)))
    except (OSError, websocket.WebSocketConnectionClosedException):
        return  # the server closed the connection: close_code tells why


def execution_log_group(api_id: str, stage: str) -> str:
    """The group API Gateway writes a stage's execution logs to (and creates itself)."""
    return f"API-Gateway-Execution-Logs_{api_id}/{stage}"


def delete_observed(target: Target, api_id: str, stage: str, *, out: TextIO | None = None) -> None:
    """Delete the troubleshooting stack and its stage's execution log group.

    The stack does not own that group (API Gateway created it), so deleting the stack leaves
    it. Locally the delete is silent; on AWS it shows its progress.
    """
    out = out or sys.stdout
    observed = observed_target(target)
    delete_stack(observed, out=io.StringIO() if target.is_local else out)
    logs = target.client("logs")
    with target.errors(), contextlib.suppress(logs.exceptions.ResourceNotFoundException):
        logs.delete_log_group(logGroupName=execution_log_group(api_id, stage))
    print(f"Stack {observed.stack_name} and its execution log group are deleted.", file=out)
