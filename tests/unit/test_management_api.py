"""`@connections` as boto3's `apigatewaymanagementapi` client meets it, in process.

Requests are signed with botocore's SigV4 signer, as boto3 signs them, and handed to
`ManagementApi.handle` as the server hands them on; the connections are fakes that record
what is sent to them and how they are closed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local_aws import events
from local_aws.connections import Connection, OpenConnections
from local_aws.management_api import ManagementApi

API_ID = "abcdef1234"
STAGE = "api"
REGION = "us-east-1"
LIMIT = 64  # bytes: a small message quota, so that going over it is cheap
CONNECTED_AT = 1_700_000_000_123  # 2023-11-14T22:13:20.123Z
LAST_ACTIVE_AT = 1_700_000_061_005  # 2023-11-14T22:14:21.005Z


class FakeSocket:
    """What the gateway registers for a connection: records sends and closes."""

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[str] = []
        self.closed: list[tuple[int, str]] = []
        self.fail = fail

    async def send_text(self, text: str) -> None:
        if self.fail:
            raise ConnectionError("the client is gone")
        self.sent.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.closed.append((code, reason))
        if self.fail:
            raise ConnectionError("the client is gone")


def _connection(
    socket: FakeSocket,
    api_id: str = API_ID,
    stage: str = STAGE,
    user_agent: str | None = "Mozilla/5.0",
    room: int | None = None,
) -> Connection:
    client = events.Client(
        connection_id=events.new_connection_id(),
        api_id=api_id,
        stage=stage,
        domain_name=f"{api_id}.execute-api.localhost",
        source_ip="10.1.2.3",
        user_agent=user_agent,
        connected_at=CONNECTED_AT,
    )
    return Connection(
        client,
        socket.send_text,
        socket.close,
        last_active_at=LAST_ACTIVE_AT,
        room=None if room is None else (lambda: room),
    )


class Answer:
    """What `handle` sent back: status, headers (lower-case names) and body."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        start, body = messages
        assert start["type"] == "http.response.start"
        assert body["type"] == "http.response.body"
        self.status: int = start["status"]
        self.headers = {name.decode(): value.decode() for name, value in start["headers"]}
        self.body: bytes = body["body"]
        assert self.headers["content-length"] == str(len(self.body))

    @property
    def error_type(self) -> str | None:
        return self.headers.get("x-amzn-errortype")

    def json(self) -> Any:
        assert self.headers.get("content-type") == "application/json"
        return json.loads(self.body)


def _signed(
    method: str,
    connection_id: str,
    body: bytes = b"",
    api_id: str = API_ID,
    stage: str = STAGE,
    region: str = REGION,
    secret: str = "testing",
) -> tuple[str, dict[str, str]]:
    """The raw path and the lower-cased headers of a request boto3 would send."""
    url = f"http://127.0.0.1:4566/{api_id}/{stage}/@connections/{quote(connection_id, safe='')}"
    request = AWSRequest(method=method, url=url, data=body)
    SigV4Auth(Credentials("testing", secret), "execute-api", region).add_auth(request)
    headers = {name.lower(): value for name, value in request.headers.items()}
    headers["host"] = urlsplit(url).netloc
    return urlsplit(url).path, headers


def call(
    management: ManagementApi,
    method: str,
    connection_id: str,
    body: bytes = b"",
    *,
    headers: dict[str, str] | None = None,
    raw_path: str | None = None,
    chunks: list[bytes] | None = None,
    api_id: str = API_ID,
    stage: str = STAGE,
    region: str = REGION,
    signed_for: str = REGION,
    sent: list[dict[str, Any]] | None = None,
) -> Answer:
    """One `@connections/{id}` request through `handle`, signed unless `headers` are given;
    what it sends back is appended to `sent` as it goes."""
    signed_path, signed_headers = _signed(method, connection_id, body, api_id, stage, signed_for)
    raw_path = raw_path or signed_path
    headers = signed_headers if headers is None else headers
    parts = chunks if chunks is not None else [body]
    incoming = [
        {"type": "http.request", "body": part, "more_body": index < len(parts) - 1}
        for index, part in enumerate(parts)
    ]
    sent = [] if sent is None else sent

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": unquote(raw_path),
        "raw_path": raw_path.encode("latin-1"),
        "query_string": b"",
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
    }
    raw_id = raw_path.rsplit("/", 1)[1]

    async def handle() -> None:
        await management.handle(api_id, stage, region, raw_id, headers, scope, receive, send)

    asyncio.run(asyncio.wait_for(handle(), 5))
    return Answer(sent)


@pytest.fixture
def socket() -> FakeSocket:
    return FakeSocket()


@pytest.fixture
def connections() -> OpenConnections:
    return OpenConnections()


@pytest.fixture
def management(connections: OpenConnections) -> ManagementApi:
    return ManagementApi(connections, message_limit_bytes=LIMIT)


def _open(connections: OpenConnections, connection: Connection) -> str:
    """Register a connection as the gateway does (on an event loop); its id."""

    async def add() -> None:
        connections.add(connection)

    asyncio.run(add())
    return connection.client.connection_id


# --- POST, GET, DELETE on an open connection --------------------------------------------


def test_post_delivers_the_body_to_the_connection(
    management: ManagementApi, connections: OpenConnections, socket: FakeSocket
) -> None:
    connection_id = _open(connections, _connection(socket))
    answer = call(management, "POST", connection_id, b'{"text": "hi \xe2\x9c\x93"}')
    assert answer.status == 200
    assert answer.body == b""
    assert socket.sent == ['{"text": "hi \u2713"}']


def test_post_reads_a_body_sent_in_several_chunks(
    management: ManagementApi, connections: OpenConnections, socket: FakeSocket
) -> None:
    connection_id = _open(connections, _connection(socket))
    answer = call(management, "POST", connection_id, b"hello world", chunks=[b"hello", b" world"])
    assert answer.status == 200
    assert socket.sent == ["hello world"]


def test_post_of_a_body_at_the_limit_is_delivered(
    management: ManagementApi, connections: OpenConnections, socket: FakeSocket
) -> None:
    connection_id = _open(connections, _connection(socket))
    assert call(management, "POST", connection_id, b"x" * LIMIT).status == 200
    assert socket.sent == ["x" * LIMIT]


def test_post_of_a_body_over_the_limit_is_too_large(
    management: ManagementApi, connections: OpenConnections, socket: FakeSocket
) -> None:
    connection_id = _open(connections, _connection(socket))
    answer = call(management, "POST", connection_id, b"x" * (LIMIT + 1))
    assert answer.status == 413
    assert answer.error_type == "PayloadTooLargeException"
    assert answer.json() == {"message": "Message too long"}
    assert socket.sent == []
    # Counted over the whole body, not chunk by chunk.
    chunked = call(
        management,
        "POST",
        connection_id,
        b"x" * (LIMIT + 2),
        chunks=[b"x" * (LIMIT // 2 + 1)] * 2,
    )
    assert chunked.status == 413
    assert socket.sent == []


def test_post_to_a_connection_that_fails_meanwhile_is_gone(
    management: ManagementApi, connections: OpenConnections
) -> None:
    connection_id = _open(connections, _connection(FakeSocket(fail=True)))
    answer = call(management, "POST", connection_id, b"hi")
    assert answer.status == 410
    assert answer.error_type == "GoneException"


class WatchedSocket(FakeSocket):
    """A socket that notes, for each message sent to it, how much of the answer had gone."""

    def __init__(self, answer: list[dict[str, Any]], fail: bool = False) -> None:
        super().__init__(fail)
        self.answer = answer
        self.answer_sent_before: list[int] = []

    async def send_text(self, text: str) -> None:
        self.answer_sent_before.append(len(self.answer))
        await super().send_text(text)


def test_a_post_that_fits_is_answered_before_it_is_delivered(
    management: ManagementApi, connections: OpenConnections
) -> None:
    answer: list[dict[str, Any]] = []
    socket = WatchedSocket(answer)
    connection_id = _open(connections, _connection(socket, room=2**20))
    assert call(management, "POST", connection_id, b"hello", sent=answer).status == 200
    assert socket.sent == ["hello"]
    assert socket.answer_sent_before == [2]  # status and body, then the message


@pytest.mark.parametrize("fail", [False, True])
def test_a_post_that_may_not_fit_is_delivered_first_and_answered_as_it_went(
    management: ManagementApi, connections: OpenConnections, fail: bool
) -> None:
    """It may be the one that overflows the client's buffer and drops it: 410 if so."""
    answer: list[dict[str, Any]] = []
    socket = WatchedSocket(answer, fail=fail)
    # 20 bytes may take 3 × 20 + 10 in a frame: more than the 69 left.
    connection_id = _open(connections, _connection(socket, room=69))
    status = call(management, "POST", connection_id, b"x" * 20, sent=answer).status
    assert socket.answer_sent_before == [0]
    assert status == (410 if fail else 200)


def test_get_describes_the_connection_in_iso_times(
    management: ManagementApi, connections: OpenConnections, socket: FakeSocket
) -> None:
    connection_id = _open(connections, _connection(socket))
    answer = call(management, "GET", connection_id)
    assert answer.status == 200
    assert answer.json() == {
        "connectedAt": "2023-11-14T22:13:20.123Z",
        "identity": {"sourceIp": "10.1.2.3", "userAgent": "Mozilla/5.0"},
        "lastActiveAt": "2023-11-14T22:14:21.005Z",
    }
    assert socket.sent == [] and socket.closed == []


def test_get_follows_last_active_at_and_leaves_out_a_missing_user_agent(
    management: ManagementApi, connections: OpenConnections, socket: FakeSocket
) -> None:
    connection = _connection(socket, user_agent=None)
    connection_id = _open(connections, connection)
    connection.last_active_at = CONNECTED_AT + 7  # what a message on the socket does
    info = call(management, "GET", connection_id).json()
    assert info["identity"] == {"sourceIp": "10.1.2.3"}
    assert info["lastActiveAt"] == "2023-11-14T22:13:20.130Z"


def test_delete_closes_the_connection_with_1000(
    management: ManagementApi, connections: OpenConnections, socket: FakeSocket
) -> None:
    connection_id = _open(connections, _connection(socket))
    answer = call(management, "DELETE", connection_id)
    assert answer.status == 204
    assert answer.body == b""
    assert socket.closed == [(1000, "")]


def test_delete_of_a_connection_that_fails_to_close_still_answers_204(
    management: ManagementApi, connections: OpenConnections
) -> None:
    failing = FakeSocket(fail=True)
    connection_id = _open(connections, _connection(failing))
    assert call(management, "DELETE", connection_id).status == 204
    assert failing.closed == [(1000, "")]


def test_other_methods_are_forbidden(
    management: ManagementApi, connections: OpenConnections, socket: FakeSocket
) -> None:
    connection_id = _open(connections, _connection(socket))
    for method in ("PUT", "PATCH"):
        answer = call(management, method, connection_id, b"hi")
        assert answer.status == 403
        assert answer.error_type == "ForbiddenException"
    assert socket.sent == [] and socket.closed == []


# --- ids that name no open connection here ----------------------------------------------


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
def test_an_unknown_connection_is_gone(management: ManagementApi, method: str) -> None:
    answer = call(
        management, method, events.new_connection_id(), b"hi" if method == "POST" else b""
    )
    assert answer.status == 410
    assert answer.error_type == "GoneException"
    assert answer.body == b""  # as AWS: no message


@pytest.mark.parametrize(("api_id", "stage"), [("otherapi12", STAGE), (API_ID, "other")])
@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
def test_another_api_or_stages_connection_is_gone(
    management: ManagementApi,
    connections: OpenConnections,
    socket: FakeSocket,
    api_id: str,
    stage: str,
    method: str,
) -> None:
    connection_id = _open(connections, _connection(socket, api_id=api_id, stage=stage))
    answer = call(management, method, connection_id, b"hi" if method == "POST" else b"")
    assert answer.status == 410
    assert answer.error_type == "GoneException"
    assert socket.sent == [] and socket.closed == []


def test_a_connection_removed_from_the_open_ones_is_gone(
    management: ManagementApi, connections: OpenConnections, socket: FakeSocket
) -> None:
    connection_id = _open(connections, _connection(socket))
    connections.remove(connection_id)
    assert call(management, "POST", connection_id, b"hi").status == 410
    assert socket.sent == []


@pytest.mark.parametrize("bad_id", ["abc", "A" * 16, "A" * 15 + "!", "A" * 14 + "=="])
def test_a_badly_formed_id_is_a_bad_request(management: ManagementApi, bad_id: str) -> None:
    answer = call(management, "POST", bad_id, b"hi")
    assert answer.status == 400
    assert answer.error_type == "BadRequestException"
    assert answer.json() == {"message": f"Invalid connectionId: {bad_id}"}


def test_no_id_at_all_is_forbidden(management: ManagementApi) -> None:
    answer = call(management, "POST", "", b"hi")
    assert answer.status == 403
    assert answer.error_type == "ForbiddenException"


# --- signatures -------------------------------------------------------------------------


def test_an_unsigned_request_is_refused(
    management: ManagementApi, connections: OpenConnections, socket: FakeSocket
) -> None:
    connection_id = _open(connections, _connection(socket))
    answer = call(management, "POST", connection_id, b"hi", headers={"host": "127.0.0.1:4566"})
    assert answer.status == 403
    assert answer.error_type == "MissingAuthenticationTokenException"
    assert answer.json() == {"message": "Missing Authentication Token"}
    assert socket.sent == []


def test_a_request_signed_with_the_wrong_secret_is_refused(
    management: ManagementApi, connections: OpenConnections, socket: FakeSocket
) -> None:
    connection_id = _open(connections, _connection(socket))
    _, headers = _signed("DELETE", connection_id, secret="not-the-secret")
    answer = call(management, "DELETE", connection_id, headers=headers)
    assert answer.status == 403
    assert answer.error_type == "InvalidSignatureException"
    assert socket.closed == []


def test_a_body_changed_after_signing_is_refused(
    management: ManagementApi, connections: OpenConnections, socket: FakeSocket
) -> None:
    connection_id = _open(connections, _connection(socket))
    _, headers = _signed("POST", connection_id, b"original")
    answer = call(management, "POST", connection_id, b"forged", headers=headers)
    assert answer.status == 403
    assert answer.error_type == "InvalidSignatureException"
    assert socket.sent == []


def test_a_request_signed_for_another_connection_is_refused(
    management: ManagementApi, connections: OpenConnections, socket: FakeSocket
) -> None:
    """The signature covers the path: it cannot be replayed on another connection's."""
    connection_id = _open(connections, _connection(socket))
    _, headers = _signed("DELETE", events.new_connection_id())
    answer = call(management, "DELETE", connection_id, headers=headers)
    assert answer.error_type == "InvalidSignatureException"
    assert socket.closed == []


def test_a_request_signed_for_another_region_is_refused(
    management: ManagementApi, connections: OpenConnections, socket: FakeSocket
) -> None:
    connection_id = _open(connections, _connection(socket))
    answer = call(management, "POST", connection_id, b"hi", signed_for="eu-west-1")
    assert answer.status == 403
    assert answer.error_type == "InvalidSignatureException"
    assert "region" in answer.json()["message"]
    assert socket.sent == []
    # Signed for the API's own region, the same request goes through.
    api_in_eu = call(
        management, "POST", connection_id, b"hi", region="eu-west-1", signed_for="eu-west-1"
    )
    assert api_in_eu.status == 200
