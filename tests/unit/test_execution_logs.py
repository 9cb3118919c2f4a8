"""Execution log lines rendered from finished requests, at each logging level."""

from __future__ import annotations

import time

from local_aws import events, execution_logs, observability
from local_aws.deployments import DeployedApi, Integration, Route
from local_aws.integrations import Outcome
from local_aws.stage_settings import RouteSettings

INFO = RouteSettings(logging_level="INFO")
ERROR = RouteSettings(logging_level="ERROR")
TRACE = RouteSettings(logging_level="INFO", data_trace=True)
URI = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:fn/invocations"


def integration(kind: str = "AWS_PROXY") -> Integration:
    return Integration("int1", kind, URI, "POST", None, {}, None, None, 29.0, ())


def deployed(connect_authorizer: bool = False) -> DeployedApi:
    routes = {
        "$default": Route("$default", integration(), two_way=True),
        "$connect": Route(
            "$connect",
            integration(),
            two_way=False,
            authorization_type="CUSTOM" if connect_authorizer else "NONE",
            authorizer_id="auth12" if connect_authorizer else None,
        ),
    }
    return DeployedApi("123456789012", "us-east-1", "abcde12345", "prod", "$request.body.a", routes)


def request(event_type: str = "MESSAGE", route_key: str = "$default", body: str | None = None):
    client = events.Client(
        "conn=", "abcde12345", "prod", "abcde12345.execute-api.localhost", "127.0.0.1", None, 1
    )
    return events.Request(client, event_type, route_key, "req=", 1, body=body, message_id="m=")


def answered(body: str | None = '{"ok": true}', status: int = 200, error: str | None = None):
    return observability.finished(
        request(body='{"a": "hi"}'), Outcome(status, body=body, error=error), 12, "AWS_PROXY"
    )


def test_info_traces_a_message_from_start_to_status_every_line_prefixed_by_its_id() -> None:
    lines = execution_logs.lines(deployed(), answered(), INFO)
    assert all(line.startswith("(req=) ") for line in lines)
    assert [line.removeprefix("(req=) ") for line in lines] == [
        "Extended Request Id: req=",
        "Starting execution for request: req=",
        "WebSocket Request Route: [$default]",
        f"Endpoint request URI: {URI}",
        "Received response. Status: 200, Integration latency: 12 ms",
        "Successfully completed execution",
        "Method completed with status: 200",
    ]


def test_bodies_only_with_data_trace() -> None:
    assert not any("body" in line for line in execution_logs.lines(deployed(), answered(), INFO))
    traced = execution_logs.lines(deployed(), answered(), TRACE)
    assert '(req=) Method request body before transformations: {"a": "hi"}' in traced
    assert '(req=) Method response body after transformations: {"ok": true}' in traced


def test_off_writes_nothing_and_error_only_failures() -> None:
    assert execution_logs.lines(deployed(), answered(), RouteSettings()) == []
    assert execution_logs.lines(deployed(), answered(), ERROR) == []
    failed = answered(body=None, status=502, error="Internal server error")
    assert execution_logs.lines(deployed(), failed, ERROR) == [
        "(req=) Execution failed: Internal server error",
        "(req=) Method completed with status: 502",
    ]


def test_a_throttled_message_is_refused_before_any_call() -> None:
    throttled = observability.refused(request(), 429, "Too Many Requests")
    lines = execution_logs.lines(deployed(), throttled, INFO)
    assert "(req=) Request refused: Too Many Requests" in lines
    assert lines[-1] == "(req=) Method completed with status: 429"
    assert not any("Endpoint request" in line for line in lines)
    assert execution_logs.lines(deployed(), throttled, ERROR)[-1].endswith("status: 429")


def test_a_handshake_with_an_authorizer_logs_its_outcome() -> None:
    connect = request("CONNECT", "$connect")
    allowed = observability.finished(connect, Outcome(200), 5, "AWS_PROXY")
    lines = execution_logs.lines(deployed(connect_authorizer=True), allowed, INFO)
    assert "(req=) Starting authorizer: auth12 for request: req=" in lines
    assert "(req=) Successfully completed authorizer execution" in lines
    denied = observability.refused(connect, 403, "Forbidden")
    lines = execution_logs.lines(deployed(connect_authorizer=True), denied, INFO)
    assert "(req=) Unauthorized request: req=" in lines
    assert not any("authorizer" in line for line in execution_logs.lines(deployed(), allowed, INFO))


def test_a_long_body_is_cut_at_1_kb_and_marked_truncated() -> None:
    long = observability.finished(request(body="é" * 3000), Outcome(200, body="x" * 5000), 1, None)
    lines = execution_logs.lines(deployed(), long, TRACE)
    cut = [line for line in lines if "body" in line]
    assert len(cut) == 2
    for line in cut:
        assert len(line.encode()) <= execution_logs.MAX_EVENT_BYTES
        assert line.endswith(" [TRUNCATED]")
    assert all(len(line.encode()) <= 1024 for line in lines)


def test_the_group_is_named_as_api_gateway_names_it() -> None:
    assert execution_logs.group_name("abcde12345", "prod") == (
        "API-Gateway-Execution-Logs_abcde12345/prod"
    )


def test_execution_lines_go_to_a_group_that_is_created_for_them() -> None:
    from moto.logs.models import logs_backends

    event = {"timestamp": int(time.time() * 1000), "message": "(req=) line"}
    group = execution_logs.group_name("zzzzz12345", "prod")
    assert observability._put_log_events(
        "123456789012", "us-east-1", group, "s", [event], create_group=True
    )
    stored = logs_backends["123456789012"]["us-east-1"].groups[group].streams["s"].events
    assert [e.message for e in stored] == ["(req=) line"]
