"""Metrics aggregation and access log rendering (pure: no server, no moto)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from local_aws import events, observability
from local_aws.deployments import DeployedApi
from local_aws.integrations import Outcome
from local_aws.observability import MetricAggregator, context_values, render_access_log

MINUTE_MS = 60_000
T0 = 1_700_000_040_000  # on a minute boundary


def request(event_type: str = "MESSAGE", route_key: str = "send", at: int = T0):
    client = events.Client(
        connection_id="conn=",
        api_id="abcde12345",
        stage="prod",
        domain_name="abcde12345.execute-api.localhost",
        source_ip="127.0.0.1",
        user_agent="tests",
        connected_at=T0,
    )
    return events.Request(client, event_type, route_key, "req=", at, message_id="msg=")


def by_name(entries, metric, dimension_names):
    return [
        entry
        for entry in entries
        if entry["MetricName"] == metric
        and [d["Name"] for d in entry["Dimensions"]] == dimension_names
    ]


def test_points_of_one_minute_are_one_datum_with_their_statistics() -> None:
    aggregator = MetricAggregator()
    dims = (("ApiId", "a"),)
    for offset, value in [(0, 3.0), (10_000, 1.0), (59_999, 8.0)]:
        aggregator.add("IntegrationLatency", dims, T0 + offset, value, "Milliseconds")
    aggregator.add("IntegrationLatency", dims, T0 + MINUTE_MS, 5.0, "Milliseconds")
    entries = aggregator.drain()
    assert len(entries) == 2
    first = next(
        e
        for e in entries
        if e["Timestamp"] == datetime.fromtimestamp(T0 / 1000, UTC).replace(tzinfo=None)
    )
    assert first["StatisticValues"] == {
        "Sum": 12.0,
        "Minimum": 1.0,
        "Maximum": 8.0,
        "SampleCount": 3.0,
    }
    assert first["Unit"] == "Milliseconds"


def test_drain_empties_the_aggregator() -> None:
    aggregator = MetricAggregator()
    aggregator.add("MessageCount", (("ApiId", "a"),), T0, 1, "Count")
    assert len(aggregator.drain()) == 1
    assert aggregator.drain() == []


def test_memory_grows_with_series_not_with_requests() -> None:
    aggregator = MetricAggregator()
    done = observability.finished(request(), Outcome(200), 4, "AWS_PROXY")
    for _ in range(1000):
        observability.record_metrics(aggregator, done, by_route=False)
    entries = aggregator.drain()
    # MessageCount, ClientError, IntegrationError, ExecutionError, IntegrationLatency × 2 sets
    assert len(entries) == 10
    assert all(e["StatisticValues"]["SampleCount"] == 1000 for e in entries)


def test_dimension_sets_as_aws_documents_them() -> None:
    aggregator = MetricAggregator()
    done = observability.finished(request(), Outcome(200), 4, "AWS_PROXY")
    observability.record_metrics(aggregator, done, by_route=True)
    entries = aggregator.drain()
    assert by_name(entries, "MessageCount", ["ApiId"])
    assert by_name(entries, "MessageCount", ["ApiId", "Stage"])
    (route,) = by_name(entries, "MessageCount", ["ApiId", "Route", "Stage"])
    assert {"Name": "Route", "Value": "send"} in route["Dimensions"]


def test_no_route_dimension_without_detailed_metrics() -> None:
    aggregator = MetricAggregator()
    done = observability.finished(request(), Outcome(200), 4, "AWS_PROXY")
    observability.record_metrics(aggregator, done, by_route=False)
    assert not [e for e in aggregator.drain() if len(e["Dimensions"]) == 3]


def sums(done, by_route=False):
    aggregator = MetricAggregator()
    observability.record_metrics(aggregator, done, by_route)
    return {
        e["MetricName"]: e["StatisticValues"]["Sum"]
        for e in aggregator.drain()
        if len(e["Dimensions"]) == 2
    }


def test_a_raising_function_counts_as_integration_and_execution_error() -> None:
    done = observability.finished(
        request(), Outcome(502, error="Internal server error"), 9, "AWS_PROXY"
    )
    assert sums(done) == {
        "MessageCount": 1,
        "ClientError": 0,
        "IntegrationError": 1,
        "ExecutionError": 1,
        "IntegrationLatency": 9,
    }


def test_an_integration_4xx_is_an_integration_error_only() -> None:
    done = observability.finished(request(), Outcome(400, body="no"), 3, "AWS")
    counted = sums(done)
    assert counted["IntegrationError"] == 1
    assert counted["ExecutionError"] == 0


def test_an_unmatched_message_is_a_client_error_without_integration_metrics() -> None:
    done = observability.refused(request(route_key=""), 403, "Forbidden")
    assert sums(done, by_route=True) == {"MessageCount": 1, "ClientError": 1}


def test_connect_counts_and_mock_latency_is_suppressed() -> None:
    done = observability.finished(request("CONNECT", "$connect"), Outcome(200), 2, "MOCK")
    counted = sums(done)
    assert counted["ConnectCount"] == 1
    assert "IntegrationLatency" not in counted
    assert "MessageCount" not in counted


def test_a_message_route_without_integration_is_a_500() -> None:
    done = observability.finished(request(), None, 0, None)
    assert done.status == 500
    assert "IntegrationError" not in sums(done)


def test_format_renders_context_variables() -> None:
    done = observability.finished(request(), Outcome(200), 7, "AWS_PROXY")
    line = render_access_log(
        "$context.requestId $context.eventType $context.routeKey $context.status "
        "$context.connectionId $context.integrationLatency",
        context_values(done),
    )
    assert line == "req= MESSAGE send 200 conn= 7"


def test_format_json_style_and_braces() -> None:
    done = observability.finished(request("CONNECT", "$connect"), Outcome(200), 1, "AWS_PROXY")
    line = render_access_log(
        '{"ip":"$context.identity.sourceIp","stage":"${context.stage}",'
        '"time":"$context.requestTime","epoch":$context.requestTimeEpoch}',
        context_values(done),
    )
    assert line == (
        '{"ip":"127.0.0.1","stage":"prod","time":"14/Nov/2023:22:14:00 +0000",'
        '"epoch":1700000040000}'
    )


def test_a_variable_without_a_value_is_a_dash() -> None:
    done = observability.finished(request(), Outcome(200), 1, "AWS_PROXY")
    values = context_values(done)
    assert render_access_log("$context.error.message|$context.nonsense", values) == "-|-"


def test_text_that_is_not_a_context_variable_stays() -> None:
    done = observability.finished(request(), Outcome(200), 1, "AWS_PROXY")
    assert render_access_log("$input.body $ $context. cost", context_values(done)) == (
        "$input.body $ $context. cost"
    )


def test_authorizer_context_is_in_the_variables() -> None:
    done = observability.finished(request(), Outcome(200), 1, "AWS_PROXY")
    done.request.client.authorizer = {"principalId": "user-1", "tier": 2}
    assert render_access_log(
        "$context.authorizer.principalId $context.authorizer.tier", context_values(done)
    ) == ("user-1 2")


def test_log_group_name_from_the_destination_arn() -> None:
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/my/access-logs"
    assert observability.log_group_name(arn) == "/my/access-logs"
    assert observability.log_group_name(arn + ":*") == "/my/access-logs"
    assert observability.log_group_name("arn:aws:s3:::bucket") is None
    assert observability.log_group_name("not an arn") is None


def deployed() -> DeployedApi:
    return DeployedApi(
        "123456789012", "us-east-1", "abcde12345", "prod", "$request.body.action", {}
    )


def test_a_format_over_aws_s_3_kb_quota_writes_no_line() -> None:
    observer = observability.Observer(ThreadPoolExecutor(max_workers=1))
    done = observability.finished(request(), Outcome(200), 1, "AWS_PROXY")
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/access"
    short = {"destinationArn": arn, "format": "$context.requestId"}
    assert observer._access_log_line(deployed(), done, short) is not None
    huge = {"destinationArn": arn, "format": "$context.requestId " * 200}
    assert observer._access_log_line(deployed(), done, huge) is None


def test_a_missing_log_group_is_not_created() -> None:
    from moto.logs.models import logs_backends

    event = {"timestamp": T0, "message": "line"}
    assert not observability._put_log_events("123456789012", "us-east-1", "/nowhere", "s", [event])
    assert "/nowhere" not in logs_backends["123456789012"]["us-east-1"].groups


def test_requests_queued_between_two_flushes_are_bounded() -> None:
    observer = observability.Observer(ThreadPoolExecutor(max_workers=1))
    done = observability.finished(request(), Outcome(200), 1, "AWS_PROXY")

    async def flood() -> int:
        for _ in range(observability.MAX_PENDING_REQUESTS + 500):
            observer.request_done(deployed(), done)
        return len(observer._pending)

    assert asyncio.run(flood()) == observability.MAX_PENDING_REQUESTS


def test_metric_datums_kept_in_moto_are_bounded(monkeypatch) -> None:
    from moto.cloudwatch.models import cloudwatch_backends

    monkeypatch.setattr(observability, "MAX_STORED_DATUMS", 5)
    backend = cloudwatch_backends["123456789012"]["eu-west-1"]
    for minute in range(8):
        aggregator = MetricAggregator()
        aggregator.add("MessageCount", (("ApiId", "a"),), T0 + minute * MINUTE_MS, 1, "Count")
        observability._put_metrics("123456789012", "eu-west-1", aggregator.drain())
    kept = [d for d in backend.metric_data if d.namespace == observability.NAMESPACE]
    assert len(kept) == 5
    assert min(d.timestamp for d in kept) == datetime.fromtimestamp(
        (T0 + 3 * MINUTE_MS) / 1000, UTC
    ).replace(tzinfo=None)


def test_a_handshake_the_authorizer_refuses_is_a_client_error_not_a_connect() -> None:
    done = observability.refused(request("CONNECT", "$connect"), 403, "Forbidden")
    assert sums(done) == {"ClientError": 1}
    line = render_access_log("$context.eventType $context.status", context_values(done))
    assert line == "CONNECT 403"


def test_an_authorizer_that_fails_is_neither_a_connect_nor_a_client_error() -> None:
    done = observability.refused(request("CONNECT", "$connect"), 500, "Internal server error")
    assert sums(done) == {"ClientError": 0}
