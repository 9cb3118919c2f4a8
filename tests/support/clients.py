"""Talking to a local_aws WebSocket API as a client would.

websocket-client for what a real client does, http.client and raw sockets for the protocol
abuse a real client cannot produce, boto3 for the backend's side.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import struct
from typing import Any
from urllib.parse import urlsplit

import websocket

from tests.support.launcher import LocalAwsProcess


def connect(
    url: str, query: str = "", headers: list[str] | None = None, timeout: float = 10.0, **kwargs
) -> websocket.WebSocket:
    """Open a WebSocket connection to a stage URL, with this query string and these headers."""
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
    """Send a message as a JSON text frame."""
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


def management(server: LocalAwsProcess, websocket_url: str) -> Any:
    """A boto3 `apigatewaymanagementapi` client for this stage's @connections."""
    return server.client("apigatewaymanagementapi", endpoint_url=http_endpoint(websocket_url))


def get_item(server: LocalAwsProcess, table: str, connection_id: str) -> dict | None:
    """The item keyed by this connection id (the workshop table's key), or None."""
    key = {"connectionid": {"S": connection_id}}
    return server.client("dynamodb").get_item(TableName=table, Key=key).get("Item")
