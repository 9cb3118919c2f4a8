"""HTTP and HTTP_PROXY integrations end to end: a stack (templates/http_integrations.yaml)
whose routes call a backend the test runs on 127.0.0.1, what that backend receives and what
the client gets; and the targets local_aws refuses or cuts short (docs/security.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.fidelity.support import TEMPLATES, error_frame_pattern
from tests.support import deploy
from tests.support.backends import Backend
from tests.support.clients import ask, connect, handshake_status, send_json

INTERNAL_SERVER_ERROR = error_frame_pattern("Internal server error")
TIMED_OUT = error_frame_pattern("Endpoint request timed out")


@pytest.fixture(scope="module")
def backend() -> Iterator[Backend]:
    with Backend() as running:
        yield running


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[Backend]:
    """Where the backend's redirect points: it must never be called."""
    with Backend() as running:
        yield running


@pytest.fixture(scope="module")
def stack(local_aws, backend: Backend, elsewhere: Backend) -> dict[str, str]:
    return deploy(
        local_aws,
        "fid-http",
        TEMPLATES / "http_integrations.yaml",
        BackendUrl=f"http://127.0.0.1:{backend.port}",
        RedirectTo=elsewhere.url("/echo"),
        LocalAwsPort=str(local_aws.port),
    )


def received_at(backend: Backend, path: str) -> list[dict]:
    return [request for request in backend.received if request["path"] == path]


def test_fetch_proxies_the_message_and_replies_with_the_backend_answer(backend, ws) -> None:
    message = {"action": "fetch", "q": "weather"}
    answer = json.loads(ask(ws, message))
    assert answer["method"] == "POST"
    assert json.loads(answer["body"]) == message  # the frame as it was sent
    assert len(answer["headers"]["connectionId"]) == 16  # context.connectionId
    assert answer in received_at(backend, "/echo")


def test_notify_sends_the_rendered_template_with_the_mapped_parameters(backend, ws) -> None:
    fetched = json.loads(ask(ws, {"action": "fetch"}))
    connection_id = fetched["headers"]["connectionId"]
    reply = json.loads(ask(ws, {"action": "notify", "room": "r1", "text": "hi"}))
    assert reply == {"sent": True, "backendSaw": connection_id}  # the response template
    received = [r for r in received_at(backend, "/echo") if r["method"] == "PUT"][-1]
    assert json.loads(received["body"]) == {"from": connection_id, "text": "hi"}
    assert received["query"] == {"room": "r1", "team": "blue"}  # body field, stage variable
    assert received["headers"]["connectionId"] == connection_id
    assert received["headers"]["X-Source"] == "websocket"  # a static value


def test_connect_asks_the_backend_and_its_status_decides(backend, stack) -> None:
    url = stack["WebSocketURL"]
    assert handshake_status(url, "?code=200", headers=["X-Client: tester"]) == 101
    assert handshake_status(url, "?code=403") == 403
    asked = received_at(backend, "/status/403")
    assert asked and asked[-1]["method"] == "GET" and asked[-1]["body"] == ""
    ok = received_at(backend, "/status/200")[-1]
    assert ok["headers"]["X-Client"] == "tester"  # route.request.header on $connect


def test_a_slow_backend_times_out_and_does_not_stop_other_clients(stack) -> None:
    slow = [connect(stack["WebSocketURL"]) for _ in range(4)]
    other = connect(stack["WebSocketURL"])
    try:
        started = time.monotonic()
        for client in slow:  # more than the API's integration threads
            send_json(client, {"action": "slow"})
        assert json.loads(ask(other, {"action": "notify", "room": "r", "text": "t"}))["sent"]
        assert json.loads(ask(other, {"action": "fetch"}))["method"] == "POST"
        assert time.monotonic() - started < 1.8  # answered while the slow calls still wait
        for client in slow:  # TimeoutInMillis 2000: API Gateway's timeout answer
            assert TIMED_OUT.match(client.recv())
        assert 1.9 < time.monotonic() - started < 6
    finally:
        for client in [*slow, other]:
            client.close()


def test_an_answer_over_10_mb_is_an_internal_error_and_the_socket_stays_open(local_aws, ws) -> None:
    assert INTERNAL_SERVER_ERROR.match(ask(ws, {"action": "huge"}))
    assert "over 10485760 bytes" in local_aws.log()
    assert json.loads(ask(ws, {"action": "fetch"}))["method"] == "POST"


def test_a_redirect_is_not_followed(elsewhere, ws) -> None:
    assert ask(ws, {"action": "redirect"}) == ""  # the 302's empty body
    assert elsewhere.received == []


def test_a_host_off_this_machine_is_refused_and_the_log_names_the_flag(local_aws, ws) -> None:
    assert INTERNAL_SERVER_ERROR.match(ask(ws, {"action": "remote"}))
    assert "--http-integration-host 192.0.2.10" in local_aws.log()


def test_local_aws_own_port_is_refused(local_aws, ws) -> None:
    assert INTERNAL_SERVER_ERROR.match(ask(ws, {"action": "loop"}))
    assert f"port {local_aws.port}): an integration may not call local_aws" in local_aws.log()
