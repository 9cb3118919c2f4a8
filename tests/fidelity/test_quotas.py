"""Reference §7.9, §7.10, §3.7 and §5.1: frame and message quotas, timeouts, hostile clients.

Frame-level abuse that a WebSocket library will not produce goes through raw sockets.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
import time

import pytest
import websocket

from tests.fidelity.support import recorded_event
from tests.support import LocalAwsProcess, deploy, wait_for
from tests.support.clients import (
    ask,
    connect,
    get_item,
    http_endpoint,
    raw_socket,
    send_fragments,
    server_close,
    whoami,
)

KB = 1024
FRAME_LIMIT = 32 * KB
MESSAGE_LIMIT = 128 * KB


def padded_message(size: int) -> str:
    """A `behave`/`pid` message of exactly `size` bytes: small answer, whatever the size."""
    skeleton = json.dumps({"action": "behave", "do": "pid", "pad": ""})
    return skeleton[:-2] + "x" * (size - len(skeleton)) + skeleton[-2:]


def still_serving(lambda_api) -> bool:
    """A brand-new client can connect and get an answer."""
    ws = connect(lambda_api["WebSocketURL"], timeout=5)
    try:
        return isinstance(json.loads(ask(ws, {"action": "behave", "do": "pid"})), int)
    finally:
        ws.close()


def assert_closed_with(local_aws, lambda_api, ws, connection_id: str, code: int) -> None:
    """The server closed with `code`, and $disconnect ran with that status code."""
    assert server_close(ws)[0] == code
    ws.close()
    event = recorded_event(local_aws, lambda_api["EventsTableName"], connection_id, "DISCONNECT")
    assert event is not None, "$disconnect did not run"
    assert event["requestContext"]["disconnectStatusCode"] == code


@pytest.fixture
def client(lambda_api):
    ws = connect(lambda_api["WebSocketURL"])
    yield ws, whoami(ws)
    ws.close()


# ---------------------------------------------------------------- frames


def test_binary_frame_closes_with_1003(local_aws, lambda_api, client) -> None:
    ws, connection_id = client
    ws.send_binary(b"\x00\x01binary")
    assert_closed_with(local_aws, lambda_api, ws, connection_id, 1003)


def test_invalid_utf8_in_a_text_frame_closes_with_1007(local_aws, lambda_api, client) -> None:
    ws, connection_id = client
    ws.send_frame(
        websocket.ABNF.create_frame(b'{"action": "\xc3\x28"}', websocket.ABNF.OPCODE_TEXT)
    )
    assert_closed_with(local_aws, lambda_api, ws, connection_id, 1007)


def test_frame_of_exactly_32_kb_is_accepted(client) -> None:
    ws, _ = client
    ws.send(padded_message(FRAME_LIMIT))
    assert isinstance(json.loads(ws.recv()), int)


def test_frame_over_32_kb_closes_with_1009(local_aws, lambda_api, client) -> None:
    ws, connection_id = client
    ws.send(padded_message(FRAME_LIMIT + 1))
    assert_closed_with(local_aws, lambda_api, ws, connection_id, 1009)


@pytest.mark.parametrize("size", [100 * KB, MESSAGE_LIMIT])
def test_message_in_32_kb_fragments_up_to_128_kb_is_accepted(client, size) -> None:
    ws, _ = client
    send_fragments(ws, padded_message(size), FRAME_LIMIT)
    assert isinstance(json.loads(ws.recv()), int)


def test_message_over_128_kb_in_32_kb_fragments_closes_with_1009(
    local_aws, lambda_api, client
) -> None:
    ws, connection_id = client
    send_fragments(ws, padded_message(MESSAGE_LIMIT + 1), FRAME_LIMIT)
    assert_closed_with(local_aws, lambda_api, ws, connection_id, 1009)


def test_fragmented_message_reaches_the_function_whole(client) -> None:
    ws, _ = client
    # 30 KB of two-byte characters in 1001-byte fragments: most splits fall mid-character.
    text = json.dumps({"action": "whoami", "data": "é" * 15_000}, ensure_ascii=False)
    send_fragments(ws, text, 1001)
    assert json.loads(ws.recv())["body"] == text


def test_lying_frame_header_costs_only_that_connection(local_aws, lambda_api, client) -> None:
    """A 14-byte header announcing a 100 MiB payload, then nothing (reference §12.4 crash)."""
    bystander, bystander_id = client
    liar = connect(lambda_api["WebSocketURL"])
    liar_id = whoami(liar)
    header = bytes([0x81, 0xFF]) + struct.pack("!Q", 100 * 1024 * 1024) + os.urandom(4)
    assert len(header) == 14
    liar.sock.sendall(header)
    assert_closed_with(local_aws, lambda_api, liar, liar_id, 1009)
    assert local_aws.process.poll() is None
    assert whoami(bystander) == bystander_id
    assert still_serving(lambda_api)


# ---------------------------------------------------------------- @connections


def test_post_to_connection_over_128_kb_is_413(local_aws, lambda_api, client) -> None:
    ws, connection_id = client
    management = local_aws.client(
        "apigatewaymanagementapi", endpoint_url=http_endpoint(lambda_api["WebSocketURL"])
    )
    with pytest.raises(management.exceptions.PayloadTooLargeException) as refused:
        management.post_to_connection(ConnectionId=connection_id, Data=b"x" * (MESSAGE_LIMIT + 1))
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    # Nothing was delivered, and exactly 128 KB is.
    management.post_to_connection(ConnectionId=connection_id, Data=b"y" * MESSAGE_LIMIT)
    assert ws.recv() == "y" * MESSAGE_LIMIT


# ---------------------------------------------------------------- hostile clients


def test_flooding_client_does_not_stop_other_clients(lambda_api, client) -> None:
    """Thousands of messages sent without reading a single answer."""
    bystander, bystander_id = client
    flooder = connect(lambda_api["WebSocketURL"])
    message = json.dumps({"action": "whoami", "flood": "x" * 200})
    sent = []

    def flood() -> None:
        try:
            for _ in range(5000):
                flooder.send(message)
                sent.append(1)
        except (OSError, websocket.WebSocketException):
            pass  # the socket is closed under it at the end of the test

    thread = threading.Thread(target=flood, daemon=True)
    thread.start()
    try:
        wait_for(lambda: len(sent) >= 1000, timeout=10)
        started = time.monotonic()
        assert still_serving(lambda_api)
        assert whoami(bystander) == bystander_id
        assert time.monotonic() - started < 10  # generous: the machine is busy flooding
    finally:
        flooder.sock.shutdown(socket.SHUT_RDWR)
        flooder.sock.close()
        thread.join(timeout=10)
    assert len(sent) >= 1000


def test_half_open_handshakes_do_not_stop_other_clients(lambda_api) -> None:
    """TCP connections that send part of a handshake and then hold."""
    url = lambda_api["WebSocketURL"]
    path = url.split("/", 3)[3]
    holders = []
    try:
        for index in range(50):
            sock = raw_socket(url)
            partial = f"GET /{path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            sock.sendall(partial.encode()[: 20 + index])
            holders.append(sock)
        for _ in range(3):
            assert still_serving(lambda_api)
    finally:
        for sock in holders:
            sock.close()


def test_silent_tcp_connection_does_not_stop_other_clients(lambda_api) -> None:
    url = lambda_api["WebSocketURL"]
    silent = [raw_socket(url) for _ in range(50)]
    try:
        assert still_serving(lambda_api)
    finally:
        for sock in silent:
            sock.close()


# ---------------------------------------------------------------- timeouts (short_lived)


@pytest.fixture(scope="module")
def short_stack(short_lived: LocalAwsProcess) -> dict[str, str]:
    """The workshop template on the local_aws with a 1 s idle timeout and a 5 s maximum."""
    return deploy(short_lived, "timeouts")


def test_idle_connection_is_closed_with_1001_then_disconnected(short_lived, short_stack) -> None:
    connected = time.monotonic()
    ws = connect(short_stack["WebSocketURL"])
    sent = time.monotonic()  # the server receives the message after this: its idle clock
    connection_id = whoami(ws)
    table = short_stack["SessionsTableName"]
    assert get_item(short_lived, table, connection_id)
    code, _ = server_close(ws, timeout=10)
    closed = time.monotonic()
    ws.close()
    assert code == 1001
    assert closed - sent >= 0.95, closed - sent  # not before 1 s without a message
    assert closed - connected < 4.5, closed - connected  # idle, not the 5 s maximum
    assert wait_for(lambda: get_item(short_lived, table, connection_id) is None)


def test_pings_do_not_count_as_activity(short_lived, short_stack) -> None:
    """docs/fidelity.md 9e: a client that only pings is idle, and is closed at the timeout."""
    started = time.monotonic()
    ws = connect(short_stack["WebSocketURL"])
    whoami(ws)
    ws.settimeout(0.2)
    code = None
    while code is None and time.monotonic() - started < 10:
        try:
            ws.ping("still here")
        except (websocket.WebSocketConnectionClosedException, ConnectionError):
            code = 1006
            break
        try:
            frame = ws.recv_frame()
        except websocket.WebSocketTimeoutException:
            continue
        except (websocket.WebSocketConnectionClosedException, ConnectionError):
            code = 1006
            break
        if frame.opcode == websocket.ABNF.OPCODE_CLOSE:
            code = struct.unpack("!H", frame.data[:2])[0]
    elapsed = time.monotonic() - started
    ws.close()
    assert code == 1001, code  # closed as idle, although it pinged every 0.2 s
    assert elapsed < 4.5, elapsed  # the 1 s idle timeout, not the 5 s maximum


def test_busy_connection_is_closed_with_1001_at_the_maximum_duration(
    short_lived, short_stack
) -> None:
    started = time.monotonic()
    ws = connect(short_stack["WebSocketURL"])
    connection_id = whoami(ws)
    table = short_stack["SessionsTableName"]
    code = None
    while time.monotonic() - started < 12:  # a message every 0.3 s: never idle for 1 s
        try:
            ws.send('{"action": "still-here"}')
            ws.settimeout(0.3)
            frame = ws.recv_frame()
        except websocket.WebSocketTimeoutException:
            continue
        except (websocket.WebSocketConnectionClosedException, OSError):
            break
        if frame.opcode == websocket.ABNF.OPCODE_CLOSE:
            code = struct.unpack("!H", frame.data[:2])[0]
            break
        time.sleep(0.3)
    elapsed = time.monotonic() - started
    ws.close()
    assert code == 1001
    assert 4.8 <= elapsed < 9.0, elapsed  # the 5 s maximum, late only on a busy machine
    assert wait_for(lambda: get_item(short_lived, table, connection_id) is None)


def test_a_client_that_does_not_read_is_dropped_with_1008(local_aws, lambda_api) -> None:
    """Pongs it never reads fill its write buffer: the gateway drops the client (no close
    frame could reach it) and `$disconnect` says why, with 1008 (docs/security.md)."""
    ws = connect(lambda_api["WebSocketURL"])
    connection_id = whoami(ws)  # from now on the client reads nothing
    ping = websocket.ABNF.create_frame(os.urandom(125), websocket.ABNF.OPCODE_PING).format()
    flood = ping * 8000  # 1 MiB of pings, answered with 1 MiB of pongs
    ws.sock.settimeout(10)
    with pytest.raises((ConnectionError, TimeoutError)):
        for _ in range(200):
            ws.sock.sendall(flood)
    ws.sock.close()
    event = recorded_event(local_aws, lambda_api["EventsTableName"], connection_id, "DISCONNECT")
    context = event["requestContext"]
    assert context["disconnectStatusCode"] == 1008
    assert context["disconnectReason"] == "Client does not read: write buffer limit exceeded"
