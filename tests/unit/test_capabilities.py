"""Which capabilities a template needs: IAM resources, custom IAM names (local_aws.capabilities)."""

from __future__ import annotations

from typing import Any

import pytest

from local_aws import capabilities
from local_aws.capabilities import IAM, NAMED_IAM, InsufficientCapabilities


def template(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"Resources": {f"R{n}": resource for n, resource in enumerate(resources)}}


ROLE = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}}
NAMED_ROLE = {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "mine"}}
POLICY = {"Type": "AWS::IAM::Policy", "Properties": {"PolicyName": "inline-name"}}
TABLE = {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": "t"}}


@pytest.mark.parametrize(
    ("resources", "needed"),
    [
        ((TABLE,), None),
        ((TABLE, ROLE), IAM),
        ((POLICY,), IAM),  # a policy's PolicyName is not a custom IAM name
        ((ROLE, NAMED_ROLE), NAMED_IAM),
        ((NAMED_ROLE, ROLE), NAMED_IAM),
        (({"Type": "AWS::IAM::User", "Properties": {"UserName": "u"}},), NAMED_IAM),
        (({"Type": "AWS::IAM::UserToGroupAddition"},), IAM),
    ],
)
def test_the_capability_a_template_needs(resources: tuple[dict[str, Any], ...], needed) -> None:
    assert capabilities.iam_capability(template(*resources)) == needed


@pytest.mark.parametrize(
    ("resources", "given", "refused_with"),
    [
        ((ROLE,), [], IAM),
        ((ROLE,), ["CAPABILITY_AUTO_EXPAND"], IAM),
        ((ROLE,), [IAM], None),
        ((ROLE,), [NAMED_IAM], None),  # NAMED_IAM covers unnamed IAM resources too
        ((NAMED_ROLE,), [IAM], NAMED_IAM),
        ((NAMED_ROLE,), [NAMED_IAM], None),
        ((TABLE,), [], None),
    ],
)
def test_check_refuses_what_the_request_did_not_acknowledge(resources, given, refused_with) -> None:
    if refused_with is None:
        capabilities.check_iam(template(*resources), given)
        return
    with pytest.raises(InsufficientCapabilities) as raised:
        capabilities.check_iam(template(*resources), given)
    assert raised.value.code == "InsufficientCapabilitiesException"
    assert raised.value.message == f"Requires capabilities : [{refused_with}]"
