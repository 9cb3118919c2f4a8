"""The TLS listener for the Lambda workers' AWS host names leaves the user's system as it was:
its CA is trusted by the workers alone and removed with local_aws, a client that does not
trust it cannot finish a handshake, and a Host that is neither loopback nor AWS's is refused
there as on the plain port (docs/aws-host-names.md, docs/security.md)."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fidelity.support import TEMPLATES, probe
from tests.support import ROOT, LocalAwsProcess, deploy, wait_for
from tests.support.clients import connect, send_json

AWS_NAME = "dynamodb.us-east-1.amazonaws.com"
HANDSHAKE_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def server() -> Iterator[LocalAwsProcess]:
    """A local_aws of its own, with a short handshake timeout: one test stops it."""
    with LocalAwsProcess("--handshake-timeout", str(HANDSHAKE_TIMEOUT)) as running:
        yield running


@pytest.fixture(scope="module")
def hosts(server: LocalAwsProcess) -> dict[str, str]:
    return deploy(server, "sec-aws-hosts", TEMPLATES / "aws_host_names.yaml")


def caller_identity(server: LocalAwsProcess, hosts: dict[str, str]) -> dict:
    """The Probe function's STS call at AWS's own endpoint (a pooled TLS connection)."""
    return probe(server, hosts["Probe"], service="sts", endpoint=None, call="get_caller_identity")


@pytest.fixture(scope="module")
def worker_trust(server: LocalAwsProcess, hosts: dict[str, str]) -> dict[str, str]:
    """What a worker is given: the TLS port and the trust files (from a function's own env)."""
    return caller_identity(server, hosts)["environment"]


def tls_request(
    worker_trust: dict[str, str], host: str, headers: dict[str, str] | None = None
) -> tuple[int, dict]:
    """A signed-looking DynamoDB call on the TLS port from a client that trusts the CA."""
    context = ssl.create_default_context(cafile=worker_trust["NODE_EXTRA_CA_CERTS"])
    port = int(worker_trust["LOCAL_AWS_HTTPS_PORT"])
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    # The TLS server name stays AWS's, as a redirected worker sends it; only Host varies.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.sock = context.wrap_socket(raw, server_hostname=AWS_NAME)
    connection.request(
        "POST",
        "/",
        body=b"{}",
        headers={
            "Host": host,
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/"
            "aws4_request, SignedHeaders=host, Signature=00",
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
            "Content-Type": "application/x-amz-json-1.0",
            **(headers or {}),
        },
    )
    response = connection.getresponse()
    body = json.loads(response.read() or b"{}")
    connection.close()
    return response.status, body


def test_the_local_aws_process_resolves_names_as_it_did(tmp_path: Path) -> None:
    """The redirect is the workers' own: importing local_aws patches no resolver."""
    check = (
        "import _socket, socket\n"
        "before = socket.getaddrinfo, _socket.getaddrinfo, socket.gethostbyname\n"
        "import local_aws.server, local_aws.lambda_worker, local_aws.local_tls\n"
        "print(before == (socket.getaddrinfo, _socket.getaddrinfo, socket.gethostbyname))"
    )
    result = subprocess.run(
        [sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "True"


def test_aws_hosts_are_served_over_tls_to_a_client_that_trusts_the_ca(worker_trust) -> None:
    status, body = tls_request(worker_trust, AWS_NAME)
    assert status == 200 and "TableNames" in body


def test_a_client_that_does_not_trust_the_ca_fails_the_handshake(worker_trust) -> None:
    """What a browser or any other program of the user does: the system's trust store."""
    port = int(worker_trust["LOCAL_AWS_HTTPS_PORT"])
    untrusting = ssl.create_default_context()
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        untrusting.wrap_socket(raw, server_hostname=AWS_NAME)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:443", "amazonaws.com.evil.example"])
def test_a_foreign_host_on_the_tls_port_is_refused(worker_trust, host: str) -> None:
    status, body = tls_request(worker_trust, host)
    assert status == 403
    assert body["message"].startswith("local_aws answers only requests addressed to 127.0.0.1")


def test_a_browsers_request_on_the_tls_port_is_refused(worker_trust) -> None:
    status, body = tls_request(worker_trust, AWS_NAME, {"Origin": "https://evil.example"})
    assert status == 403
    assert body["message"].startswith("local_aws does not answer web pages")


def test_an_aws_host_on_the_plain_port_stays_foreign(server: LocalAwsProcess) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("POST", "/", body=b"{}", headers={"Host": AWS_NAME, "Authorization": "x"})
    response = connection.getresponse()
    assert response.status == 403
    assert "only over HTTPS" in json.loads(response.read())["message"]
    connection.close()


def test_a_silent_connection_to_the_tls_port_is_closed(worker_trust) -> None:
    """A client that never starts its TLS handshake cannot hold a connection (slowloris)."""
    port = int(worker_trust["LOCAL_AWS_HTTPS_PORT"])
    with socket.create_connection(("127.0.0.1", port)) as silent:
        silent.settimeout(HANDSHAKE_TIMEOUT + 5)
        with contextlib.suppress(ConnectionResetError):  # closed too, with a reset
            assert silent.recv(4096) == b""


def test_the_ca_is_private_to_the_user_and_gone_once_local_aws_stops(
    server: LocalAwsProcess, hosts, worker_trust
) -> None:
    """Removed on a plain stop (SIGTERM), even while a worker keeps its TLS connection to
    local_aws open in its client's pool and never answers the TLS close (exit 0: it was not
    killed, which would leave the directory behind)."""
    ca_file = Path(worker_trust["NODE_EXTRA_CA_CERTS"])
    directory = ca_file.parent
    assert Path(worker_trust["AWS_CA_BUNDLE"]).parent == directory
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in directory.iterdir())
    # No private key on disk: the CA's is in memory only, the leaf's while it is loaded.
    assert not any(b"PRIVATE KEY" in f.read_bytes() for f in directory.iterdir())
    # PythonReply's module-level boto3 client keeps its connection to the TLS port.
    ws = connect(hosts["WebSocketURL"])
    send_json(ws, {"action": "python", "text": "still pooled"})
    assert json.loads(ws.recv())["text"] == "still pooled"
    ws.close()
    assert server.stop() == 0
    assert not directory.exists()


def _health_status(port: int) -> int | None:
    """The status of a fresh health check on the plain port; None while it is still served
    (local_aws has not accepted every socket yet)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/_local_aws/health")
        status = connection.getresponse().status
    finally:
        connection.close()
    return None if status == 200 else status


def test_connections_still_in_their_tls_handshake_count_towards_the_connection_budget() -> None:
    """ulimit -n 256 and 300 sockets to the TLS port that never say hello: each holds a file
    descriptor until the handshake timeout, so each counts as an open connection from its
    accept. The plain port then answers 503 (not a reset for want of descriptors), and once
    they are gone the TLS port serves the workers again."""
    limited = LocalAwsProcess("--handshake-timeout", "60", open_files=256)
    try:
        hosts = deploy(limited, "sec-tls-budget", TEMPLATES / "aws_host_names.yaml")
        port = int(caller_identity(limited, hosts)["environment"]["LOCAL_AWS_HTTPS_PORT"])
        silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(300)]
        try:
            status = wait_for(lambda: _health_status(limited.port), message="all still served")
            assert status == 503
        finally:
            for sock in silent:
                sock.close()
        assert wait_for(lambda: _health_status(limited.port) is None)
        assert caller_identity(limited, hosts)["answer"]["Account"]
        assert "Too many open files" not in limited.log()
    finally:
        limited.stop()
