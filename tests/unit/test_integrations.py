"""Integration results: response selection, reading a Lambda proxy result, the bounds."""

from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from local_aws import events
from local_aws.deployments import IntegrationResponse
from local_aws.integrations import (
    INTERNAL_SERVER_ERROR,
    THREADS_PER_API,
    Integrations,
    _proxy_outcome,
    _resource_arn,
    reply_frame,
    select_integration_response,
)
from local_aws.settings import Settings


def response(key: str) -> IntegrationResponse:
    return IntegrationResponse(key=key, template_selection_expression=None, response_templates={})


@pytest.mark.parametrize(
    ("keys", "status", "expected"),
    [
        (["/200/"], 200, "/200/"),
        (["/200/"], 400, None),
        (["/200/", "$default"], 400, "$default"),
        (["$default", "/4\\d\\d/"], 404, "/4\\d\\d/"),  # a matching regex beats $default
        (["/2\\d\\d/"], 2000, None),  # the whole status must match
        (["/[/"], 200, None),  # an invalid regex matches nothing
    ],
)
def test_integration_response_selection(keys, status, expected) -> None:
    selected = select_integration_response(tuple(response(k) for k in keys), status)
    assert (selected.key if selected else None) == expected


def test_proxy_result_body_and_headers() -> None:
    outcome = _proxy_outcome(
        {"statusCode": 200, "body": "hi", "headers": {"Sec-WebSocket-Protocol": "chat"}}
    )
    assert (outcome.status, outcome.body, outcome.headers) == (
        200,
        "hi",
        {"Sec-WebSocket-Protocol": "chat"},
    )
    assert outcome.ok


@pytest.mark.parametrize("payload", ["text", None, 42, [1], {"statusCode": "abc"}])
def test_malformed_proxy_results_are_internal_errors(payload) -> None:
    outcome = _proxy_outcome(payload)
    assert outcome.error == INTERNAL_SERVER_ERROR
    assert not outcome.ok


def test_status_code_does_not_stop_a_message_reply() -> None:
    outcome = _proxy_outcome({"statusCode": 500, "body": "still sent"})
    assert outcome.body == "still sent" and outcome.error is None


def _request(route_key: str = "$default") -> events.Request:
    client = events.Client(
        connection_id="Xk1bVd0JoAMCJQg=",
        api_id="abc",
        stage="api",
        domain_name="abc.execute-api.localhost",
        source_ip="127.0.0.1",
        user_agent=None,
        connected_at=0,
    )
    return events.Request(client, "MESSAGE", route_key, "Yk1bVd0JoAMCJQg=", 0, body="{}")


@pytest.mark.parametrize(
    ("body", "delivered"),
    [
        ("x" * 128 * 1024, True),  # the quota itself is allowed
        ("x" * (128 * 1024 + 1), False),
        ("é" * (64 * 1024), True),  # 128 KB in UTF-8
        ("é" * (64 * 1024) + "x", False),  # counted in UTF-8 bytes, not characters
        ("x" * 8 * 1024 * 1024, False),
    ],
)
def test_a_route_response_over_the_message_quota_is_an_internal_error(
    body: str, delivered: bool, caplog: pytest.LogCaptureFixture
) -> None:
    frame = reply_frame(body, _request(), Settings().message_limit_bytes)
    if delivered:
        assert frame is body
    else:
        assert frame == (
            '{"message": "Internal server error", "connectionId":"Xk1bVd0JoAMCJQg=", '
            '"requestId":"Yk1bVd0JoAMCJQg="}'
        )
        assert "over the 131072-byte message quota" in caplog.text


def arn_of(body: str) -> str | None:
    return _resource_arn("dynamodb", "us-east-1", "1", body)


def test_resource_arn_of_an_impossible_table_name_is_not_matched() -> None:
    assert str(arn_of(json.dumps({"TableName": "t" * 10_000}))).endswith(":table/*")
    assert str(arn_of('{"TableName": "T"}')).endswith("table/T")


def test_a_body_that_is_not_a_json_object_names_no_resource() -> None:
    """DynamoDB refuses such a body before any authorization: no IAM check applies."""
    deep = '{"TableName": ' + "[" * 5000 + "]" * 5000 + "}"
    for body in ('{"TableName": "T", broken', "[1, 2]", '"text"', deep):
        assert arn_of(body) is None, body


def test_one_api_holds_at_most_its_share_of_the_threads() -> None:
    """A slow API queues behind its own threads; another API's call runs at once, and a
    thread counts as taken until its call really ends, even after the caller gave up."""
    executor = ThreadPoolExecutor(max_workers=8)
    integrations = Integrations(runtime=None, executor=executor)  # type: ignore[arg-type]
    release = threading.Event()
    running: list[str] = []

    def slow(name: str) -> str:
        running.append(name)
        release.wait(5)
        return name

    async def scenario() -> None:
        calls = [
            asyncio.ensure_future(integrations._in_thread("slow", slow, f"s{i}")) for i in range(4)
        ]
        await asyncio.sleep(0.1)
        assert len(running) == THREADS_PER_API  # the rest wait on the event loop
        assert await integrations._in_thread("other", lambda: "fast") == "fast"
        calls[0].cancel()  # the caller gives up; its thread is still busy
        await asyncio.sleep(0.1)
        assert len(running) == THREADS_PER_API
        release.set()
        assert await asyncio.gather(*calls[1:]) == ["s1", "s2", "s3"]

    try:
        asyncio.run(scenario())
    finally:
        release.set()
        executor.shutdown()
