"""CloudWatch reads a metric by its exact dimension set, in any order (as AWS does)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
from moto import mock_aws

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
API = {"Name": "ApiId", "Value": "abcdef1234"}
STAGE = {"Name": "Stage", "Value": "prod"}


def _publish(cloudwatch: object) -> None:
    for dimensions, value in (([API], 1.0), ([API, STAGE], 10.0)):
        cloudwatch.put_metric_data(  # type: ignore[attr-defined]
            Namespace="AWS/ApiGateway",
            MetricData=[
                {
                    "MetricName": "ConnectCount",
                    "Dimensions": dimensions,
                    "Value": value,
                    "Timestamp": NOW,
                }
            ],
        )


def _statistics_sum(cloudwatch: object, dimensions: list[dict[str, str]]) -> float:
    datapoints = cloudwatch.get_metric_statistics(  # type: ignore[attr-defined]
        Namespace="AWS/ApiGateway",
        MetricName="ConnectCount",
        Dimensions=dimensions,
        StartTime=NOW - timedelta(minutes=5),
        EndTime=NOW + timedelta(minutes=5),
        Period=600,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(point["Sum"] for point in datapoints)


@mock_aws
def test_statistics_read_only_the_series_of_exactly_those_dimensions() -> None:
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    _publish(cloudwatch)
    assert _statistics_sum(cloudwatch, [API]) == 1.0
    assert _statistics_sum(cloudwatch, [API, STAGE]) == 10.0
    assert _statistics_sum(cloudwatch, [STAGE, API]) == 10.0
    assert _statistics_sum(cloudwatch, [STAGE]) == 0.0


@mock_aws
def test_metric_data_finds_a_series_whatever_the_order_of_its_dimensions() -> None:
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    _publish(cloudwatch)
    for dimensions in ([API, STAGE], [STAGE, API]):
        result = cloudwatch.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "connects",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/ApiGateway",
                            "MetricName": "ConnectCount",
                            "Dimensions": dimensions,
                        },
                        "Period": 60,
                        "Stat": "Sum",
                    },
                }
            ],
            StartTime=NOW - timedelta(minutes=5),
            EndTime=NOW + timedelta(minutes=5),
        )["MetricDataResults"][0]
        assert result["Values"] == [10.0], dimensions
