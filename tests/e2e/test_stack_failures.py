"""A template that fails leaves nothing half-made behind, as on AWS."""

from __future__ import annotations

import botocore.exceptions
import pytest

TABLE = """
  {name}:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: {table}
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{{AttributeName: k, AttributeType: S}}]
      KeySchema: [{{AttributeName: {key}, KeyType: HASH}}]
"""


def test_template_error_refuses_the_stack(local_aws) -> None:
    template = "Resources:" + TABLE.format(name="Good", table="refused-table", key="k")
    template += "  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n"
    template += "      QueueName: !GetAtt Missing.Arn\n"
    cloudformation = local_aws.client("cloudformation")
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        cloudformation.create_stack(StackName="refused", TemplateBody=template)
    assert "undefined resource Missing" in refused.value.response["Error"]["Message"]
    stacks = [s["StackName"] for s in cloudformation.describe_stacks()["Stacks"]]
    assert "refused" not in stacks
    assert "refused-table" not in local_aws.client("dynamodb").list_tables()["TableNames"]


def test_failed_resource_rolls_back(local_aws) -> None:
    template = "Resources:" + TABLE.format(name="First", table="rollback-first", key="k")
    # the key names an attribute that is not defined: creating this table fails
    template += TABLE.format(name="Broken", table="rollback-broken", key="undefined")
    template += "    DependsOn: First\n"
    cloudformation = local_aws.client("cloudformation")
    cloudformation.create_stack(StackName="rolled-back", TemplateBody=template)
    stack = cloudformation.describe_stacks(StackName="rolled-back")["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    statuses = [
        event["ResourceStatus"]
        for event in cloudformation.describe_stack_events(StackName="rolled-back")["StackEvents"]
    ]
    assert "CREATE_FAILED" in statuses
    assert "rollback-first" not in local_aws.client("dynamodb").list_tables()["TableNames"]
    cloudformation.delete_stack(StackName="rolled-back")
    remaining = [s["StackName"] for s in cloudformation.describe_stacks()["Stacks"]]
    assert "rolled-back" not in remaining
