"""Helpers for the fidelity suite: deploying fixture templates and talking WebSocket like a client.

Everything here acts as a user would: boto3, websocket-client, and raw sockets for the
protocol abuse a real client cannot produce.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import socket
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import websocket

from tests.conftest import LocalAwsProcess

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

T = TypeVar("T")


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


def deploy_template(
    server: LocalAwsProcess, stack_name: str, template: str, **parameters: str
) -> dict[str, str]:
    """Create a stack from tests/fidelity/templates/<template> and return its outputs."""
    cloudformation = server.client("cloudformation")
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=(TEMPLATES / template).read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    cloudformation.get_waiter("stack_create_complete").wait(
        StackName=stack_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}


def wait_for(predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.05) -> T:
    """Poll until predicate() is truthy; return its value (or the last falsy one)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def connect(
    url: str, query: str = "", headers: list[str] | None = None, timeout: float = 10.0, **kwargs
) -> websocket.WebSocket:
    return websocket.create_connection(url + query, header=headers or [], timeout=timeout, **kwargs)


def handshake_status(
    url: str, query: str = "", headers: list[str] | None = None, timeout: float = 10.0
) -> int:
    """The HTTP status of a handshake: 101 if it is accepted, else the refusal's status.

    Sent with http.client rather than a WebSocket client, which would follow or reject
    redirects instead of reporting them.
    """
    parts = urlsplit(url + query)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    request_headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        "Sec-WebSocket-Version": "13",
    }
    for header in headers or []:
        name, value = header.split(":", 1)
        request_headers[name.strip()] = value.strip()
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("GET", path, headers=request_headers)
        return connection.getresponse().status
    finally:
        connection.close()


def send_json(ws: websocket.WebSocket, message: Any) -> None:
    ws.send(json.dumps(message))


def ask(ws: websocket.WebSocket, message: Any) -> str:
    """Send a JSON message and return the next text frame."""
    send_json(ws, message)
    return ws.recv()


def whoami(ws: websocket.WebSocket) -> str:
    """The connection's id, from the event a `$default` echo sends back."""
    event = json.loads(ask(ws, {"action": "whoami"}))
    return event["requestContext"]["connectionId"]


def nothing_received(ws: websocket.WebSocket, seconds: float) -> bool:
    """True if no frame arrives within `seconds`."""
    previous = ws.gettimeout()
    ws.settimeout(seconds)
    try:
        ws.recv_frame()
    except websocket.WebSocketTimeoutException:
        return True
    finally:
        ws.settimeout(previous)
    return False


def server_close(ws: websocket.WebSocket, timeout: float = 10.0) -> tuple[int, str]:
    """Read frames until the server's close frame; return its code and reason.

    1006 (no close frame) if the server drops the TCP connection without one.
    """
    ws.settimeout(timeout)
    while True:
        try:
            frame = ws.recv_frame()
        except (websocket.WebSocketConnectionClosedException, ConnectionError):
            return 1006, ""
        if frame.opcode == websocket.ABNF.OPCODE_CLOSE:
            data = frame.data or b""
            if len(data) < 2:
                return 1005, ""
            return struct.unpack("!H", data[:2])[0], data[2:].decode("utf-8", "replace")


def send_fragments(ws: websocket.WebSocket, text: str, fragment_size: int) -> None:
    """Send one text message as fragments of at most `fragment_size` bytes."""
    data = text.encode()
    chunks = [data[i : i + fragment_size] for i in range(0, len(data), fragment_size)]
    for index, chunk in enumerate(chunks):
        opcode = websocket.ABNF.OPCODE_TEXT if index == 0 else websocket.ABNF.OPCODE_CONT
        frame = websocket.ABNF.create_frame(chunk, opcode, fin=int(index == len(chunks) - 1))
        ws.send_frame(frame)


def raw_socket(url: str) -> socket.socket:
    """A plain TCP connection to the host and port of a ws:// URL."""
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def http_endpoint(websocket_url: str) -> str:
    """The @connections endpoint: the stage URL over http://."""
    return websocket_url.replace("ws://", "http://", 1)


def get_item(server: LocalAwsProcess, table: str, connection_id: str) -> dict | None:
    key = {"connectionid": {"S": connection_id}}
    return server.client("dynamodb").get_item(TableName=table, Key=key).get("Item")


def recorded_event(
    server: LocalAwsProcess, table: str, connection_id: str, event_type: str, timeout: float = 5.0
) -> dict | None:
    """The event the lambda_api Recorder function stored for this connection, if any."""
    dynamodb = server.client("dynamodb")
    key = {"connectionid": {"S": connection_id}, "eventType": {"S": event_type}}

    def read() -> dict | None:
        item = dynamodb.get_item(TableName=table, Key=key).get("Item")
        return json.loads(item["event"]["S"]) if item else None

    return wait_for(read, timeout)


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


def stored_item(local_aws, workshop, query: str = "", headers: list[str] | None = None):
    """Connect with this query and these headers; the item $connect wrote, checked whole."""
    ws = connect(workshop["WebSocketURL"], query, headers, timeout=5)
    try:
        connection_id = whoami(ws)
        item = wait_for(lambda: get_item(local_aws, workshop["SessionsTableName"], connection_id))
    finally:
        ws.close()
    assert item, "the $connect integration stored no item"
    assert set(item) == ITEM_ATTRIBUTES
    assert item["connectionid"] == {"S": connection_id}
    return item
