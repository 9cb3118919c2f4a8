"""No client can hold connections, memory or callers without bound (docs/security.md).

Each test plays one abusive client against a real `python -m local_aws` with a 1 s handshake
timeout: silent and slow handshakes, a ping flood, a client that never reads, and a stack
deleted under its connected clients.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.fidelity.support import rss_kib
from tests.support import TEMPLATE, LocalAwsProcess, deploy, wait_for
from tests.support.clients import connect, http_endpoint, raw_socket, server_close, whoami

HANDSHAKE_TIMEOUT = 1.0
NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"})


@pytest.fixture(scope="module")
def server() -> Iterator[LocalAwsProcess]:
    process = LocalAwsProcess("--handshake-timeout", str(HANDSHAKE_TIMEOUT))
    yield process
    process.stop()


@pytest.fixture(scope="module")
def workshop(server: LocalAwsProcess) -> dict[str, str]:
    return deploy(server, "security-connections")


def upgrade_request(url: str, query: str = "") -> bytes:
    parts = urlsplit(url)
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {parts.path}{query} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def closed_by_server(sock: socket.socket, timeout: float) -> bool:
    """Whether the server closes the connection (EOF or reset) within `timeout`."""
    sock.settimeout(timeout)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


def item_count(server: LocalAwsProcess, table: str) -> int:
    return server.client("dynamodb").scan(TableName=table, Select="COUNT")["Count"]


def open_websocket(url: str, query: str = "") -> socket.socket:
    """A raw socket past the handshake (101 read), for frames a client library won't send."""
    sock = raw_socket(url)
    sock.sendall(upgrade_request(url, query))
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def masked_frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return struct.pack("!BB", 0x80 | opcode, 0x80 | len(payload)) + mask + masked


# ---------------------------------------------------------------- 1. handshake timeout


def test_silent_half_sent_and_slow_handshakes_are_closed(server, workshop) -> None:
    url = workshop["WebSocketURL"]
    silent = raw_socket(url)
    half = raw_socket(url)
    half.sendall(upgrade_request(url)[:30])
    slow = raw_socket(url)
    request = upgrade_request(url)
    started = time.monotonic()
    slow.settimeout(0.3)
    closed = False
    for byte in request:  # one byte every 0.3 s: each one arrives well within the timeout
        try:
            slow.send(bytes([byte]))
            if slow.recv(4096) == b"":
                closed = True
                break
        except TimeoutError:
            continue
        except ConnectionError:
            closed = True
            break
    slow_closed_after = time.monotonic() - started
    assert closed and slow_closed_after < HANDSHAKE_TIMEOUT + 0.7
    assert closed_by_server(
        silent, max(0.05, HANDSHAKE_TIMEOUT + 0.5 - (time.monotonic() - started))
    )
    assert closed_by_server(half, 0.5)


def test_a_silent_socket_gets_408(server) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.settimeout(HANDSHAKE_TIMEOUT + 1)
        assert sock.recv(4096).startswith(b"HTTP/1.1 408")


def test_slow_second_request_on_a_keep_alive_connection_is_closed(server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        request = b"GET /_local_aws/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        sock.sendall(request)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        sock.settimeout(0.3)
        for byte in request:
            try:
                sock.send(bytes([byte]))
                if sock.recv(4096) == b"":
                    break
            except TimeoutError:
                continue
            except ConnectionError:
                break
        assert time.monotonic() - started < HANDSHAKE_TIMEOUT + 0.7


def test_aws_apis_answer_at_once_while_silent_sockets_are_open(server, workshop) -> None:
    dynamodb = server.client("dynamodb", config=NO_RETRIES)
    dynamodb.list_tables()  # warm: credentials, endpoint
    sockets = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(50)]
    try:
        timings = []
        for _ in range(3):
            started = time.monotonic()
            dynamodb.list_tables()
            timings.append(time.monotonic() - started)
        assert min(timings) < 0.1, timings
    finally:
        for sock in sockets:
            sock.close()


def test_a_client_gone_before_the_101_leaves_no_connect_item(server, workshop) -> None:
    table = workshop["SessionsTableName"]
    before = item_count(server, table)
    for _ in range(20):
        sock = raw_socket(workshop["WebSocketURL"])
        sock.sendall(upgrade_request(workshop["WebSocketURL"]))
        # RST at once: the server learns it while $connect runs or as it sends the 101.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    assert wait_for(lambda: item_count(server, table) == before), item_count(server, table)


# ---------------------------------------------------------------- fd limit


def test_at_the_fd_limit_new_clients_get_503_not_500() -> None:
    """ulimit -n 256 (a laptop's default) and 300 silent sockets: answers are 200 or 503."""
    limited = LocalAwsProcess("--handshake-timeout", "2", open_files=256)
    try:
        outputs = deploy(limited, "fd-limit")
        dynamodb = limited.client("dynamodb", config=NO_RETRIES)
        dynamodb.list_tables()
        sockets = [socket.create_connection(("127.0.0.1", limited.port)) for _ in range(300)]
        try:

            def refusal_status() -> int | None:
                """The status of a fresh request's refusal; None while the server still has room
                (it has not accepted all the sockets yet)."""
                fresh = limited.client("dynamodb", config=NO_RETRIES)  # not a pooled connection
                try:
                    fresh.list_tables()
                except ClientError as refused:
                    return refused.response["ResponseMetadata"]["HTTPStatusCode"]
                return None

            assert wait_for(refusal_status, message="every request was still served") == 503
        finally:
            for sock in sockets:
                sock.close()
        dynamodb.list_tables()  # the slots are free again
        ws = connect(outputs["WebSocketURL"], timeout=5)
        try:
            assert whoami(ws)
        finally:
            ws.close()
        assert "Too many open files" not in limited.log()
    finally:
        limited.stop()


# ---------------------------------------------------------------- 2. write buffer bound


def test_ping_flood_without_reading_is_dropped_with_bounded_memory(server, workshop) -> None:
    table = workshop["SessionsTableName"]
    before_items = item_count(server, table)
    sock = open_websocket(workshop["WebSocketURL"])
    before = rss_kib(server.process.pid)
    chunk = b"".join(masked_frame(0x9, os.urandom(125)) for _ in range(8000))  # 1 MiB of pings
    sent = 0
    sock.settimeout(10)
    with pytest.raises((ConnectionError, TimeoutError)):
        while sent < 200 * 2**20:
            sock.sendall(chunk)
            sent += len(chunk)
    grown_mib = (rss_kib(server.process.pid) - before) / 1024
    sock.close()
    assert sent < 100 * 2**20, "the server kept answering pings nobody read"
    assert grown_mib < 30, f"RSS grew by {grown_mib:.0f} MiB for {sent / 2**20:.0f} MiB of pings"
    # Its $disconnect ran: the item $connect wrote is gone.
    assert wait_for(lambda: item_count(server, table) == before_items)


def test_posts_to_a_client_that_does_not_read_return_at_once_then_410(server, workshop) -> None:
    table = workshop["SessionsTableName"]
    ws = connect(workshop["WebSocketURL"], timeout=5)
    connection_id = whoami(ws)  # from now on the client reads nothing
    api = server.client(
        "apigatewaymanagementapi",
        endpoint_url=http_endpoint(workshop["WebSocketURL"]),
        config=NO_RETRIES,
    )
    message = b"x" * 100_000
    before = rss_kib(server.process.pid)
    slowest = 0.0
    with pytest.raises(api.exceptions.GoneException):
        for _ in range(500):  # 50 MB: far beyond socket buffers and the 1 MiB bound
            started = time.monotonic()
            try:
                api.post_to_connection(ConnectionId=connection_id, Data=message)
            finally:
                slowest = max(slowest, time.monotonic() - started)
    grown_mib = (rss_kib(server.process.pid) - before) / 1024
    ws.close()
    assert slowest < 1.0, f"a post took {slowest:.2f} s"
    assert grown_mib < 30, f"RSS grew by {grown_mib:.0f} MiB"
    with pytest.raises(api.exceptions.GoneException):
        api.post_to_connection(ConnectionId=connection_id, Data=b"again")
    key = {"connectionid": {"S": connection_id}}
    dynamodb = server.client("dynamodb")
    assert wait_for(lambda: "Item" not in dynamodb.get_item(TableName=table, Key=key))


# ---------------------------------------------------------------- 4. deleting the stack


def test_updating_the_stage_keeps_its_clients_deleting_the_stack_closes_them(server) -> None:
    outputs = deploy(server, "security-delete")
    clients = [connect(outputs["WebSocketURL"], timeout=5) for _ in range(20)]
    connection_ids = [whoami(ws) for ws in clients]
    assert item_count(server, outputs["SessionsTableName"]) == 20
    cloudformation = server.client("cloudformation")
    # An update replaces the stage here (delete, then create): not a reason to disconnect.
    template = TEMPLATE.read_text()
    stage_line = "      DeploymentId: !Ref Deployment\n"
    assert stage_line in template
    cloudformation.update_stack(
        StackName="security-delete",
        TemplateBody=template.replace(stage_line, stage_line + "      Description: v2\n"),
        Capabilities=["CAPABILITY_IAM"],
    )
    cloudformation.get_waiter("stack_update_complete").wait(
        StackName="security-delete", WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    # A close caused by the update would be scheduled on the server's loop before the update
    # completes, so before these messages are handled: each answer proves there was none.
    assert [whoami(ws) for ws in clients] == connection_ids
    cloudformation.delete_stack(StackName="security-delete")
    started = time.monotonic()
    try:
        codes = [server_close(ws, timeout=5)[0] for ws in clients]
    finally:
        for ws in clients:
            ws.close()
    assert codes == [1001] * 20
    assert time.monotonic() - started < 5
    api = server.client(
        "apigatewaymanagementapi",
        endpoint_url=http_endpoint(outputs["WebSocketURL"]),
        config=NO_RETRIES,
    )
    with pytest.raises(ClientError) as gone:
        api.post_to_connection(ConnectionId=connection_ids[0], Data=b"still there?")
    # The stage is gone: 403 Forbidden, as for a handshake to it (not moto's bare 404).
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    tables = server.client("dynamodb").list_tables()["TableNames"]
    assert outputs["SessionsTableName"] not in tables  # and with it every item
