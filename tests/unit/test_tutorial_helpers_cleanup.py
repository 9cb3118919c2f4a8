"""tutorial_helpers.cleanup: finding workshop stacks and verifying that nothing is left.

Real-AWS answers come from botocore Stubbers; one test runs the whole cycle on local_aws.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from botocore.stub import Stubber

from tutorial_helpers import WorkshopError
from tutorial_helpers.cleanup import (
    delete_workshop_stacks,
    existing_names,
    leftovers,
    main,
    stack_resources,
    workshop_stacks,
)
from tutorial_helpers.stack import WORKSHOP_TAG, deploy_stack, stack_status
from tutorial_helpers.target import Target

from .test_tutorial_helpers import StubbedTarget, aws_client

NAME = "ws-workshop-ada"
SERVICES = ("cloudformation", "dynamodb", "apigatewayv2", "lambda", "iam", "logs")


@pytest.fixture
def stubs() -> Iterator[tuple[StubbedTarget, dict[str, Stubber]]]:
    clients = {service: aws_client(service) for service in SERVICES}
    stubbers = {service: Stubber(client) for service, client in clients.items()}
    for stubber in stubbers.values():
        stubber.activate()
    yield StubbedTarget("aws", "eu-west-1", NAME, clients=clients), stubbers
    for stubber in stubbers.values():
        stubber.deactivate()


def role(name: str) -> dict[str, Any]:
    from datetime import UTC, datetime

    return {
        "Path": "/",
        "RoleName": name,
        "RoleId": "AROAEXAMPLEEXAMPLE01",
        "Arn": f"arn:aws:iam::111122223333:role/{name}",
        "CreateDate": datetime(2025, 1, 1, tzinfo=UTC),
    }


def answer_listings(stubbers: dict[str, Stubber], roles: list[str], tables: list[str]) -> None:
    stubbers["dynamodb"].add_response("list_tables", {"TableNames": tables})
    stubbers["apigatewayv2"].add_response(
        "get_apis",
        {
            "Items": [
                {
                    "ApiId": "other12345",
                    "Name": "ws-workshop-ada-b-WebSocketApi",
                    "ProtocolType": "WEBSOCKET",
                    "RouteSelectionExpression": "$request.body.action",
                }
            ]
        },
    )
    stubbers["lambda"].add_response("list_functions", {"Functions": []})
    stubbers["iam"].add_response("list_roles", {"Roles": [role(name) for name in roles]})
    stubbers["logs"].add_response(
        "describe_log_groups", {"logGroups": []}, {"logGroupNamePrefix": f"/aws/lambda/{NAME}-"}
    )


def test_existing_names_finds_this_stacks_resources_and_nobody_elses(stubs) -> None:
    target, stubbers = stubs
    answer_listings(
        stubbers,
        roles=[
            f"{NAME}-SessionsTableAccessRole-1A2B3C4D5E6F",  # ours, left behind
            "ws-workshop-ada-b-SessionsTableAccessRole-ZZZZ",  # another learner's
            "unrelated-role",
        ],
        tables=[f"{NAME}-Sessions", "ws-workshop-ada-b-Sessions"],
    )
    found = existing_names(target, NAME)
    assert found == {
        "table": [f"{NAME}-Sessions"],
        "API": [],
        "function": [],
        "role": [f"{NAME}-SessionsTableAccessRole-1A2B3C4D5E6F"],
        "log group": [],
    }


def test_leftovers_checks_recorded_physical_ids_too(stubs) -> None:
    target, stubbers = stubs
    answer_listings(stubbers, roles=[], tables=[])
    # A role whose name CloudFormation shortened (long stack name) is found by its recorded id.
    stubbers["iam"].add_response(
        "get_role",
        {"Role": role("ws-workshop-a-SessionsTab-XYZ")},
        {"RoleName": "ws-workshop-a-SessionsTab-XYZ"},
    )
    stubbers["lambda"].add_client_error(
        "get_function", service_error_code="ResourceNotFoundException", http_status_code=404
    )
    stubbers["cloudformation"].add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message=f"Stack with id {NAME} does not exist",
        http_status_code=400,
    )
    recorded = pd.DataFrame(
        [
            ("SessionsTableAccessRole", "AWS::IAM::Role", "ws-workshop-a-SessionsTab-XYZ"),
            ("DefaultRouteFunction", "AWS::Lambda::Function", f"{NAME}-DefaultRouteFunction-AAA"),
            ("ConnectRoute", "AWS::ApiGatewayV2::Route", "abc1234"),  # goes with its API
        ],
        columns=["logical id", "type", "physical id"],
    )
    remaining = leftovers(target, recorded)
    assert remaining.to_dict("records") == [
        {"kind": "role", "name": "ws-workshop-a-SessionsTab-XYZ"}
    ]


def test_workshop_stacks_are_found_by_their_tag(stubs) -> None:
    target, stubbers = stubs
    stubbers["cloudformation"].add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": name,
                    "CreationTime": "2025-01-01T00:00:00Z",
                    "StackStatus": "CREATE_COMPLETE",
                    "Tags": tags,
                }
                for name, tags in [
                    ("ws-workshop-ada", [WORKSHOP_TAG]),
                    ("ws-workshop-bob", [{"Key": "team", "Value": "x"}, WORKSHOP_TAG]),
                    ("production-api", [{"Key": "workshop", "Value": "other"}]),
                    ("no-tags", []),
                ]
            ]
        },
    )
    out = io.StringIO()
    names = delete_workshop_stacks(target, dry_run=True, out=out)
    assert names == ["ws-workshop-ada", "ws-workshop-bob"]
    assert (
        out.getvalue() == "Workshop stacks in region eu-west-1: ws-workshop-ada, ws-workshop-bob\n"
    )


def test_no_workshop_stacks_is_said_plainly(stubs) -> None:
    target, stubbers = stubs
    stubbers["cloudformation"].add_response("describe_stacks", {"Stacks": []})
    out = io.StringIO()
    assert workshop_stacks(target) == []
    stubbers["cloudformation"].add_response("describe_stacks", {"Stacks": []})
    assert delete_workshop_stacks(target, out=out) == []
    assert out.getvalue() == "No workshop stacks in region eu-west-1.\n"


def test_command_line_explains_a_bad_target(monkeypatch, capsys) -> None:
    monkeypatch.setenv("TUTORIAL_TARGET", "clod")
    assert main([]) == 1
    assert "error: TUTORIAL_TARGET='clod' is not a target" in capsys.readouterr().err


def test_full_cycle_on_local_aws_leaves_nothing(local_aws) -> None:
    """Deploy, then the cleanup command's function: everything goes, and it says so."""
    target = Target("local", "us-east-1", "cleanup-cycle", local_aws.endpoint_url)
    deploy_stack(target, out=io.StringIO())
    recorded = stack_resources(target)
    assert len(recorded) == 18
    out = io.StringIO()
    names = delete_workshop_stacks(target, out=out)
    assert "cleanup-cycle" in names
    assert stack_status(target) == "DOES_NOT_EXIST"
    assert leftovers(target, recorded).empty
    assert out.getvalue().rstrip().endswith("nothing is left.")


def test_a_resource_left_after_the_delete_is_reported_with_what_to_do(stubs) -> None:
    target, stubbers = stubs
    cloudformation = stubbers["cloudformation"]
    stack_id = f"arn:aws:cloudformation:eu-west-1:111122223333:stack/{NAME}/1234"
    leftover_role = f"{NAME}-DefaultRouteFunctionRole-QWERTY123456"
    described = {
        "Stacks": [
            {
                "StackId": stack_id,
                "StackName": NAME,
                "CreationTime": "2025-01-01T00:00:00Z",
                "StackStatus": "CREATE_COMPLETE",
                "Tags": [WORKSHOP_TAG],
            }
        ]
    }
    cloudformation.add_response("describe_stacks", described, {})
    cloudformation.add_response("describe_stacks", described, {"StackName": NAME})
    resources = {
        "StackResources": [
            {
                "LogicalResourceId": "DefaultRouteFunctionRole",
                "PhysicalResourceId": leftover_role,
                "ResourceType": "AWS::IAM::Role",
                "Timestamp": "2025-01-01T00:00:00Z",
                "ResourceStatus": "CREATE_COMPLETE",
            }
        ]
    }
    cloudformation.add_response("describe_stack_resources", resources, {"StackName": NAME})
    cloudformation.add_response("describe_stacks", described, {"StackName": NAME})
    cloudformation.add_response("describe_stack_events", {"StackEvents": []})
    cloudformation.add_response("describe_stack_resources", resources, {"StackName": stack_id})
    cloudformation.add_response("delete_stack", {}, {"StackName": NAME})
    cloudformation.add_response("describe_stack_events", {"StackEvents": []})
    deleted = {"Stacks": [{**described["Stacks"][0], "StackStatus": "DELETE_COMPLETE"}]}
    cloudformation.add_response("describe_stacks", deleted, {"StackName": stack_id})
    answer_listings(stubbers, roles=[leftover_role], tables=[])
    cloudformation.add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message=f"Stack with id {NAME} does not exist",
        http_status_code=400,
    )
    with pytest.raises(WorkshopError, match=rf"(?s)still there.*role\s+{leftover_role}"):
        delete_workshop_stacks(target, sleep=lambda seconds: None, out=io.StringIO())
