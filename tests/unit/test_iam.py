"""IAM as a service integration meets it: a role's policies, and a function's resource policy.

`policies_allow` is tested with plain policy documents; `check_role_allows` and
`check_invoke_allowed` with roles and functions created in an in-process moto.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.awslambda.models import lambda_backends

from local_aws import iam

ACCOUNT = "123456789012"
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/Connections"


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(action: Any = "dynamodb:PutItem", resource: Any = TABLE, **extra: Any) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def _deny(action: Any = "dynamodb:PutItem", resource: Any = TABLE, **extra: Any) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def allows(
    *statements: dict[str, Any], action: str = "dynamodb:PutItem", resource: str = TABLE
) -> bool:
    """Whether one document of these statements allows the action on the resource."""
    return iam.policies_allow([_policy(*statements)], action, resource)


# --- policies_allow: plain documents ---------------------------------------------------


def test_nothing_is_allowed_without_a_statement_that_allows_it() -> None:
    assert not iam.policies_allow([], "dynamodb:PutItem", TABLE)
    assert not allows()
    assert not allows(_allow(action="dynamodb:GetItem"))
    assert not allows(_allow(resource=TABLE + "2"))


def test_an_allow_for_the_action_and_resource_allows() -> None:
    assert allows(_allow())
    assert allows(_allow(action=["dynamodb:GetItem", "dynamodb:PutItem"]))
    assert allows(_allow(resource=["arn:aws:s3:::bucket", TABLE]))


def test_an_explicit_deny_wins_over_any_allow() -> None:
    assert not allows(_allow(), _deny())
    assert not allows(_deny(), _allow())
    assert not allows(_allow(action="*", resource="*"), _deny(action="dynamodb:*"))
    # ... even from another document.
    documents = [_policy(_allow()), _policy(_deny(resource="*"))]
    assert not iam.policies_allow(documents, "dynamodb:PutItem", TABLE)


def test_a_deny_for_something_else_does_not_block_an_allow() -> None:
    assert allows(_allow(), _deny(action="dynamodb:DeleteItem"))
    assert allows(_allow(), _deny(resource=TABLE + "-other"))


def test_actions_match_case_insensitively() -> None:
    assert allows(_allow(action="DynamoDB:putitem"))
    assert not allows(_allow(), _deny(action="DYNAMODB:PUTITEM"))


def test_resources_match_case_sensitively() -> None:
    assert not allows(_allow(resource=TABLE.lower()))


@pytest.mark.parametrize(
    ("pattern", "matches"),
    [
        ("*", True),
        ("dynamodb:*", True),
        ("dynamodb:Put*", True),
        ("dynamodb:*Item", True),
        ("dynamodb:P?tItem", True),
        ("dynamodb:Get*", False),
        ("dynamodb:PutItem?", False),  # `?` is exactly one character
        ("dynamo*:PutItem", True),
        ("dynamodb:PutIte", False),  # the whole action must match, not a prefix
        ("ynamodb:PutItem", False),  # nor a suffix
    ],
)
def test_action_wildcards(pattern: str, matches: bool) -> None:
    assert allows(_allow(action=pattern)) is matches


@pytest.mark.parametrize(
    ("pattern", "matches"),
    [
        ("*", True),
        ("arn:aws:dynamodb:*:*:table/*", True),
        ("arn:aws:dynamodb:us-east-1:123456789012:table/Conn*", True),
        ("arn:aws:dynamodb:us-east-1:123456789012:table/Connection?", True),
        ("arn:aws:dynamodb:us-east-1:123456789012:table/Other*", False),
        # `.` is a literal dot, not a regex wildcard (moto's own evaluator gets this wrong).
        ("arn:aws:dynamodb:us.east.1:123456789012:table/Connections", False),
        ("arn:aws:dynamodb:us-east-1:123456789012:table/Connections/index/*", False),
        ("arn:aws:dynamodb:us-east-1:123456789012:table/[A-Z]onnections", False),
    ],
)
def test_resource_wildcards(pattern: str, matches: bool) -> None:
    assert allows(_allow(resource=pattern)) is matches


def test_a_wildcard_resource_reaches_an_index() -> None:
    index = TABLE + "/index/byUser"
    assert allows(_allow(resource=TABLE + "/*"), resource=index)
    assert not allows(_allow(resource=TABLE), resource=index)


def test_not_action_allows_every_other_action() -> None:
    statement = {"Effect": "Allow", "NotAction": "dynamodb:DeleteItem", "Resource": TABLE}
    assert allows(statement)
    assert not allows(statement, action="dynamodb:DeleteItem")
    assert not allows(statement, action="dynamodb:deleteitem")


def test_not_action_in_a_deny_denies_every_other_action() -> None:
    deny_all_but_get = {"Effect": "Deny", "NotAction": "dynamodb:Get*", "Resource": "*"}
    assert not allows(_allow(action="dynamodb:*"), deny_all_but_get)
    assert allows(_allow(action="dynamodb:*"), deny_all_but_get, action="dynamodb:GetItem")


def test_not_resource_allows_every_other_resource() -> None:
    statement = {"Effect": "Allow", "Action": "dynamodb:*", "NotResource": TABLE + "-secret"}
    assert allows(statement)
    assert not allows(statement, resource=TABLE + "-secret")


def test_not_resource_in_a_deny() -> None:
    deny_elsewhere = {"Effect": "Deny", "Action": "*", "NotResource": TABLE}
    assert allows(_allow(resource="*"), deny_elsewhere)
    assert not allows(_allow(resource="*"), deny_elsewhere, resource=TABLE + "-other")


def test_an_allow_with_a_condition_allows_nothing() -> None:
    """Conditions are not evaluated: an Allow that depends on one is not granted."""
    condition = {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    assert not allows(_allow(Condition=condition))
    assert allows(_allow(Condition=condition), _allow())


def test_a_deny_with_a_condition_always_denies() -> None:
    condition = {"StringEquals": {"aws:SourceAccount": "999999999999"}}
    assert not allows(_allow(), _deny(Condition=condition))


def test_a_single_statement_object_and_json_text_are_read() -> None:
    as_object = {"Version": "2012-10-17", "Statement": _allow()}
    assert iam.policies_allow([as_object], "dynamodb:PutItem", TABLE)
    assert iam.policies_allow([json.dumps(as_object)], "dynamodb:PutItem", TABLE)
    assert not iam.policies_allow([json.dumps(_policy(_deny()))], "dynamodb:PutItem", TABLE)


def test_a_statement_without_a_known_effect_grants_nothing() -> None:
    assert not allows({"Action": "*", "Resource": "*"})
    assert not allows({"Effect": "allow", "Action": "*", "Resource": "*"})


# --- check_role_allows: a role in moto's IAM --------------------------------------------


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def _role(name: str, *inline: dict[str, Any], managed: dict[str, Any] | None = None) -> str:
    client = boto3.client("iam", region_name="us-east-1")
    arn = client.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    for number, document in enumerate(inline):
        client.put_role_policy(
            RoleName=name, PolicyName=f"inline{number}", PolicyDocument=json.dumps(document)
        )
    if managed is not None:
        policy_arn = client.create_policy(
            PolicyName=f"{name}-managed", PolicyDocument=json.dumps(managed)
        )["Policy"]["Arn"]
        client.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    return str(arn)


def test_a_role_with_an_inline_allow_may_act(aws: None) -> None:
    role = _role("writer", _policy(_allow()))
    iam.check_role_allows(ACCOUNT, role, "dynamodb:PutItem", TABLE)
    with pytest.raises(iam.AccessDenied, match="dynamodb:DeleteItem"):
        iam.check_role_allows(ACCOUNT, role, "dynamodb:DeleteItem", TABLE)


def test_a_role_with_a_managed_policy_may_act(aws: None) -> None:
    role = _role("managed", managed=_policy(_allow(action="dynamodb:*")))
    iam.check_role_allows(ACCOUNT, role, "dynamodb:DeleteItem", TABLE)


def test_a_managed_deny_overrides_an_inline_allow(aws: None) -> None:
    role = _role("mixed", _policy(_allow()), managed=_policy(_deny(resource="*")))
    with pytest.raises(iam.AccessDenied):
        iam.check_role_allows(ACCOUNT, role, "dynamodb:PutItem", TABLE)


def test_a_role_without_policies_may_do_nothing(aws: None) -> None:
    role = _role("empty")
    with pytest.raises(iam.AccessDenied, match="is not authorized"):
        iam.check_role_allows(ACCOUNT, role, "dynamodb:PutItem", TABLE)


def test_a_missing_role_is_denied(aws: None) -> None:
    with pytest.raises(iam.AccessDenied, match="does not exist"):
        iam.check_role_allows(
            ACCOUNT, "arn:aws:iam::123456789012:role/nobody", "dynamodb:PutItem", TABLE
        )
    with pytest.raises(iam.AccessDenied):
        iam.check_role_allows(ACCOUNT, "not-an-arn", "dynamodb:PutItem", TABLE)


# --- check_invoke_allowed: a function's resource policy ---------------------------------

SOURCE = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/api/$connect"
APIGATEWAY = "apigateway.amazonaws.com"


def _function(*permissions: dict[str, Any]) -> Any:
    """A function in moto's Lambda with `add_permission` called for each of `permissions`."""
    role = _role("lambda-role")
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    client = boto3.client("lambda", region_name="us-east-1")
    client.create_function(
        FunctionName="fn",
        Runtime="python3.11",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
    )
    for number, permission in enumerate(permissions):
        client.add_permission(FunctionName="fn", StatementId=f"s{number}", **permission)
    return lambda_backends[ACCOUNT]["us-east-1"].get_function("fn")


def _permission(source_arn: str | None = None, principal: str = APIGATEWAY) -> dict[str, str]:
    permission = {"Action": "lambda:InvokeFunction", "Principal": principal}
    if source_arn is not None:
        permission["SourceArn"] = source_arn
    return permission


def test_a_permission_for_the_api_lets_api_gateway_invoke(aws: None) -> None:
    function = _function(_permission("arn:aws:execute-api:us-east-1:123456789012:abcdef1234/*"))
    iam.check_invoke_allowed(function, SOURCE, APIGATEWAY)


def test_a_permission_for_another_api_does_not(aws: None) -> None:
    function = _function(_permission("arn:aws:execute-api:us-east-1:123456789012:other/*"))
    with pytest.raises(iam.AccessDenied, match="AWS::Lambda::Permission"):
        iam.check_invoke_allowed(function, SOURCE, APIGATEWAY)


def test_a_permission_for_another_principal_does_not(aws: None) -> None:
    function = _function(_permission(principal="events.amazonaws.com"))
    with pytest.raises(iam.AccessDenied):
        iam.check_invoke_allowed(function, SOURCE, APIGATEWAY)


def test_a_function_without_a_resource_policy_cannot_be_invoked(aws: None) -> None:
    function = _function()
    with pytest.raises(iam.AccessDenied):
        iam.check_invoke_allowed(function, SOURCE, APIGATEWAY)


def test_a_permission_without_a_source_arn_allows_every_source(aws: None) -> None:
    function = _function(_permission())
    iam.check_invoke_allowed(function, SOURCE, APIGATEWAY)


class _Policy:
    def __init__(self, *statements: dict[str, Any]) -> None:
        self.statements = list(statements)


class _Function:
    """The two attributes of a moto function that `check_invoke_allowed` reads."""

    function_name = "fn"

    def __init__(self, *statements: dict[str, Any]) -> None:
        self.policy = _Policy(*statements)


def _statement(effect: str = "Allow", **condition: dict[str, str]) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": effect,
        "Action": "lambda:InvokeFunction",
        "Principal": {"Service": APIGATEWAY},
    }
    if condition:
        statement["Condition"] = condition
    return statement


def test_a_deny_statement_wins_over_an_allow() -> None:
    function = _Function(_statement(), _statement("Deny"))
    with pytest.raises(iam.AccessDenied):
        iam.check_invoke_allowed(function, SOURCE, APIGATEWAY)


def test_exact_source_arn_operators_need_the_exact_arn() -> None:
    for operator in ("ArnEquals", "StringEquals"):
        exact = _Function(_statement(**{operator: {"aws:SourceArn": SOURCE}}))
        iam.check_invoke_allowed(exact, SOURCE, APIGATEWAY)
        # A wildcard in an exact operator is a literal character.
        literal = _Function(_statement(**{operator: {"aws:SourceArn": SOURCE[:-3] + "*"}}))
        with pytest.raises(iam.AccessDenied):
            iam.check_invoke_allowed(literal, SOURCE, APIGATEWAY)


def test_like_source_arn_operators_take_wildcards() -> None:
    for operator in ("ArnLike", "StringLike"):
        pattern = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/*/$connect"
        function = _Function(_statement(**{operator: {"aws:SourceArn": [pattern]}}))
        iam.check_invoke_allowed(function, SOURCE, APIGATEWAY)
        with pytest.raises(iam.AccessDenied):
            iam.check_invoke_allowed(function, SOURCE.replace("$connect", "$default"), APIGATEWAY)


def test_the_action_may_be_a_wildcard_and_the_principal_any() -> None:
    statement = {"Effect": "Allow", "Action": ["lambda:*"], "Principal": "*"}
    iam.check_invoke_allowed(_Function(statement), SOURCE, APIGATEWAY)
    other_action = {"Effect": "Allow", "Action": "lambda:GetFunction", "Principal": "*"}
    with pytest.raises(iam.AccessDenied):
        iam.check_invoke_allowed(_Function(other_action), SOURCE, APIGATEWAY)


def test_a_function_with_no_policy_attribute_is_denied() -> None:
    function = _Function()
    function.policy = None  # type: ignore[assignment]
    with pytest.raises(iam.AccessDenied):
        iam.check_invoke_allowed(function, SOURCE, APIGATEWAY)


@pytest.mark.parametrize(
    ("operator", "pattern"),
    [
        ("ArnNotLike", "arn:aws:execute-api:us-east-1:123456789012:otherapi/*"),
        ("StringNotLike", "arn:aws:execute-api:us-east-1:123456789012:otherapi/*"),
        ("ArnNotEquals", "arn:aws:execute-api:us-east-1:123456789012:otherapi/prod/$connect"),
        ("StringNotEquals", "arn:aws:execute-api:us-east-1:123456789012:otherapi/prod/$connect"),
    ],
)
def test_negated_operators_hold_when_the_source_does_not_match(operator: str, pattern: str) -> None:
    """`Deny … ArnNotLike other-api/*` denies our API; an Allow with it allows our API."""
    deny = _Function(_statement(), _statement("Deny", **{operator: {"aws:SourceArn": pattern}}))
    with pytest.raises(iam.AccessDenied):
        iam.check_invoke_allowed(deny, SOURCE, APIGATEWAY)
    allow = _Function(_statement(**{operator: {"aws:SourceArn": pattern}}))
    iam.check_invoke_allowed(allow, SOURCE, APIGATEWAY)
    own = _Function(_statement(**{operator: {"aws:SourceArn": SOURCE}}))
    with pytest.raises(iam.AccessDenied):
        iam.check_invoke_allowed(own, SOURCE, APIGATEWAY)


def test_source_account_is_part_of_the_condition() -> None:
    """An Allow limited to another account does not let this account's API invoke."""
    other = _Function(_statement(StringEquals={"aws:SourceAccount": "999999999999"}))
    with pytest.raises(iam.AccessDenied):
        iam.check_invoke_allowed(other, SOURCE, APIGATEWAY)
    own = _Function(_statement(StringEquals={"aws:SourceAccount": SOURCE.split(":")[4]}))
    iam.check_invoke_allowed(own, SOURCE, APIGATEWAY)


def test_a_condition_it_cannot_judge_allows_nothing_and_always_denies() -> None:
    unknown_key = {"StringEquals": {"aws:PrincipalOrgID": "o-123"}}
    with pytest.raises(iam.AccessDenied):
        iam.check_invoke_allowed(_Function(_statement(**unknown_key)), SOURCE, APIGATEWAY)
    unknown_operator = {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}
    denied = _Function(_statement(), _statement("Deny", **unknown_operator))
    with pytest.raises(iam.AccessDenied):
        iam.check_invoke_allowed(denied, SOURCE, APIGATEWAY)
