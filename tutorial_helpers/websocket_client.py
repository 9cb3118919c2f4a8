"""A WebSocket client for the lessons: connect, send, receive, all with timeouts.

Plain websocket-client (`websocket.create_connection`). Works with `ws://` (local_aws) and
`wss://` (AWS, TLS) URLs alike.
"""

from __future__ import annotations

import json
import socket
import ssl
from typing import Any
from urllib.parse import urlencode

import websocket

from tutorial_helpers.errors import WorkshopError

USER_AGENT = "apigw-websocket-workshop"


def connection_url(websocket_url: str, query: dict[str, str] | None = None) -> str:
    """The stack's `WebSocketURL` with a query string added (values are URL-encoded)."""
    return f"{websocket_url}?{urlencode(query)}" if query else websocket_url


def connect(
    websocket_url: str,
    *,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> websocket.WebSocket:
    """Open a WebSocket connection (the API runs `$connect` during this handshake).

    `query` becomes the query string and `headers` extra handshake headers; both reach the
    `$connect` integration. `timeout` also applies to every later receive. Raises
    `WorkshopError` when nothing answers, the API refuses the handshake, or it times out.
    """
    url = connection_url(websocket_url, query)
    all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    try:
        return websocket.create_connection(url, header=all_headers, timeout=timeout)
    except ConnectionRefusedError:
        raise WorkshopError(
            f"Nothing accepts connections at {websocket_url}. Locally, local_aws is not "
            "running: run 00_setup.ipynb (or `make local-aws`). If it runs, the stack may "
            "have been deleted: run 01_deploy.ipynb."
        ) from None
    except websocket.WebSocketBadStatusException as error:
        raise WorkshopError(
            f"The API refused the handshake with HTTP {error.status_code}. A 403 means no "
            "API or stage at this URL: the stack was deleted or redeployed, so read the URL "
            "again from the stack outputs (or run 01_deploy.ipynb). A 5xx means the $connect "
            "integration failed: look at the stack's events and the table."
        ) from None
    except ssl.SSLError as error:
        raise WorkshopError(
            f"The TLS handshake with {websocket_url} failed ({error.reason}). If your network "
            "inspects TLS traffic, set WEBSOCKET_CLIENT_CA_BUNDLE to your organisation's CA "
            "bundle (a .pem file) and restart the kernel."
        ) from None
    except (TimeoutError, websocket.WebSocketTimeoutException):
        raise WorkshopError(
            f"No handshake answer from {websocket_url} within {timeout} s. Check the URL "
            "(it ends with the stage, /api) and your network."
        ) from None


def send_json(ws: websocket.WebSocket, message: dict[str, Any]) -> None:
    """Send `message` as one JSON text frame."""
    ws.send(json.dumps(message))


def receive(ws: websocket.WebSocket, timeout: float = 5.0) -> str | bytes:
    """The next message: a text frame as str (a binary one as bytes).

    `WorkshopError` if none arrives within `timeout` seconds.
    """
    ws.settimeout(timeout)
    try:
        return ws.recv()
    except (TimeoutError, websocket.WebSocketTimeoutException):
        raise WorkshopError(
            f"No message arrived within {timeout} s. A route answers only if it has a route "
            "response (our $default has one); @connections posts arrive only on the "
            "connection they name."
        ) from None
    except websocket.WebSocketConnectionClosedException:
        raise WorkshopError(
            "The connection is closed: the server (or @connections DELETE) closed it. "
            "Open a new one with connect()."
        ) from None


def receive_json(ws: websocket.WebSocket, timeout: float = 5.0) -> Any:
    """The next text frame, parsed as JSON."""
    return json.loads(receive(ws, timeout))


def my_connection_id(ws: websocket.WebSocket, timeout: float = 5.0) -> str:
    """This connection's id, read from the event our `$default` echo route sends back.

    API Gateway never tells a client its own connection id; the backend knows it.
    """
    send_json(ws, {"action": "whoami"})
    return receive_json(ws, timeout)["requestContext"]["connectionId"]


def drop(ws: websocket.WebSocket) -> None:
    """End the connection without a close frame, as a lost network or killed process does."""
    sock = ws.sock
    if sock is None:  # websocket-client drops its socket once the connection is closed
        raise WorkshopError("This connection is already closed: open a new one with connect().")
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def is_closed_by_server(ws: websocket.WebSocket, timeout: float = 5.0) -> bool:
    """True once the server closes the connection (a close frame, or the socket ends)."""
    ws.settimeout(timeout)
    try:
        while True:
            opcode, _ = ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return True
    except websocket.WebSocketConnectionClosedException:
        return True
    except (TimeoutError, websocket.WebSocketTimeoutException):
        return False
