"""CloudWatch metrics and access logs of a WebSocket API, read back with boto3 as on AWS.

One connection connects, sends three messages (one to a route whose function raises) and
disconnects; then `AWS/ApiGateway` holds its counts and the stage's log group one line per
request.

The first stage has no detailed metrics: moto's GetMetricStatistics matches every datum whose
dimensions include the ones asked for (CloudWatch matches the exact set), so with per-route
series an `ApiId, Stage` query would count each request twice. The detailed stage is read
with GetMetricData, which matches exact dimension sets.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.fidelity.support import TEMPLATES
from tests.support import deploy, wait_for
from tests.support.clients import connect, management, send_json, whoami

LOG_LINE = re.compile(r"^(\S+) (CONNECT|MESSAGE|DISCONNECT) (\S+) (\d{3}) (\S+)$")


@pytest.fixture(scope="module")
def observed(local_aws):
    """The API's outputs once one connection has come and gone, and its connection id."""
    outputs = deploy(local_aws, "fid-observed", TEMPLATES / "observed_api.yaml")
    ws = connect(outputs["WebSocketURL"])
    send_json(ws, {"action": "hello"})
    send_json(ws, {"action": "fail"})
    send_json(ws, {"action": "hello"})
    ws.recv()  # the failing route's error frame: all three messages have been handled
    ws.close()
    return outputs


def statistic(local_aws, outputs, metric: str, statistic: str = "Sum", **extra: str) -> float:
    dimensions = [
        {"Name": "ApiId", "Value": outputs["ApiId"]},
        {"Name": "Stage", "Value": outputs["StageName"]},
    ] + [{"Name": name, "Value": value} for name, value in extra.items()]
    now = datetime.now(UTC)
    points = local_aws.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/ApiGateway",
        MetricName=metric,
        Dimensions=dimensions,
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=[statistic],
    )["Datapoints"]
    return sum(point[statistic] for point in points)


def access_log_lines(local_aws, outputs) -> list[str]:
    events = local_aws.client("logs").filter_log_events(logGroupName=outputs["AccessLogGroupName"])[
        "events"
    ]
    return [event["message"] for event in events]


def test_connect_and_message_counts(local_aws, observed) -> None:
    wait_for(
        lambda: statistic(local_aws, observed, "ConnectCount") == 1,
        timeout=15,
        message="ConnectCount 1 in AWS/ApiGateway",
    )
    wait_for(lambda: statistic(local_aws, observed, "MessageCount") == 3, timeout=15)


def test_messages_to_the_client_count_too(local_aws) -> None:
    """MessageCount is "messages sent to the WebSocket API, either from or to the client":
    two messages in, their two replies and one `@connections` post out make five."""
    outputs = deploy(local_aws, "fid-counted", TEMPLATES / "lambda_api.yaml")
    ws = connect(outputs["WebSocketURL"])
    connection_id = whoami(ws)  # a message and its reply
    send_json(ws, {"action": "again"})
    ws.recv()
    management(local_aws, outputs["WebSocketURL"]).post_to_connection(
        ConnectionId=connection_id, Data=b"from the backend"
    )
    assert ws.recv() == "from the backend"
    ws.close()
    counted = {**outputs, "StageName": outputs["WebSocketURL"].rsplit("/", 1)[1]}
    wait_for(
        lambda: statistic(local_aws, counted, "MessageCount") == 5,
        timeout=15,
        message="MessageCount 5: 2 in, 2 replies, 1 post",
    )


def test_a_raising_function_is_one_integration_and_one_execution_error(local_aws, observed) -> None:
    wait_for(lambda: statistic(local_aws, observed, "IntegrationError") == 1, timeout=15)
    assert statistic(local_aws, observed, "ExecutionError") == 1
    # connect, 3 messages and disconnect each reached the integration: 5 samples
    assert statistic(local_aws, observed, "IntegrationError", "SampleCount") == 5
    assert statistic(local_aws, observed, "ClientError") == 0


def test_integration_latency_is_in_milliseconds(local_aws, observed) -> None:
    wait_for(
        lambda: statistic(local_aws, observed, "IntegrationLatency", "SampleCount") == 5,
        timeout=15,
    )
    assert 0 <= statistic(local_aws, observed, "IntegrationLatency", "Maximum") < 30_000


def test_access_log_has_one_formatted_line_per_request(local_aws, observed) -> None:
    lines = wait_for(
        lambda: (lines := access_log_lines(local_aws, observed)) and len(lines) >= 5 and lines,
        timeout=15,
        message="5 access log lines",
    )
    assert len(lines) == 5, lines
    fields = [LOG_LINE.match(line) for line in lines]
    assert all(fields), lines
    assert [(m[2], m[3], m[4]) for m in fields] == [
        ("CONNECT", "$connect", "200"),
        ("MESSAGE", "$default", "200"),
        ("MESSAGE", "fail", "502"),
        ("MESSAGE", "$default", "200"),
        ("DISCONNECT", "$disconnect", "200"),
    ]
    assert len({m[5] for m in fields}) == 1  # one connection id throughout
    assert len({m[1] for m in fields}) == 5  # a request id of its own per request


def test_access_log_goes_to_one_stream_of_the_group(local_aws, observed) -> None:
    wait_for(lambda: len(access_log_lines(local_aws, observed)) >= 5, timeout=15)
    streams = local_aws.client("logs").describe_log_streams(
        logGroupName=observed["AccessLogGroupName"]
    )["logStreams"]
    assert len(streams) == 1


@pytest.fixture(scope="module")
def detailed(local_aws):
    """A stage with detailed metrics, after one connection sent `hello` twice and `fail`."""
    outputs = deploy(
        local_aws, "fid-observed-detailed", TEMPLATES / "observed_api.yaml", DetailedMetrics="true"
    )
    ws = connect(outputs["WebSocketURL"])
    send_json(ws, {"action": "hello"})
    send_json(ws, {"action": "hello"})
    send_json(ws, {"action": "fail"})
    ws.recv()
    ws.close()
    return outputs


def metric_data_sum(local_aws, outputs, metric: str, **dimensions: str) -> float:
    """`get_metric_data`, which (unlike moto's GetMetricStatistics) matches exact dimensions."""
    now = datetime.now(UTC)
    results = local_aws.client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/ApiGateway",
                        "MetricName": metric,
                        # In name order, as published: moto's Dimension.__lt__ is broken, so
                        # its exact match compares lists only in the same order
                        "Dimensions": [
                            {"Name": name, "Value": value}
                            for name, value in sorted(dimensions.items())
                        ],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
    )["MetricDataResults"]
    return sum(results[0]["Values"])


def test_detailed_metrics_count_per_route(local_aws, detailed) -> None:
    api, stage = detailed["ApiId"], detailed["StageName"]
    wait_for(
        lambda: metric_data_sum(local_aws, detailed, "MessageCount", ApiId=api) == 3,
        timeout=15,
        message="MessageCount 3 by ApiId",
    )
    assert metric_data_sum(local_aws, detailed, "MessageCount", ApiId=api, Stage=stage) == 3
    by_route = {"ApiId": api, "Stage": stage}
    assert metric_data_sum(local_aws, detailed, "MessageCount", **by_route, Route="$default") == 2
    assert metric_data_sum(local_aws, detailed, "IntegrationError", **by_route, Route="fail") == 1
    assert (
        metric_data_sum(local_aws, detailed, "IntegrationError", **by_route, Route="$default") == 0
    )
    assert metric_data_sum(local_aws, detailed, "ConnectCount", **by_route, Route="$connect") == 1
