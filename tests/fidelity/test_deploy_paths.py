"""The ways people deploy: change sets (what `aws cloudformation deploy` and `sam deploy` do),
UpdateStack, and the AWS CLI itself, against a real local_aws.

Every stack here is the deploy-path fixture (`templates/deploy_echo.yaml`): a WebSocket API
whose `$default` route answers with a greeting (a parameter) and the message it got.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from local_aws import template_urls
from tests.fidelity.support import TEMPLATES
from tests.support import LocalAwsProcess
from tests.support.clients import ask, connect

TEMPLATE = (TEMPLATES / "deploy_echo.yaml").read_text()
NO_CHANGES = (
    "The submitted information didn't contain changes. "
    "Submit different information to create a change set."
)
# The fields of DescribeStacks a stack made either way must share (names and ids differ).
SHARED_FIELDS = ("StackStatus", "Parameters", "Tags", "Capabilities", "Description")


def outputs_of(stack: dict[str, Any]) -> dict[str, str]:
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def answer(url: str, message: Any) -> dict[str, Any]:
    ws = connect(url)
    try:
        return json.loads(ask(ws, message))
    finally:
        ws.close()


def create_and_execute(cloudformation: Any, stack_name: str, **request: Any) -> dict[str, Any]:
    """A CREATE change set made, waited for and executed, as `aws cloudformation deploy` does."""
    created = cloudformation.create_change_set(
        StackName=stack_name,
        ChangeSetName="first",
        ChangeSetType="CREATE",
        TemplateBody=TEMPLATE,
        Capabilities=["CAPABILITY_IAM"],
        **request,
    )
    cloudformation.get_waiter("change_set_create_complete").wait(
        ChangeSetName=created["Id"], WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    cloudformation.execute_change_set(ChangeSetName=created["Id"])
    cloudformation.get_waiter("stack_create_complete").wait(
        StackName=stack_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    return cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]


def client_error(call: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call(**kwargs)
    return raised.value.response["Error"]


# ------------------------------------------------------------------------------ change sets


def test_a_stack_made_by_a_change_set_is_the_stack_create_stack_makes(local_aws) -> None:
    cloudformation = local_aws.client("cloudformation")
    request = {
        "Parameters": [{"ParameterKey": "Greeting", "ParameterValue": "hi"}],
        "Tags": [{"Key": "team", "Value": "chat"}],
    }
    cloudformation.create_stack(
        StackName="dp-direct", TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"], **request
    )
    direct = cloudformation.describe_stacks(StackName="dp-direct")["Stacks"][0]
    via_change_set = create_and_execute(cloudformation, "dp-via-cs", **request)

    for field in SHARED_FIELDS:
        assert via_change_set.get(field) == direct.get(field), field
    assert via_change_set["StackStatus"] == "CREATE_COMPLETE"
    assert via_change_set["Capabilities"] == ["CAPABILITY_IAM"]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in via_change_set["Parameters"]} == {
        "Greeting": "hi",
        "StageName": "live",  # the default, listed as CreateStack lists it
    }
    outputs = outputs_of(via_change_set)
    assert sorted(outputs) == sorted(outputs_of(direct))
    assert outputs["WebSocketURL"].endswith("/live")
    assert answer(outputs["WebSocketURL"], {"say": "x"}) == {
        "greeting": "hi",
        "got": '{"say": "x"}',
    }
    cloudformation.delete_stack(StackName="dp-direct")
    cloudformation.delete_stack(StackName="dp-via-cs")


def test_a_create_change_set_lists_every_resource_as_added_until_executed(local_aws) -> None:
    cloudformation = local_aws.client("cloudformation")
    created = cloudformation.create_change_set(
        StackName="dp-review",
        ChangeSetName="first",
        ChangeSetType="CREATE",
        TemplateBody=TEMPLATE,
        Capabilities=["CAPABILITY_IAM"],
        Description="the first deploy",
    )
    stack = cloudformation.describe_stacks(StackName="dp-review")["Stacks"][0]
    assert stack["StackStatus"] == "REVIEW_IN_PROGRESS"
    assert stack["StackId"] == created["StackId"]
    described = cloudformation.describe_change_set(ChangeSetName="first", StackName="dp-review")
    assert (described["Status"], described["ExecutionStatus"]) == ("CREATE_COMPLETE", "AVAILABLE")
    assert described["Description"] == "the first deploy"
    changes = {c["ResourceChange"]["LogicalResourceId"]: c for c in described["Changes"]}
    assert sorted(changes) == sorted(
        [
            *("AnswerRole", "AnswerFunction", "AnswerPermission", "EchoApi"),
            *("AnswerIntegration", "DefaultRoute", "DefaultRouteResponse"),
            *("EchoDeployment", "EchoStage"),
        ]
    )
    assert {c["ResourceChange"]["Action"] for c in changes.values()} == {"Add"}
    assert changes["EchoApi"]["ResourceChange"]["ResourceType"] == "AWS::ApiGatewayV2::Api"
    summaries = cloudformation.list_change_sets(StackName="dp-review")["Summaries"]
    assert [s["ChangeSetId"] for s in summaries] == [created["Id"]]

    cloudformation.execute_change_set(ChangeSetName="first", StackName="dp-review")
    stack = cloudformation.describe_stacks(StackName="dp-review")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["StackId"] == created["StackId"]
    executed = cloudformation.describe_change_set(ChangeSetName=created["Id"])
    assert executed["ExecutionStatus"] == "EXECUTE_COMPLETE"
    events = [
        e["ResourceStatus"]
        for e in cloudformation.describe_stack_events(StackName="dp-review")["StackEvents"]
        if e["LogicalResourceId"] == "dp-review"
    ]
    assert events[-1] == "REVIEW_IN_PROGRESS"  # newest first: the review came first
    assert events[0] == "CREATE_COMPLETE"
    cloudformation.delete_stack(StackName="dp-review")


def test_an_update_change_set_lists_what_changes_and_executing_it_updates(local_aws) -> None:
    cloudformation = local_aws.client("cloudformation")
    stack = create_and_execute(cloudformation, "dp-update")
    url = outputs_of(stack)["WebSocketURL"]
    assert answer(url, {})["greeting"] == "hello"
    without_response = TEMPLATE.replace("      - DefaultRouteResponse\n", "").replace(
        TEMPLATE[TEMPLATE.index("  DefaultRouteResponse:") : TEMPLATE.index("  EchoDeployment:")],
        "",
    )
    cloudformation.create_change_set(
        StackName="dp-update",
        ChangeSetName="second",
        ChangeSetType="UPDATE",
        TemplateBody=without_response,
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[
            {"ParameterKey": "Greeting", "ParameterValue": "bye"},
            {"ParameterKey": "StageName", "UsePreviousValue": True},
        ],
    )
    described = cloudformation.describe_change_set(ChangeSetName="second", StackName="dp-update")
    assert described["Status"] == "CREATE_COMPLETE"
    changes = {
        c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"] for c in described["Changes"]
    }
    # The function refers to the changed parameter; the deployment's DependsOn changed.
    assert changes["AnswerFunction"]["Action"] == "Modify"
    assert changes["AnswerFunction"]["Replacement"] == "False"
    assert (
        changes["AnswerFunction"]["PhysicalResourceId"] == outputs_of(stack)["AnswerFunctionName"]
    )
    assert changes["EchoDeployment"]["Action"] == "Modify"
    assert changes["DefaultRouteResponse"]["Action"] == "Remove"
    assert "EchoApi" not in changes

    cloudformation.execute_change_set(ChangeSetName="second", StackName="dp-update")
    updated = cloudformation.describe_stacks(StackName="dp-update")["Stacks"][0]
    assert updated["StackStatus"] == "UPDATE_COMPLETE"
    assert outputs_of(updated)["WebSocketURL"] == url
    assert {p["ParameterKey"]: p["ParameterValue"] for p in updated["Parameters"]} == {
        "Greeting": "bye",
        "StageName": "live",
    }
    resources = cloudformation.describe_stack_resources(StackName="dp-update")["StackResources"]
    assert "DefaultRouteResponse" not in {r["LogicalResourceId"] for r in resources}
    # Executing deleted the stack's other change sets (the first is kept, executed).
    assert [
        s["ChangeSetName"]
        for s in cloudformation.list_change_sets(StackName="dp-update")["Summaries"]
    ] == ["second"]
    cloudformation.delete_stack(StackName="dp-update")


def test_an_update_change_set_without_changes_fails_with_aws_reason(local_aws) -> None:
    cloudformation = local_aws.client("cloudformation")
    create_and_execute(
        cloudformation,
        "dp-same",
        Parameters=[{"ParameterKey": "Greeting", "ParameterValue": "hey"}],
        Tags=[{"Key": "team", "Value": "chat"}],
    )
    # As `aws cloudformation deploy` sends it: every parameter UsePreviousValue, same tags.
    created = cloudformation.create_change_set(
        StackName="dp-same",
        ChangeSetName="again",
        ChangeSetType="UPDATE",
        TemplateBody=TEMPLATE,
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[
            {"ParameterKey": "Greeting", "UsePreviousValue": True},
            {"ParameterKey": "StageName", "UsePreviousValue": True},
        ],
        Tags=[{"Key": "team", "Value": "chat"}],
    )
    with pytest.raises(botocore.exceptions.WaiterError):
        cloudformation.get_waiter("change_set_create_complete").wait(
            ChangeSetName=created["Id"], WaiterConfig={"Delay": 1, "MaxAttempts": 3}
        )
    described = cloudformation.describe_change_set(ChangeSetName=created["Id"])
    assert (described["Status"], described["ExecutionStatus"]) == ("FAILED", "UNAVAILABLE")
    assert described["StatusReason"] == NO_CHANGES
    error = client_error(cloudformation.execute_change_set, ChangeSetName=created["Id"])
    assert error["Code"] == "InvalidChangeSetStatus"
    assert cloudformation.describe_stacks(StackName="dp-same")["Stacks"][0]["StackStatus"] == (
        "CREATE_COMPLETE"
    )
    # A different tag is a change (AWS applies it to the stack's resources).
    retagged = cloudformation.create_change_set(
        StackName="dp-same",
        ChangeSetName="retag",
        ChangeSetType="UPDATE",
        UsePreviousTemplate=True,
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": "Greeting", "UsePreviousValue": True}],
        Tags=[{"Key": "team", "Value": "voice"}],
    )
    assert cloudformation.describe_change_set(ChangeSetName=retagged["Id"])["Status"] == (
        "CREATE_COMPLETE"
    )
    cloudformation.delete_stack(StackName="dp-same")


def test_change_sets_are_found_by_name_within_their_own_stack(local_aws) -> None:
    cloudformation = local_aws.client("cloudformation")
    ids = {}
    for stack_name in ("dp-names-a", "dp-names-b"):
        ids[stack_name] = cloudformation.create_change_set(
            StackName=stack_name,
            ChangeSetName="same-name",
            ChangeSetType="CREATE",
            TemplateBody=TEMPLATE,
            Capabilities=["CAPABILITY_IAM"],
        )["Id"]
    for stack_name, change_set_id in ids.items():
        described = cloudformation.describe_change_set(
            ChangeSetName="same-name", StackName=stack_name
        )
        assert (described["ChangeSetId"], described["StackName"]) == (change_set_id, stack_name)
    missing = client_error(
        cloudformation.describe_change_set, ChangeSetName="other", StackName="dp-names-a"
    )
    assert (missing["Code"], missing["Message"]) == (
        "ChangeSetNotFound",
        "ChangeSet [other] does not exist",
    )
    cloudformation.delete_change_set(ChangeSetName="same-name", StackName="dp-names-a")
    assert cloudformation.list_change_sets(StackName="dp-names-a")["Summaries"] == []
    assert len(cloudformation.list_change_sets(StackName="dp-names-b")["Summaries"]) == 1
    # The stack a deleted CREATE change set made stays in review, as on AWS.
    stack = cloudformation.describe_stacks(StackName="dp-names-a")["Stacks"][0]
    assert stack["StackStatus"] == "REVIEW_IN_PROGRESS"
    for stack_name in ids:
        cloudformation.delete_stack(StackName=stack_name)


def test_change_set_requests_aws_refuses_are_refused(local_aws) -> None:
    cloudformation = local_aws.client("cloudformation")
    create_and_execute(cloudformation, "dp-refused")
    exists = client_error(
        cloudformation.create_change_set,
        StackName="dp-refused",
        ChangeSetName="again",
        ChangeSetType="CREATE",
        TemplateBody=TEMPLATE,
    )
    assert exists["Code"] == "AlreadyExistsException"
    assert exists["Message"] == (
        "Stack [dp-refused] already exists and cannot be created again with the changeSet [again]."
    )
    unknown = client_error(
        cloudformation.create_change_set,
        StackName="dp-refused",
        ChangeSetName="unknown",
        ChangeSetType="UPDATE",
        TemplateBody=TEMPLATE,
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": "Colour", "ParameterValue": "red"}],
    )
    assert (unknown["Code"], unknown["Message"]) == (
        "ValidationError",
        "Parameters: [Colour] do not exist in the template",
    )
    required = TEMPLATE.replace("    Default: hello\n", "")
    missing = client_error(
        cloudformation.create_change_set,
        StackName="dp-refused-new",
        ChangeSetName="missing",
        ChangeSetType="CREATE",
        TemplateBody=required,
        Capabilities=["CAPABILITY_IAM"],
    )
    assert (missing["Code"], missing["Message"]) == (
        "ValidationError",
        "Parameters: [Greeting] must have values",
    )
    no_stack = client_error(
        cloudformation.create_change_set,
        StackName="dp-never-made",
        ChangeSetName="update",
        ChangeSetType="UPDATE",
        TemplateBody=TEMPLATE,
        Capabilities=["CAPABILITY_IAM"],
    )
    assert (no_stack["Code"], no_stack["Message"]) == (
        "ValidationError",
        "Stack [dp-never-made] does not exist",
    )
    stacks = {s["StackName"] for s in cloudformation.describe_stacks()["Stacks"]}
    assert not {"dp-refused-new", "dp-never-made"} & stacks
    cloudformation.delete_stack(StackName="dp-refused")


def test_change_sets_per_stack_are_bounded(local_aws) -> None:
    from local_aws.change_sets import MAX_CHANGE_SETS_PER_STACK

    cloudformation = local_aws.client("cloudformation")
    small = "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n"
    for number in range(MAX_CHANGE_SETS_PER_STACK):
        cloudformation.create_change_set(
            StackName="dp-many", ChangeSetName=f"cs{number}", TemplateBody=small
        )
    refused = client_error(
        cloudformation.create_change_set,
        StackName="dp-many",
        ChangeSetName="one-more",
        TemplateBody=small,
    )
    assert refused["Code"] == "LimitExceededException"
    assert "DeleteChangeSet" in refused["Message"]
    cloudformation.delete_change_set(ChangeSetName="cs0", StackName="dp-many")
    cloudformation.create_change_set(
        StackName="dp-many", ChangeSetName="one-more", TemplateBody=small
    )
    cloudformation.delete_stack(StackName="dp-many")


# ------------------------------------------------------------------------------ update_stack


def test_update_stack_without_changes_is_refused_as_aws_refuses_it(local_aws) -> None:
    cloudformation = local_aws.client("cloudformation")
    cloudformation.create_stack(
        StackName="dp-no-update",
        TemplateBody=TEMPLATE,
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": "Greeting", "ParameterValue": "hey"}],
    )
    for parameters in (
        [{"ParameterKey": "Greeting", "ParameterValue": "hey"}],
        [{"ParameterKey": "Greeting", "UsePreviousValue": True}],
    ):
        error = client_error(
            cloudformation.update_stack,
            StackName="dp-no-update",
            TemplateBody=TEMPLATE,
            Capabilities=["CAPABILITY_IAM"],
            Parameters=parameters,
        )
        assert (error["Code"], error["Message"]) == (
            "ValidationError",
            "No updates are to be performed.",
        )
    # The same template in other words (a comment, other spacing) is no change either.
    reworded = "# the same stack\n" + TEMPLATE.replace("Type: String", "Type:   String")
    error = client_error(
        cloudformation.update_stack,
        StackName="dp-no-update",
        TemplateBody=reworded,
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": "Greeting", "ParameterValue": "hey"}],
    )
    assert error["Message"] == "No updates are to be performed."
    # Leaving a parameter out means its default: a change.
    cloudformation.update_stack(
        StackName="dp-no-update", TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"]
    )
    stack = cloudformation.describe_stacks(StackName="dp-no-update")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert answer(outputs_of(stack)["WebSocketURL"], {})["greeting"] == "hello"
    cloudformation.delete_stack(StackName="dp-no-update")


# ------------------------------------------------------------------------------ Lambda::Permission


def test_a_lambda_permission_has_a_physical_id_that_ref_returns(local_aws) -> None:
    cloudformation = local_aws.client("cloudformation")
    stack = create_and_execute(cloudformation, "dp-permission")
    permission_id = outputs_of(stack)["AnswerPermissionId"]
    assert re.fullmatch(r"dp-permission-AnswerPermission-[A-Z0-9]{12}", permission_id)
    resources = {
        r["LogicalResourceId"]: r
        for r in cloudformation.describe_stack_resources(StackName="dp-permission")[
            "StackResources"
        ]
    }
    assert resources["AnswerPermission"]["PhysicalResourceId"] == permission_id
    function = outputs_of(stack)["AnswerFunctionName"]
    policy = json.loads(local_aws.client("lambda").get_policy(FunctionName=function)["Policy"])
    assert [statement["Sid"] for statement in policy["Statement"]] == [permission_id]
    # The API may still invoke the function: the permission is the one the gateway checks.
    assert answer(outputs_of(stack)["WebSocketURL"], {})["greeting"] == "hello"
    cloudformation.delete_stack(StackName="dp-permission")


def test_deleting_a_permission_removes_its_statement(local_aws) -> None:
    cloudformation = local_aws.client("cloudformation")
    stack = create_and_execute(cloudformation, "dp-unpermitted")
    function = outputs_of(stack)["AnswerFunctionName"]
    without = TEMPLATE.replace(
        TEMPLATE[TEMPLATE.index("  AnswerPermission:") : TEMPLATE.index("  EchoApi:")], ""
    ).replace("  AnswerPermissionId:\n    Value: !Ref AnswerPermission\n", "")
    cloudformation.update_stack(
        StackName="dp-unpermitted", TemplateBody=without, Capabilities=["CAPABILITY_IAM"]
    )
    lambda_client = local_aws.client("lambda")
    error = client_error(lambda_client.get_policy, FunctionName=function)
    assert error["Code"] == "ResourceNotFoundException"
    cloudformation.delete_stack(StackName="dp-unpermitted")


# ------------------------------------------------------------------------------ the AWS CLI


def aws(server: LocalAwsProcess, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The AWS CLI as a user runs it, pointed at `server`, reading none of the user's files."""
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "AWS_ENDPOINT_URL": server.endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
    }
    return subprocess.run(
        [sys.executable, "-m", "awscli", *args],
        cwd=home,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_aws_cloudformation_deploy_creates_the_stack_and_then_has_nothing_to_do(
    local_aws, tmp_path: Path
) -> None:
    template = tmp_path / "t.yaml"
    template.write_text(TEMPLATE)
    deploy = ("cloudformation", "deploy", "--template-file", "t.yaml", "--stack-name", "dp-cli")
    created = aws(local_aws, tmp_path, *deploy, "--capabilities", "CAPABILITY_IAM")
    assert created.returncode == 0, created.stdout + created.stderr
    assert "Successfully created/updated stack - dp-cli" in created.stdout
    cloudformation = local_aws.client("cloudformation")
    stack = cloudformation.describe_stacks(StackName="dp-cli")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["Capabilities"] == ["CAPABILITY_IAM"]
    outputs = outputs_of(stack)
    assert answer(outputs["WebSocketURL"], {"n": 1}) == {"greeting": "hello", "got": '{"n": 1}'}

    # AWS CLI v1 exits 255 on an empty change set unless told otherwise; both print this.
    again = aws(local_aws, tmp_path, *deploy, "--capabilities", "CAPABILITY_IAM")
    assert again.returncode == 255
    assert "No changes to deploy. Stack dp-cli is up to date" in again.stderr
    quiet = aws(
        local_aws,
        tmp_path,
        *deploy,
        "--capabilities",
        "CAPABILITY_IAM",
        "--no-fail-on-empty-changeset",
    )
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert "No changes to deploy. Stack dp-cli is up to date" in quiet.stdout

    # A parameter override is an update, with the other parameter kept.
    updated = aws(
        local_aws,
        tmp_path,
        *deploy,
        "--capabilities",
        "CAPABILITY_IAM",
        "--parameter-overrides",
        "Greeting=bye",
    )
    assert updated.returncode == 0, updated.stdout + updated.stderr
    stack = cloudformation.describe_stacks(StackName="dp-cli")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert outputs_of(stack) == outputs
    assert answer(outputs["WebSocketURL"], {})["greeting"] == "bye"
    cloudformation.delete_stack(StackName="dp-cli")


def test_iam_resources_need_an_iam_capability_on_every_deploy_path(
    local_aws, tmp_path: Path
) -> None:
    """The error a first `aws cloudformation deploy` of a template with a role meets on AWS."""
    template = tmp_path / "t.yaml"
    template.write_text(TEMPLATE)
    deploy = ("cloudformation", "deploy", "--template-file", "t.yaml", "--stack-name", "dp-iam")
    refused = aws(local_aws, tmp_path, *deploy)
    assert refused.returncode != 0
    assert (
        "An error occurred (InsufficientCapabilitiesException) when calling the CreateChangeSet "
        "operation: Requires capabilities : [CAPABILITY_IAM]"
    ) in refused.stderr

    cloudformation = local_aws.client("cloudformation")
    refused_direct = client_error(
        cloudformation.create_stack, StackName="dp-iam", TemplateBody=TEMPLATE
    )
    assert (refused_direct["Code"], refused_direct["Message"]) == (
        "InsufficientCapabilitiesException",
        "Requires capabilities : [CAPABILITY_IAM]",
    )
    # A role with a custom name needs CAPABILITY_NAMED_IAM; CAPABILITY_IAM is not enough.
    named = TEMPLATE.replace(
        "      AssumeRolePolicyDocument:",
        "      RoleName: dp-iam-answer\n      AssumeRolePolicyDocument:",
        1,
    )
    refused_named = client_error(
        cloudformation.create_stack,
        StackName="dp-iam",
        TemplateBody=named,
        Capabilities=["CAPABILITY_IAM"],
    )
    assert refused_named["Message"] == "Requires capabilities : [CAPABILITY_NAMED_IAM]"
    names = {s["StackName"] for s in cloudformation.describe_stacks()["Stacks"]}
    assert "dp-iam" not in names  # nothing was made, not even a stack in REVIEW_IN_PROGRESS

    cloudformation.create_stack(
        StackName="dp-iam", TemplateBody=named, Capabilities=["CAPABILITY_NAMED_IAM"]
    )
    assert cloudformation.describe_stacks(StackName="dp-iam")["Stacks"][0]["StackStatus"] == (
        "CREATE_COMPLETE"
    )
    # An update is checked the same way.
    refused_update = client_error(
        cloudformation.update_stack,
        StackName="dp-iam",
        TemplateBody=named.replace("Default: hello", "Default: bye"),
        Capabilities=["CAPABILITY_IAM"],
    )
    assert refused_update["Message"] == "Requires capabilities : [CAPABILITY_NAMED_IAM]"
    cloudformation.delete_stack(StackName="dp-iam")


def test_aws_cloudformation_package_uploads_local_code_and_the_packaged_stack_runs_it(
    local_aws, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "app.py").write_text(
        "import json\n\n\n"
        "def handler(event, context):\n"
        '    return {"statusCode": 200, "body": json.dumps({"packaged": event["body"]})}\n'
    )
    (tmp_path / "t.yaml").write_text((TEMPLATES / "deploy_packaged.yaml").read_text())
    local_aws.client("s3").create_bucket(Bucket="dp-artifacts")

    packaged = aws(
        local_aws,
        tmp_path,
        *("cloudformation", "package", "--template-file", "t.yaml"),
        *("--s3-bucket", "dp-artifacts", "--output-template-file", "packaged.yaml"),
    )
    assert packaged.returncode == 0, packaged.stdout + packaged.stderr
    rewritten = (tmp_path / "packaged.yaml").read_text()
    assert "Code: ./src" not in rewritten
    keys = [
        item["Key"]
        for item in local_aws.client("s3").list_objects_v2(Bucket="dp-artifacts")["Contents"]
    ]
    assert len(keys) == 1
    assert f"S3Key: {keys[0]}" in rewritten
    assert "S3Bucket: dp-artifacts" in rewritten

    # With --s3-bucket the CLI uploads the template too and hands CloudFormation its URL,
    # built from the endpoint: http://127.0.0.1:<port>/dp-artifacts/<key>.template.
    deployed = aws(
        local_aws,
        tmp_path,
        *("cloudformation", "deploy", "--template-file", "packaged.yaml"),
        *("--stack-name", "dp-packaged", "--capabilities", "CAPABILITY_IAM"),
        *("--s3-bucket", "dp-artifacts"),
    )
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    uploaded = local_aws.client("s3").list_objects_v2(Bucket="dp-artifacts")["Contents"]
    assert [item["Key"] for item in uploaded if item["Key"].endswith(".template")]
    stack = local_aws.client("cloudformation").describe_stacks(StackName="dp-packaged")["Stacks"][0]
    assert answer(outputs_of(stack)["WebSocketURL"], {"hi": 2}) == {"packaged": '{"hi": 2}'}
    local_aws.client("cloudformation").delete_stack(StackName="dp-packaged")


@pytest.mark.parametrize(
    ("template_url", "message"),
    [
        ("http://127.0.0.1:1/dp-no-bucket/t.yaml", template_urls.UNREADABLE),
        ("https://s3.amazonaws.com/dp-url-bucket/missing.yaml", template_urls.UNREADABLE),
        ("s3://dp-url-bucket/t.yaml", template_urls.UNSUPPORTED),
        ("https://example.com/t.yaml", template_urls.UNSUPPORTED),
    ],
)
def test_a_template_url_that_names_no_readable_object_is_refused(
    local_aws, template_url: str, message: str
) -> None:
    cloudformation = local_aws.client("cloudformation")
    local_aws.client("s3").create_bucket(Bucket="dp-url-bucket")
    for call, extra in (
        (cloudformation.create_stack, {}),
        (cloudformation.create_change_set, {"ChangeSetName": "from-url"}),
        (cloudformation.validate_template, None),
    ):
        request = {"TemplateURL": template_url}
        if extra is not None:
            request |= {"StackName": "dp-url", **extra}
        refused = client_error(call, **request)
        assert (refused["Code"], refused["Message"]) == ("ValidationError", message)
    stacks = {s["StackName"] for s in cloudformation.describe_stacks()["Stacks"]}
    assert "dp-url" not in stacks


# ------------------------------------------------------------------------------ stack events


def events_oldest_first(cloudformation: Any, stack_id: str) -> list[dict[str, Any]]:
    paginator = cloudformation.get_paginator("describe_stack_events")
    pages = paginator.paginate(StackName=stack_id)
    return [event for page in pages for event in page["StackEvents"]][::-1]


def test_each_resource_reports_its_progress_in_dependency_order(local_aws) -> None:
    cloudformation = local_aws.client("cloudformation")
    retained = TEMPLATE.replace(
        "  AnswerRole:\n    Type: AWS::IAM::Role\n",
        "  AnswerRole:\n    Type: AWS::IAM::Role\n    DeletionPolicy: Retain\n",
    )
    stack_id = cloudformation.create_stack(
        StackName="dp-events", TemplateBody=retained, Capabilities=["CAPABILITY_IAM"]
    )["StackId"]
    created = events_oldest_first(cloudformation, stack_id)
    stamps = [event["Timestamp"] for event in created]
    assert stamps == sorted(stamps)
    steps = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in created]
    assert steps[0] == ("dp-events", "CREATE_IN_PROGRESS")
    assert steps[-1] == ("dp-events", "CREATE_COMPLETE")
    resources = [name for name, status in steps[1:-1] if status == "CREATE_IN_PROGRESS"]
    assert len(resources) == 9
    for name in resources:  # each one: in progress, then complete, nothing between
        start = steps.index((name, "CREATE_IN_PROGRESS"))
        assert steps[start + 1] == (name, "CREATE_COMPLETE")

    def before(first: str, then: str) -> bool:
        return steps.index((first, "CREATE_COMPLETE")) < steps.index((then, "CREATE_IN_PROGRESS"))

    assert before("AnswerRole", "AnswerFunction")  # GetAtt
    assert before("EchoApi", "AnswerPermission")  # Sub
    assert before("AnswerFunction", "AnswerIntegration")
    assert before("DefaultRouteResponse", "EchoDeployment")  # DependsOn
    assert before("EchoDeployment", "EchoStage")  # Ref
    complete = {
        e["LogicalResourceId"]: e for e in created if e["ResourceStatus"] == "CREATE_COMPLETE"
    }
    assert complete["AnswerFunction"]["ResourceType"] == "AWS::Lambda::Function"
    assert complete["EchoStage"]["PhysicalResourceId"] == "live"

    cloudformation.update_stack(
        StackName="dp-events",
        TemplateBody=retained,
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": "Greeting", "ParameterValue": "moved"}],
    )
    updated = events_oldest_first(cloudformation, stack_id)[len(created) :]
    assert [(e["LogicalResourceId"], e["ResourceStatus"]) for e in updated] == [
        ("dp-events", "UPDATE_IN_PROGRESS"),
        ("AnswerFunction", "UPDATE_IN_PROGRESS"),
        ("AnswerFunction", "UPDATE_COMPLETE"),
        ("dp-events", "UPDATE_COMPLETE"),
    ]

    cloudformation.delete_stack(StackName="dp-events")
    deleted = events_oldest_first(cloudformation, stack_id)[len(created) + len(updated) :]
    steps = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in deleted]
    assert steps[0] == ("dp-events", "DELETE_IN_PROGRESS")
    assert steps[-1] == ("dp-events", "DELETE_COMPLETE")
    assert ("AnswerRole", "DELETE_SKIPPED") in steps
    assert ("AnswerRole", "DELETE_COMPLETE") not in steps

    def deleted_before(first: str, then: str) -> bool:
        return steps.index((first, "DELETE_COMPLETE")) < steps.index((then, "DELETE_IN_PROGRESS"))

    assert deleted_before("EchoStage", "EchoDeployment")
    assert deleted_before("AnswerIntegration", "AnswerFunction")
    assert deleted_before("AnswerPermission", "EchoApi")
    role = complete["AnswerRole"]["PhysicalResourceId"]
    local_aws.client("iam").delete_role(RoleName=role)  # retained: the test removes it


def test_a_failed_resource_reports_why_and_the_rollback_deletes_what_was_made(local_aws) -> None:
    cloudformation = local_aws.client("cloudformation")
    broken = TEMPLATE.replace("      Runtime: python3.12\n", "      Runtime: python2.1\n")
    stack_id = cloudformation.create_stack(
        StackName="dp-broken", TemplateBody=broken, Capabilities=["CAPABILITY_IAM"]
    )["StackId"]
    events = events_oldest_first(cloudformation, stack_id)
    steps = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in events]
    failed = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
    assert [e["LogicalResourceId"] for e in failed] == ["AnswerFunction"]
    assert "python2.1" in failed[0]["ResourceStatusReason"]
    rollback = steps.index(("dp-broken", "ROLLBACK_IN_PROGRESS"))
    assert events[rollback]["ResourceStatusReason"] == (
        "The following resource(s) failed to create: [AnswerFunction]. Rollback requested by user."
    )
    assert steps.index(("AnswerFunction", "CREATE_FAILED")) < rollback
    assert ("AnswerRole", "DELETE_COMPLETE") in steps[rollback:]
    assert ("AnswerFunction", "DELETE_IN_PROGRESS") not in steps  # never made
    assert steps[-1] == ("dp-broken", "ROLLBACK_COMPLETE")
    cloudformation.delete_stack(StackName="dp-broken")


# ------------------------------------------------------------------------------ SAM

SAM_TEMPLATE = (TEMPLATES / "sam_echo.yaml").read_text()
AUTO_EXPAND = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]


def test_a_sam_template_needs_auto_expand_and_deploys_as_expanded(local_aws) -> None:
    cloudformation = local_aws.client("cloudformation")
    refused = client_error(
        cloudformation.create_stack,
        StackName="dp-sam",
        TemplateBody=SAM_TEMPLATE,
        Capabilities=["CAPABILITY_IAM"],
    )
    assert (refused["Code"], refused["Message"]) == (
        "InsufficientCapabilitiesException",
        "Requires capabilities : [CAPABILITY_AUTO_EXPAND]",
    )
    assert "dp-sam" not in {s["StackName"] for s in cloudformation.describe_stacks()["Stacks"]}

    cloudformation.create_stack(
        StackName="dp-sam", TemplateBody=SAM_TEMPLATE, Capabilities=AUTO_EXPAND
    )
    stack = cloudformation.describe_stacks(StackName="dp-sam")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    processed = cloudformation.get_template(StackName="dp-sam", TemplateStage="Processed")[
        "TemplateBody"
    ]
    types = {name: resource["Type"] for name, resource in processed["Resources"].items()}
    assert not [kind for kind in types.values() if kind.startswith("AWS::Serverless::")]
    assert "Transform" not in processed and "Globals" not in processed
    assert types["ConnectionsTable"] == "AWS::DynamoDB::Table"  # SimpleTable
    assert types["ConnectFunctionRole"] == "AWS::IAM::Role"  # the implicit role
    role = processed["Resources"]["ConnectFunctionRole"]["Properties"]
    assert role["ManagedPolicyArns"] == [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    ]
    crud = role["Policies"][0]["PolicyDocument"]["Statement"][0]["Action"]
    assert "dynamodb:PutItem" in crud  # the DynamoDBCrudPolicy template
    answer_role = processed["Resources"]["AnswerFunctionRole"]["Properties"]
    assert answer_role["ManagedPolicyArns"] == [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    ]  # named without an ARN: read from local_aws's own map, not from IAM
    original = cloudformation.get_template(StackName="dp-sam")["TemplateBody"]
    assert "AWS::Serverless::Function" in original

    outputs = outputs_of(stack)
    ws = connect(outputs["WebSocketURL"])
    try:
        got = json.loads(ask(ws, {"hello": "sam"}))
    finally:
        ws.close()
    assert got == {"table": outputs["TableName"], "got": '{"hello": "sam"}'}
    items = local_aws.client("dynamodb").scan(TableName=outputs["TableName"])["Items"]
    assert len(items) == 1  # the $connect function, allowed by its policy template
    role_name = outputs["ConnectRoleName"]
    assert local_aws.client("iam").get_role(RoleName=role_name)["Role"]["RoleName"] == role_name

    # The same template again is no update: the expansion is the same every time.
    error = client_error(
        cloudformation.update_stack,
        StackName="dp-sam",
        TemplateBody=SAM_TEMPLATE,
        Capabilities=AUTO_EXPAND,
    )
    assert error["Message"] == "No updates are to be performed."
    cloudformation.delete_stack(StackName="dp-sam")


def test_a_sam_template_deploys_through_a_change_set_as_sam_deploy_does(
    local_aws, tmp_path: Path
) -> None:
    (tmp_path / "template.yaml").write_text(SAM_TEMPLATE)
    deploy = (
        *("cloudformation", "deploy", "--template-file", "template.yaml"),
        *("--stack-name", "dp-sam-cli", "--capabilities", "CAPABILITY_IAM"),
    )
    created = aws(local_aws, tmp_path, *deploy)  # a change set needs no CAPABILITY_AUTO_EXPAND
    assert created.returncode == 0, created.stdout + created.stderr
    cloudformation = local_aws.client("cloudformation")
    stack = cloudformation.describe_stacks(StackName="dp-sam-cli")["Stacks"][0]
    assert answer(outputs_of(stack)["WebSocketURL"], {})["got"] == "{}"
    again = aws(local_aws, tmp_path, *deploy, "--no-fail-on-empty-changeset")
    assert again.returncode == 0
    assert "No changes to deploy" in again.stdout
    cloudformation.delete_stack(StackName="dp-sam-cli")


def test_a_sam_function_s_code_uri_is_read_from_s3(local_aws, tmp_path: Path) -> None:
    archive = tmp_path / "code.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("app.py", "def handler(event, context):\n    return {'from': 's3'}\n")
    s3 = local_aws.client("s3")
    s3.create_bucket(Bucket="dp-sam-code")
    s3.upload_file(str(archive), "dp-sam-code", "fn/code.zip")
    template = (
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  FromS3:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        "      Runtime: python3.12\n"
        "      Handler: app.handler\n"
        "      CodeUri: s3://dp-sam-code/fn/code.zip\n"
        "Outputs:\n"
        "  Name:\n"
        "    Value: !Ref FromS3\n"
    )
    cloudformation = local_aws.client("cloudformation")
    cloudformation.create_stack(
        StackName="dp-sam-s3", TemplateBody=template, Capabilities=AUTO_EXPAND
    )
    name = outputs_of(cloudformation.describe_stacks(StackName="dp-sam-s3")["Stacks"][0])["Name"]
    result = local_aws.client("lambda").invoke(FunctionName=name, Payload=b"{}")
    assert json.loads(result["Payload"].read()) == {"from": "s3"}
    cloudformation.delete_stack(StackName="dp-sam-s3")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("      InlineCode: |\n", "      CodeUri: ./src\n      Description: |\n"),
            "Transform AWS::Serverless-2016-10-31 failed with: Invalid Serverless Application "
            "Specification document. Number of errors found: 1. Resource with id "
            "[ConnectFunction] is invalid. 'CodeUri' is not a valid S3 Uri",
        ),
        (
            (
                "Transform: AWS::Serverless-2016-10-31\n",
                "Transform: [AWS::Serverless-2016-10-31, AWS::Include]\n",
            ),
            "local_aws cannot run the transform(s) [AWS::Include]",
        ),
        (
            (
                "  ConnectionsTable:\n    Type: AWS::Serverless::SimpleTable\n",
                "  App:\n    Type: AWS::Serverless::Application\n    Properties:\n"
                "      Location: {ApplicationId: x, SemanticVersion: 1.0.0}\n"
                "  ConnectionsTable:\n    Type: AWS::Serverless::SimpleTable\n",
            ),
            "local_aws cannot expand AWS::Serverless::Application [App]",
        ),
    ],
    ids=["local-code-uri", "other-transform", "serverless-application"],
)
def test_sam_templates_local_aws_cannot_expand_are_refused(local_aws, change, message) -> None:
    old, new = change
    assert old in SAM_TEMPLATE
    cloudformation = local_aws.client("cloudformation")
    error = client_error(
        cloudformation.create_stack,
        StackName="dp-sam-refused",
        TemplateBody=SAM_TEMPLATE.replace(old, new, 1),
        Capabilities=AUTO_EXPAND,
    )
    assert error["Code"] == "ValidationError"
    assert error["Message"].startswith(message), error["Message"]
    stacks = {s["StackName"] for s in cloudformation.describe_stacks()["Stacks"]}
    assert "dp-sam-refused" not in stacks


# ------------------------------------------------------------------------------ tools' own stacks


def test_a_bucket_policy_is_put_on_its_bucket_and_removed_with_the_stack(local_aws) -> None:
    cloudformation = local_aws.client("cloudformation")
    s3 = local_aws.client("s3")
    cloudformation.create_stack(
        StackName="dp-tool-bucket", TemplateBody=(TEMPLATES / "tool_bucket.yaml").read_text()
    )
    stack = cloudformation.describe_stacks(StackName="dp-tool-bucket")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    bucket = outputs_of(stack)["ArtifactBucketName"]
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert policy["Statement"][0]["Sid"] == "HttpsOnly"
    assert policy["Statement"][0]["Resource"][1] == f"arn:aws:s3:::{bucket}"
    resources = cloudformation.describe_stack_resources(StackName="dp-tool-bucket")
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources["StackResources"]
    }
    assert physical["ArtifactBucketPolicy"] == bucket
    # The "deny plain HTTP" statement does not refuse a tool's uploads (moto counted every
    # statement with a Condition as a Deny); a statement without one is still enforced.
    s3.put_object(Bucket=bucket, Key="packaged.template", Body=b"Resources: {}")
    assert s3.get_object(Bucket=bucket, Key="packaged.template")["Body"].read() == b"Resources: {}"
    deny_deletes = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:DeleteObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps({**policy, "Statement": [*policy["Statement"], deny_deletes]}),
    )
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        s3.delete_object(Bucket=bucket, Key="packaged.template")
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    s3.delete_object(Bucket=bucket, Key="packaged.template")

    # A new PolicyDocument is put in place of the old one, on the same bucket.
    cloudformation.update_stack(
        StackName="dp-tool-bucket",
        TemplateBody=(TEMPLATES / "tool_bucket.yaml").read_text().replace("HttpsOnly", "TlsOnly"),
    )
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert [statement["Sid"] for statement in policy["Statement"]] == ["TlsOnly"]

    cloudformation.delete_stack(StackName="dp-tool-bucket")
    assert bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def test_a_sam_websocket_api_resource_deploys_and_serves_its_routes(local_aws) -> None:
    cloudformation = local_aws.client("cloudformation")
    cloudformation.create_stack(
        StackName="dp-sam-websocket",
        TemplateBody=(TEMPLATES / "sam_websocket_api.yaml").read_text(),
        Capabilities=AUTO_EXPAND,
    )
    stack = cloudformation.describe_stacks(StackName="dp-sam-websocket")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    url = f"ws://127.0.0.1:{local_aws.port}/{outputs_of(stack)['ApiId']}/prod"
    assert answer(url, {"action": "shout", "text": "hi"}) == {"route": "shout", "said": "HI"}
    assert answer(url, {"text": "no route"})["route"] == "$default"
    cloudformation.delete_stack(StackName="dp-sam-websocket")
