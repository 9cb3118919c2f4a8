"""A service's regions, read without its API model, are the ones botocore lists for it."""

from __future__ import annotations

import boto3
import pytest
from moto.core.base_backend import AccountSpecificBackend

from local_aws import service_regions

# What local_aws serves, what integrations call, and services whose endpoint prefix is not
# their name (API Gateway v2's is `apigateway`, Step Functions' `states`).
SERVICES = (
    *("apigatewayv2", "apigatewaymanagementapi", "cloudformation", "cloudwatch", "dynamodb"),
    *("ec2", "events", "iam", "kinesis", "lambda", "logs", "s3", "sns", "sqs", "stepfunctions"),
    *("states", "sts", "cloudcontrol", "route53", "organizations", "elbv2"),
)


def botocore_s_regions(service: str) -> list[str]:
    session = boto3.session.Session()
    return [
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions(service, partition_name=partition)
    ]


def backend_regions(service: str) -> list[str]:
    """The regions a new moto backend of the service answers for (moto asks at creation)."""
    regions: list[str] = AccountSpecificBackend(service, "123456789012", object, True, None).regions
    return regions


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_s_regions_are_botocore_s(service: str) -> None:
    assert backend_regions(service) == botocore_s_regions(service)


def test_a_service_botocore_does_not_know_is_left_to_moto() -> None:
    # moto's own way: botocore's UnknownServiceError, so no region.
    assert service_regions.regions_of("nosuchservice") is None
    assert backend_regions("nosuchservice") == []


def test_a_backend_answers_for_the_service_s_regions_only() -> None:
    backend = AccountSpecificBackend("apigatewayv2", "123456789012", object, True, None)
    assert "us-east-1" in backend and "eu-west-3" in backend
    assert "xx-nowhere-1" not in backend


def test_a_metadata_cut_off_is_not_read() -> None:
    whole = '{"metadata": {"apiVersion": "2018-11-29", "endpointPrefix": "apigateway"}, "op'
    assert service_regions._prefix_in(whole) == "apigateway"
    assert service_regions._prefix_in(whole[:60]) is None
