"""What AWS API request bodies may make local_aws hold: each is bounded, and so are all at once.

A chunked body is read whole before moto's threads take it, so without a total every open
connection could hold one body of the bound (`--max-api-body-mb`) at the same time.
"""

from __future__ import annotations

import select
import socket

from tests.support import LocalAwsProcess

KIB = 1024


def _start_chunked_put(port: int, key: str, size: int) -> socket.socket:
    """A signed-looking S3 PUT whose chunked body has `size` bytes sent and no end yet."""
    client = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (
        f"PUT /no-such-bucket/{key} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Authorization: AWS4-HMAC-SHA256 Credential=testing/20261203/us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=0\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    client.sendall(head.encode() + b"%x\r\n" % size + b"x" * size + b"\r\n")
    return client


def _status(client: socket.socket) -> bytes:
    answer = b""
    while b"\r\n" not in answer:
        received = client.recv(65536)
        if not received:
            break
        answer += received
    return answer.partition(b"\r\n")[0]


def test_chunked_bodies_held_at_once_are_bounded_and_the_one_past_the_total_is_503() -> None:
    # --max-api-body-mb 1: each body up to 1 MiB, all at once up to 2 MiB. Three bodies of
    # 900 KiB each fit the bound, not all together: the one whose bytes would pass the total
    # is refused with 503 (which the SDKs retry) while the two others are still coming, and
    # those two reach moto whole once their ends come.
    server = LocalAwsProcess("--max-api-body-mb", "1", "--handshake-timeout", "60")
    try:
        clients = [_start_chunked_put(server.port, f"k{n}", 900 * KIB) for n in range(3)]
        answered, _, _ = select.select(clients, [], [], 30)
        assert len(answered) == 1, "no body was refused while three were held"
        refused = answered[0]
        status = _status(refused)
        assert status == b"HTTP/1.1 503 Service Unavailable"
        for client in clients:
            if client is not refused:
                client.sendall(b"0\r\n\r\n")
                assert _status(client) == b"HTTP/1.1 404 Not Found"  # moto: NoSuchBucket
        assert "TableNames" in server.client("dynamodb").list_tables()
    finally:
        for client in clients:
            client.close()
        server.stop()
