"""Helpers of the fidelity suite: AWS's formats, and what its fixture functions recorded.

The generic client helpers (connect, ask, whoami, ...) are in tests/support/clients.py.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support import LocalAwsProcess, wait_for
from tests.support.clients import connect, get_item, whoami

TEMPLATES = Path(__file__).resolve().parent / "templates"

# reference §5.2 / §7.2: base64 (URL-safe alphabet) of 11 bytes. 88 bits fill 14 characters and
# 4 bits of the 15th, so the 15th is one of the 16 characters whose low 2 bits are zero.
AWS_ID = re.compile(r"^[A-Za-z0-9_-]{14}[AEIMQUYcgkosw048]=$")
# reference §3.1 / §7.3: CLF, English month abbreviations, UTC.
CLF_TIME = re.compile(
    r"^(?P<day>\d{2})/(?P<month>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/"
    r"(?P<year>\d{4}):(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2}) \+0000$"
)
_ID = r"[A-Za-z0-9_-]{14}[AEIMQUYcgkosw048]="


def error_frame_pattern(message: str) -> re.Pattern[str]:
    """The error frame AWS sends, byte for byte (reference §3.6), with both ids captured."""
    return re.compile(
        r'^\{"message": "'
        + re.escape(message)
        + r'", "connectionId":"(?P<connectionId>'
        + _ID
        + r')", "requestId":"(?P<requestId>'
        + _ID
        + r')"\}$'
    )


def recorded_event_now(
    server: LocalAwsProcess, table: str, connection_id: str, event_type: str
) -> dict | None:
    """The event the lambda_api Recorder function stored for this connection so far, if any."""
    key = {"connectionid": {"S": connection_id}, "eventType": {"S": event_type}}
    item = server.client("dynamodb").get_item(TableName=table, Key=key).get("Item")
    return json.loads(item["event"]["S"]) if item else None


def recorded_event(
    server: LocalAwsProcess, table: str, connection_id: str, event_type: str, timeout: float = 10.0
) -> dict:
    """The event the lambda_api Recorder function stored for this connection (waits for it)."""
    return wait_for(
        lambda: recorded_event_now(server, table, connection_id, event_type),
        timeout,
        f"no {event_type} event was recorded for {connection_id}",
    )


def rss_kib(pid: int) -> int:
    """Resident set size of a process, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


# Every attribute the workshop template's $connect integration writes, and nothing else.
ITEM_ATTRIBUTES = {
    "connectionid",
    "connectedAt",
    "ttl",
    "sourceIp",
    "userAgent",
    "querystring",
    "headers",
}


def stored_item(
    local_aws: LocalAwsProcess,
    workshop: dict[str, str],
    query: str = "",
    headers: list[str] | None = None,
) -> dict:
    """Connect with this query and these headers; the item $connect wrote, checked whole."""
    ws = connect(workshop["WebSocketURL"], query, headers, timeout=5)
    try:
        connection_id = whoami(ws)
        item = wait_for(
            lambda: get_item(local_aws, workshop["SessionsTableName"], connection_id),
            message="the $connect integration stored no item",
        )
    finally:
        ws.close()
    assert set(item) == ITEM_ATTRIBUTES
    assert item["connectionid"] == {"S": connection_id}
    return item


def metric_sum(server: LocalAwsProcess, outputs: dict[str, str], metric: str) -> float:
    """The Sum of an `AWS/ApiGateway` metric of the outputs' API and stage, last 10 minutes."""
    now = datetime.now(UTC)
    points = server.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/ApiGateway",
        MetricName=metric,
        Dimensions=[
            {"Name": "ApiId", "Value": outputs["ApiId"]},
            {"Name": "Stage", "Value": outputs["StageName"]},
        ],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(point["Sum"] for point in points)


def probe(server: LocalAwsProcess, function_name: str, **event: object) -> dict:
    """Invoke the aws_host_names.yaml `Probe` function: it makes one boto3 call (`service`,
    `call`, `args`) at `endpoint` (None: boto3's default, AWS_ENDPOINT_URL unset) and returns
    the `answer` (or {"error", "message"}), the client's `url` and its trust `environment`."""
    answer = server.client("lambda").invoke(
        FunctionName=function_name, Payload=json.dumps(event).encode()
    )
    result = json.loads(answer["Payload"].read())
    assert answer.get("FunctionError") is None, result
    return result
