"""Stage settings as each request reads them: a change to the stage applies at the next read.

Reads are cached per stage (every message reads its stage's throttling), so these check that
whatever way a stage's settings change, the next read sees the change.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.apigatewayv2.models import apigatewayv2_backends

from local_aws import stage_settings

ACCOUNT = "123456789012"
REGION = "eu-west-1"


@pytest.fixture
def api_id() -> Iterator[str]:
    with mock_aws():
        client = boto3.client("apigatewayv2", region_name=REGION)
        created = client.create_api(
            Name="chat", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
        )
        client.create_stage(
            ApiId=created["ApiId"],
            StageName="prod",
            DefaultRouteSettings={"ThrottlingBurstLimit": 10, "ThrottlingRateLimit": 5.0},
            RouteSettings={"sendmessage": {"ThrottlingBurstLimit": 2}},
        )
        yield created["ApiId"]


def moto_stage(api_id: str) -> Any:
    return apigatewayv2_backends[ACCOUNT][REGION].get_api(api_id).stages["prod"]


def read(api_id: str) -> stage_settings.StageSettings:
    return stage_settings.read(ACCOUNT, REGION, api_id, "prod")


def test_a_route_setting_wins_over_the_default_and_the_rest_comes_from_it(api_id: str) -> None:
    route = read(api_id).route("sendmessage")
    assert (route.burst_limit, route.rate_limit) == (2, 5.0)
    assert read(api_id).route("$default").burst_limit == 10


def test_settings_changed_in_place_apply_at_the_next_read(api_id: str) -> None:
    assert read(api_id).route("sendmessage").burst_limit == 2
    moto_stage(api_id).route_settings["sendmessage"]["throttlingBurstLimit"] = 7
    assert read(api_id).route("sendmessage").burst_limit == 7
    moto_stage(api_id).default_route_settings["loggingLevel"] = "INFO"
    assert read(api_id).route("$default").logging_level == "INFO"


def test_settings_replaced_apply_at_the_next_read(api_id: str) -> None:
    assert read(api_id).access_log is None
    moto_stage(api_id).access_log_settings = {"destinationArn": "arn:aws:logs:x", "format": "$x"}
    moto_stage(api_id).route_settings = {}
    settings = read(api_id)
    assert settings.access_log == {"destinationArn": "arn:aws:logs:x", "format": "$x"}
    assert settings.route("sendmessage").burst_limit == 10


def test_a_stage_made_again_is_read_afresh(api_id: str) -> None:
    client = boto3.client("apigatewayv2", region_name=REGION)
    assert read(api_id).route("sendmessage").burst_limit == 2
    client.delete_stage(ApiId=api_id, StageName="prod")
    assert read(api_id) is stage_settings.NO_SETTINGS
    client.create_stage(ApiId=api_id, StageName="prod")
    assert read(api_id).route("sendmessage").burst_limit is None
