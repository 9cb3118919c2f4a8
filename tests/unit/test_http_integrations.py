"""HTTP and HTTP_PROXY integrations through `Integrations.run`, against a loopback backend:
what the backend receives, what the client gets, and how a refusal or a timeout ends."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from local_aws import events
from local_aws.deployments import DeployedApi, Integration, IntegrationResponse
from local_aws.integrations import INTERNAL_SERVER_ERROR, TIMED_OUT, Integrations, Outcome
from tests.support.backends import Backend
from tests.support.gateway_requests import a_request

DEPLOYED = DeployedApi(
    account_id="123456789012",
    region="eu-west-1",
    api_id="abc",
    stage="api",
    route_selection_expression="$request.body.action",
    routes={},
    stage_variables={"backend": "127.0.0.1", "kind": "chat"},
)


@pytest.fixture
def backend() -> Iterator[Backend]:
    with Backend() as running:
        yield running


def http_integration(
    uri: str, kind: str = "HTTP_PROXY", method: str | None = None, **changes: object
) -> Integration:
    integration = Integration(
        integration_id="i1",
        integration_type=kind,
        uri=uri,
        method=method,
        credentials_arn=None,
        request_templates={},
        template_selection_expression=None,
        passthrough_behavior=None,
        timeout_seconds=5.0,
        responses=(),
    )
    return dataclasses.replace(integration, **changes)  # type: ignore[arg-type]


def request(event_type: str = "MESSAGE", body: str | None = '{"action": "fetch"}'):
    route_key = {"CONNECT": "$connect", "DISCONNECT": "$disconnect"}.get(event_type, "fetch")
    return a_request(
        event_type,
        route_key,
        body,
        user_agent="tester",
        headers={"Host": "abc.execute-api.localhost", "X-Name": "ada"},
        query={"room": "r1"},
    )


def run(integration: Integration, req: events.Request, deployed: DeployedApi = DEPLOYED) -> Outcome:
    executor = ThreadPoolExecutor(max_workers=2)
    try:
        integrations = Integrations(runtime=None, executor=executor)  # type: ignore[arg-type]
        return asyncio.run(integrations.run(deployed, integration, req))
    finally:
        executor.shutdown()


def test_http_proxy_posts_the_message_as_it_is_and_replies_with_the_answer(
    backend: Backend,
) -> None:
    outcome = run(http_integration(backend.url("/echo")), request())
    assert outcome.error is None and outcome.status == 200
    [received] = backend.received
    assert received["method"] == "POST"  # IntegrationMethod's default
    assert received["body"] == '{"action": "fetch"}'
    assert received["headers"]["Content-Type"] == "application/json"
    assert json.loads(outcome.body or "") == received  # the answer is the reply


def test_http_proxy_answer_with_an_error_status_is_still_the_reply(backend: Backend) -> None:
    outcome = run(http_integration(backend.url("/status/503")), request())
    assert (outcome.status, outcome.body, outcome.error) == (503, '{"status": 503}', None)


def test_http_proxy_on_connect_sends_the_handshake_headers_and_its_status_decides(
    backend: Backend,
) -> None:
    outcome = run(http_integration(backend.url("/echo"), method="GET"), request("CONNECT", None))
    assert outcome.ok
    [received] = backend.received
    assert received["method"] == "GET" and received["body"] == ""
    assert received["headers"]["X-Name"] == "ada"
    assert received["headers"]["Host"] == f"127.0.0.1:{backend.port}"  # the backend's, not ours
    refused = run(http_integration(backend.url("/status/401")), request("CONNECT", None))
    assert refused.status == 401 and not refused.ok


def test_request_parameters_and_stage_variables_build_the_request(backend: Backend) -> None:
    uri = f"http://${{stageVariables.backend}}:{backend.port}/{{kind}}/echo"
    integration = http_integration(
        uri,
        request_parameters={
            "integration.request.header.connectionId": "context.connectionId",
            "integration.request.header.Content-Type": "'text/plain'",
            "integration.request.querystring.who": "route.request.body.action",
            "integration.request.path.kind": "stageVariables.kind",
        },
    )
    run(integration, request())
    [received] = backend.received
    assert received["path"] == "/chat/echo"
    assert received["query"] == {"who": "fetch"}
    assert received["headers"]["connectionId"] == "Xk1bVd0JoAMCJQg="
    assert received["headers"]["Content-Type"] == "text/plain"  # a mapped header wins


RESPONSES = (
    IntegrationResponse("/2\\d\\d/", None, {"$default": '{"ok": $input.json("$.body")}'}),
    IntegrationResponse("/4\\d\\d/", None, {"$default": '{"refused": true}'}),
)


def test_http_renders_the_request_template_and_the_status_picks_the_response(
    backend: Backend,
) -> None:
    integration = http_integration(
        backend.url("/echo"),
        kind="HTTP",
        request_templates={"$default": '{"conn": "$context.connectionId", "m": $input.body}'},
        responses=RESPONSES,
    )
    outcome = run(integration, request())
    assert backend.received[0]["body"] == ('{"conn": "Xk1bVd0JoAMCJQg=", "m": {"action": "fetch"}}')
    assert json.loads(outcome.body or "") == {"ok": backend.received[0]["body"]}
    refused = dataclasses.replace(integration, uri=backend.url("/status/404"))
    assert run(refused, request()).body == '{"refused": true}'
    unmatched = dataclasses.replace(integration, uri=backend.url("/status/500"))
    assert run(unmatched, request()).error == INTERNAL_SERVER_ERROR


def test_http_on_connect_connects_whatever_the_status_once_a_response_applies(
    backend: Backend,
) -> None:
    matched = http_integration(
        backend.url("/status/403"),
        kind="HTTP",
        responses=(IntegrationResponse("$default", None, {}),),
    )
    assert run(matched, request("CONNECT", None)).ok
    unmatched = dataclasses.replace(matched, responses=RESPONSES[:1])
    assert not run(unmatched, request("CONNECT", None)).ok


def test_a_refused_target_is_an_internal_error_and_the_log_names_the_flag(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outcome = run(http_integration("http://192.0.2.10/hook"), request())
    assert outcome.error == INTERNAL_SERVER_ERROR
    assert "--http-integration-host 192.0.2.10" in caplog.text


def test_a_backend_slower_than_the_integration_timeout_times_out(backend: Backend) -> None:
    integration = http_integration(backend.url("/slow?s=30"), timeout_seconds=0.3)
    assert run(integration, request()) == Outcome(504, error=TIMED_OUT)
