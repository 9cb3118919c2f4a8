"""tutorial_helpers.stack on real CloudFormation, answered by botocore Stubbers.

These are the paths only AWS takes: events over minutes, throttling, rollbacks, `wss://`
outputs. CI has no account, so every AWS answer here is canned.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from tutorial_helpers import WorkshopError, management_endpoint
from tutorial_helpers.stack import (
    CAPABILITIES,
    WORKSHOP_TAG,
    delete_stack,
    deploy_stack,
    ensure_stack,
    stack_outputs,
)
from tutorial_helpers.stack_watch import watch_stack
from tutorial_helpers.target import Target
from tutorial_helpers.template import TEMPLATE_PATH, load_template

from .test_tutorial_helpers import StubbedTarget, aws_client

NAME = "ws-workshop-ada"
STACK_ARN_PREFIX = "arn:aws:cloudformation:eu-west-1:111122223333:stack"
STACK_ID = f"{STACK_ARN_PREFIX}/{NAME}/0f0e0d0c-aaaa-bbbb-cccc-0123456789ab"
OLD_STACK_ID = STACK_ID.replace("0f0e0d0c", "0a0a0a0a")
URL = "wss://abcde12345.execute-api.eu-west-1.amazonaws.com/api"
TOTAL = len(load_template()["Resources"])
START = datetime(2025, 3, 1, 9, 0, 0, tzinfo=UTC)
OUTPUTS = [
    {"OutputKey": "WebSocketURL", "OutputValue": URL},
    {"OutputKey": "SessionsTableName", "OutputValue": f"{NAME}-Sessions"},
]


def event(number: int, logical_id: str, status: str, reason: str = "") -> dict[str, Any]:
    resource_type = "AWS::CloudFormation::Stack" if logical_id == NAME else "AWS::IAM::Role"
    answer = {
        "StackId": STACK_ID,
        "EventId": f"event-{number}",
        "StackName": NAME,
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "Timestamp": START + timedelta(seconds=10 * number),
        "ResourceStatus": status,
    }
    if reason:
        answer["ResourceStatusReason"] = reason
    return answer


def newest_first(*events: dict[str, Any]) -> dict[str, Any]:
    return {"StackEvents": list(reversed(events))}


def stack(status: str, stack_id: str = STACK_ID, outputs: list | None = None) -> dict[str, Any]:
    answer = {
        "Stacks": [
            {
                "StackId": stack_id,
                "StackName": NAME,
                "CreationTime": START,
                "StackStatus": status,
                "Tags": [WORKSHOP_TAG],
            }
        ]
    }
    if outputs:
        answer["Stacks"][0]["Outputs"] = outputs
    return answer


def no_such_stack(stub: Stubber, name: str = NAME) -> None:
    stub.add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message=f"Stack with id {name} does not exist",
        http_status_code=400,
        expected_params={"StackName": name},
    )


def throttled(stub: Stubber, operation: str) -> None:
    stub.add_client_error(
        operation,
        service_error_code="Throttling",
        service_message="Rate exceeded",
        http_status_code=400,
    )


class Recorder:
    """A `sleep` that records what it was asked to wait, and never waits."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def cloudformation() -> Any:
    return aws_client("cloudformation")


def aws_target(cloudformation: Any) -> StubbedTarget:
    return StubbedTarget("aws", "eu-west-1", NAME, clients={"cloudformation": cloudformation})


def test_create_prints_events_as_they_happen(cloudformation) -> None:
    created = [
        event(1, NAME, "CREATE_IN_PROGRESS", "User Initiated"),
        event(2, "SessionsTable", "CREATE_IN_PROGRESS"),
    ]
    later = [
        event(3, "SessionsTable", "CREATE_IN_PROGRESS", "Resource creation Initiated"),
        event(4, "SessionsTable", "CREATE_COMPLETE"),
        event(5, "SessionsTableAccessRole", "CREATE_COMPLETE"),
    ]
    done = [event(6, NAME, "CREATE_COMPLETE")]
    with Stubber(cloudformation) as stub:
        no_such_stack(stub)
        stub.add_response(
            "create_stack",
            {"StackId": STACK_ID},
            {
                "StackName": NAME,
                "TemplateBody": TEMPLATE_PATH.read_text(),
                "Capabilities": CAPABILITIES,
                "Tags": [WORKSHOP_TAG],
            },
        )
        stub.add_response("describe_stack_events", newest_first(*created), {"StackName": STACK_ID})
        stub.add_response("describe_stacks", stack("CREATE_IN_PROGRESS"), {"StackName": STACK_ID})
        stub.add_response("describe_stack_events", newest_first(*created, *later))
        stub.add_response("describe_stacks", stack("CREATE_IN_PROGRESS"))
        stub.add_response("describe_stack_events", newest_first(*created, *later, *done))
        stub.add_response("describe_stacks", stack("CREATE_COMPLETE"))
        stub.add_response(
            "describe_stacks", stack("CREATE_COMPLETE", outputs=OUTPUTS), {"StackName": NAME}
        )
        out, sleep = io.StringIO(), Recorder()
        outputs = deploy_stack(aws_target(cloudformation), sleep=sleep, out=out)
        stub.assert_no_pending_responses()
    text = out.getvalue()
    # One plain line per event, no redrawing (\r) and no rates: it reads the same when saved.
    # A resource's first *_COMPLETE line counts it.
    assert "\r" not in text and "/s" not in text
    no = " " * len(f"{TOTAL}/{TOTAL}")
    assert text.splitlines() == [
        f"Creating stack {NAME} ({TOTAL} resources)...",
        f"09:00:10  {no}  {NAME:<32} CREATE_IN_PROGRESS   User Initiated",
        f"09:00:20  {no}  {'SessionsTable':<32} CREATE_IN_PROGRESS",
        f"09:00:30  {no}  {'SessionsTable':<32} CREATE_IN_PROGRESS   Resource creation Initiated",
        f"09:00:40  {f'1/{TOTAL}':>{len(no)}}  {'SessionsTable':<32} CREATE_COMPLETE",
        f"09:00:50  {f'2/{TOTAL}':>{len(no)}}  {'SessionsTableAccessRole':<32} CREATE_COMPLETE",
        f"09:01:00  {no}  {NAME:<32} CREATE_COMPLETE",
        f"Stack {NAME}: CREATE_COMPLETE",
    ]
    assert sleep.waits == [5.0, 5.0]  # polls every 5 s
    assert outputs == {"WebSocketURL": URL, "SessionsTableName": f"{NAME}-Sessions"}
    assert management_endpoint(outputs["WebSocketURL"]) == (
        "https://abcde12345.execute-api.eu-west-1.amazonaws.com/api"
    )


def test_no_updates_to_perform_is_not_an_error(cloudformation) -> None:
    with Stubber(cloudformation) as stub:
        stub.add_response("describe_stacks", stack("UPDATE_COMPLETE"), {"StackName": NAME})
        stub.add_response("describe_stack_events", newest_first(event(1, NAME, "UPDATE_COMPLETE")))
        stub.add_client_error(
            "update_stack",
            service_error_code="ValidationError",
            service_message="No updates are to be performed.",
            http_status_code=400,
        )
        stub.add_response("describe_stacks", stack("UPDATE_COMPLETE", outputs=OUTPUTS))
        out = io.StringIO()
        outputs = deploy_stack(aws_target(cloudformation), sleep=Recorder(), out=out)
        stub.assert_no_pending_responses()
    assert out.getvalue() == f"Stack {NAME} is up to date: no changes.\n"
    assert outputs["WebSocketURL"] == URL


def test_rollback_complete_stack_asks_for_replace_failed(cloudformation) -> None:
    with Stubber(cloudformation) as stub:
        stub.add_response("describe_stacks", stack("ROLLBACK_COMPLETE"), {"StackName": NAME})
        with pytest.raises(WorkshopError, match=r"ROLLBACK_COMPLETE.*replace_failed=True"):
            deploy_stack(aws_target(cloudformation), sleep=Recorder(), out=io.StringIO())


def test_replace_failed_deletes_the_stack_then_creates_it_again(cloudformation) -> None:
    with Stubber(cloudformation) as stub:
        stub.add_response(
            "describe_stacks", stack("ROLLBACK_COMPLETE", OLD_STACK_ID), {"StackName": NAME}
        )
        # delete_stack
        stub.add_response(
            "describe_stacks", stack("ROLLBACK_COMPLETE", OLD_STACK_ID), {"StackName": NAME}
        )
        stub.add_response("describe_stack_events", newest_first(), {"StackName": OLD_STACK_ID})
        stub.add_response(
            "describe_stack_resources", {"StackResources": []}, {"StackName": OLD_STACK_ID}
        )
        stub.add_response("delete_stack", {}, {"StackName": NAME})
        stub.add_response("describe_stack_events", newest_first(event(1, NAME, "DELETE_COMPLETE")))
        stub.add_response(
            "describe_stacks", stack("DELETE_COMPLETE", OLD_STACK_ID), {"StackName": OLD_STACK_ID}
        )
        # create
        stub.add_response(
            "create_stack",
            {"StackId": STACK_ID},
            {"StackName": NAME, "TemplateBody": ANY, "Capabilities": ANY, "Tags": ANY},
        )
        stub.add_response("describe_stack_events", newest_first(event(2, NAME, "CREATE_COMPLETE")))
        stub.add_response("describe_stacks", stack("CREATE_COMPLETE"), {"StackName": STACK_ID})
        stub.add_response(
            "describe_stacks", stack("CREATE_COMPLETE", outputs=OUTPUTS), {"StackName": NAME}
        )
        out = io.StringIO()
        deploy_stack(aws_target(cloudformation), replace_failed=True, sleep=Recorder(), out=out)
        stub.assert_no_pending_responses()
    text = out.getvalue()
    assert text.index(f"Stack {NAME}: DELETE_COMPLETE") < text.index(f"Creating stack {NAME}")


def test_failed_create_reports_cloudformations_reasons(cloudformation) -> None:
    failed = [
        event(1, NAME, "CREATE_IN_PROGRESS", "User Initiated"),
        event(
            2,
            "SessionsTableAccessRole",
            "CREATE_FAILED",
            "User is not authorized to perform iam:CreateRole",
        ),
        event(3, NAME, "ROLLBACK_COMPLETE"),
    ]
    with Stubber(cloudformation) as stub:
        no_such_stack(stub)
        stub.add_response("create_stack", {"StackId": STACK_ID})
        stub.add_response("describe_stack_events", newest_first(*failed))
        stub.add_response("describe_stacks", stack("ROLLBACK_COMPLETE"))
        stub.add_response("describe_stack_events", newest_first(*failed))
        with pytest.raises(WorkshopError) as raised:
            deploy_stack(aws_target(cloudformation), sleep=Recorder(), out=io.StringIO())
    message = str(raised.value)
    assert "ended in ROLLBACK_COMPLETE" in message
    assert "SessionsTableAccessRole: User is not authorized to perform iam:CreateRole" in message
    assert "replace_failed=True" in message


def test_a_stack_in_progress_is_waited_for_before_updating(cloudformation) -> None:
    with Stubber(cloudformation) as stub:
        stub.add_response("describe_stacks", stack("UPDATE_IN_PROGRESS"), {"StackName": NAME})
        stub.add_response(
            "describe_stack_events", newest_first(event(1, NAME, "UPDATE_IN_PROGRESS"))
        )
        stub.add_response(
            "describe_stack_events", newest_first(event(1, NAME, "UPDATE_IN_PROGRESS"))
        )
        stub.add_response("describe_stacks", stack("UPDATE_COMPLETE"))
        stub.add_response("describe_stacks", stack("UPDATE_COMPLETE"), {"StackName": NAME})
        stub.add_response(
            "describe_stack_events", newest_first(event(1, NAME, "UPDATE_IN_PROGRESS"))
        )
        stub.add_response("update_stack", {"StackId": STACK_ID})
        stub.add_response(
            "describe_stack_events",
            newest_first(event(1, NAME, "UPDATE_IN_PROGRESS"), event(2, NAME, "UPDATE_COMPLETE")),
        )
        stub.add_response("describe_stacks", stack("UPDATE_COMPLETE"))
        stub.add_response("describe_stacks", stack("UPDATE_COMPLETE", outputs=OUTPUTS))
        out = io.StringIO()
        deploy_stack(aws_target(cloudformation), sleep=Recorder(), out=out)
        stub.assert_no_pending_responses()
    text = out.getvalue()
    assert f"Stack {NAME} is UPDATE_IN_PROGRESS: waiting." in text
    assert f"Updating stack {NAME}..." in text
    assert text.count("UPDATE_COMPLETE") == 2  # the new event, then the final status line


def test_watch_gives_up_after_the_timeout_with_advice(cloudformation) -> None:
    clock = iter(range(0, 10_000, 100))
    with Stubber(cloudformation) as stub:
        for _ in range(3):
            stub.add_response(
                "describe_stack_events", newest_first(event(1, NAME, "CREATE_IN_PROGRESS"))
            )
            stub.add_response("describe_stacks", stack("CREATE_IN_PROGRESS"))
        with pytest.raises(WorkshopError, match="still CREATE_IN_PROGRESS after .* Events tab"):
            watch_stack(
                cloudformation,
                STACK_ID,
                total_resources=TOTAL,
                timeout_seconds=150,
                sleep=Recorder(),
                out=io.StringIO(),
                clock=lambda: next(clock),
            )


def test_delete_of_a_missing_stack_is_not_an_error(cloudformation) -> None:
    with Stubber(cloudformation) as stub:
        no_such_stack(stub)
        out = io.StringIO()
        assert delete_stack(aws_target(cloudformation), out=out) == "DOES_NOT_EXIST"
    assert out.getvalue() == f"Stack {NAME} does not exist: nothing to delete.\n"


def test_delete_failed_says_what_blocks_it(cloudformation) -> None:
    blocked = [
        event(1, NAME, "DELETE_IN_PROGRESS", "User Initiated"),
        event(
            2,
            "SessionsTableAccessRole",
            "DELETE_FAILED",
            "Cannot delete entity, must detach all policies first.",
        ),
        event(3, NAME, "DELETE_FAILED"),
    ]
    with Stubber(cloudformation) as stub:
        stub.add_response("describe_stacks", stack("CREATE_COMPLETE"), {"StackName": NAME})
        stub.add_response("describe_stack_events", newest_first())
        stub.add_response("describe_stack_resources", {"StackResources": []})
        stub.add_response("delete_stack", {})
        stub.add_response("describe_stack_events", newest_first(*blocked))
        stub.add_response("describe_stacks", stack("DELETE_FAILED"))
        stub.add_response("describe_stack_events", newest_first(*blocked))
        with pytest.raises(WorkshopError, match="must detach all policies first"):
            delete_stack(aws_target(cloudformation), sleep=Recorder(), out=io.StringIO())


def test_ensure_stack_deploys_a_missing_stack_with_progress_on_aws(cloudformation) -> None:
    with Stubber(cloudformation) as stub:
        no_such_stack(stub)  # stack_status
        no_such_stack(stub)  # deploy_stack
        stub.add_response("create_stack", {"StackId": STACK_ID})
        stub.add_response("describe_stack_events", newest_first(event(1, NAME, "CREATE_COMPLETE")))
        stub.add_response("describe_stacks", stack("CREATE_COMPLETE"))
        stub.add_response("describe_stacks", stack("CREATE_COMPLETE", outputs=OUTPUTS))
        stub.add_response("describe_stacks", stack("CREATE_COMPLETE", outputs=OUTPUTS))
        out = io.StringIO()
        outputs = ensure_stack(aws_target(cloudformation), out=out)
        stub.assert_no_pending_responses()
    assert f"Creating stack {NAME}" in out.getvalue()
    assert out.getvalue().endswith(f"Stack {NAME} is deployed.\n")
    assert outputs["WebSocketURL"] == URL


# ---------------------------------------------------------------- what each status means


@pytest.mark.parametrize(
    ("status", "what_happened"),
    [
        ("ROLLBACK_COMPLETE", "its first creation failed and was rolled back"),
        ("ROLLBACK_FAILED", "its first creation failed, and so did the rollback"),
        ("CREATE_FAILED", "its creation failed and was not rolled back"),
        ("DELETE_FAILED", "a delete of it failed, leaving some of its resources"),
    ],
)
def test_a_stack_that_can_only_be_deleted_says_truly_why(
    cloudformation, status, what_happened
) -> None:
    with Stubber(cloudformation) as stub:
        stub.add_response("describe_stacks", stack(status), {"StackName": NAME})
        with pytest.raises(WorkshopError) as raised:
            deploy_stack(aws_target(cloudformation), sleep=Recorder(), out=io.StringIO())
    message = str(raised.value)
    assert f"Stack {NAME} is {status}: {what_happened}, and such a stack cannot" in message
    assert "replace_failed=True" in message
    if status == "DELETE_FAILED":
        assert "first creation" not in message


def test_a_stack_whose_update_was_rolled_back_is_deployed(cloudformation) -> None:
    with Stubber(cloudformation) as stub:
        stub.add_response("describe_stacks", stack("UPDATE_ROLLBACK_COMPLETE", outputs=OUTPUTS))
        assert stack_outputs(aws_target(cloudformation))["WebSocketURL"] == URL


def test_ensure_stack_uses_a_stack_whose_update_was_rolled_back_as_it_is(cloudformation) -> None:
    with Stubber(cloudformation) as stub:
        stub.add_response("describe_stacks", stack("UPDATE_ROLLBACK_COMPLETE"))  # stack_status
        stub.add_response("describe_stacks", stack("UPDATE_ROLLBACK_COMPLETE", outputs=OUTPUTS))
        out = io.StringIO()
        outputs = ensure_stack(aws_target(cloudformation), out=out)
        stub.assert_no_pending_responses()  # no update_stack, no create_stack
    assert out.getvalue() == f"Stack {NAME} is deployed.\n"
    assert outputs["WebSocketURL"] == URL


@pytest.mark.parametrize(
    ("final_status", "next_step"),
    [
        ("UPDATE_ROLLBACK_COMPLETE", "rolled back to its previous version, which still works"),
        ("UPDATE_ROLLBACK_FAILED", "so did its rollback.*Continue update rollback"),
    ],
)
def test_a_failed_update_says_what_state_it_left(cloudformation, final_status, next_step) -> None:
    failed = [
        event(1, NAME, "UPDATE_IN_PROGRESS", "User Initiated"),
        event(2, "SessionsTableAccessRole", "UPDATE_FAILED", "Policy is malformed"),
        event(3, NAME, final_status),
    ]
    with Stubber(cloudformation) as stub:
        stub.add_response("describe_stacks", stack("UPDATE_COMPLETE"), {"StackName": NAME})
        stub.add_response("describe_stack_events", newest_first())
        stub.add_response("update_stack", {"StackId": STACK_ID})
        stub.add_response("describe_stack_events", newest_first(*failed))
        stub.add_response("describe_stacks", stack(final_status))
        stub.add_response("describe_stack_events", newest_first(*failed))
        with pytest.raises(WorkshopError, match=next_step) as raised:
            deploy_stack(aws_target(cloudformation), sleep=Recorder(), out=io.StringIO())
    assert "SessionsTableAccessRole: Policy is malformed" in str(raised.value)
    if final_status == "UPDATE_ROLLBACK_FAILED":
        assert "rolled back to its previous version" not in str(raised.value)


# ---------------------------------------------------------------- throttling: one retry layer


def test_the_helpers_do_not_retry_on_top_of_botocore(cloudformation) -> None:
    # A throttling error reaching the helpers means botocore's own retries are used up:
    # the helpers explain it instead of starting a second round of retries.
    with Stubber(cloudformation) as stub:
        no_such_stack(stub)
        stub.add_response("create_stack", {"StackId": STACK_ID})
        throttled(stub, "describe_stack_events")
        stub.add_response("describe_stack_events", newest_first(event(1, NAME, "CREATE_COMPLETE")))
        stub.add_response("describe_stacks", stack("CREATE_COMPLETE"))
        stub.add_response("describe_stacks", stack("CREATE_COMPLETE", outputs=OUTPUTS))
        sleep = Recorder()
        with pytest.raises(WorkshopError, match=r"throttling.*run this cell again"):
            deploy_stack(aws_target(cloudformation), sleep=sleep, out=io.StringIO())
    assert sleep.waits == []


class _CannedBody:
    """The raw body of a canned HTTP answer (what botocore reads from urllib3)."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        yield self._body


THROTTLED_XML = (
    b'<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error>'
    b"<Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
    b"<RequestId>r</RequestId></ErrorResponse>"
)
EVENTS_XML = (
    b'<DescribeStackEventsResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">'
    b"<DescribeStackEventsResult><StackEvents/></DescribeStackEventsResult>"
    b"<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeStackEventsResponse>"
)


def test_aws_clients_retry_throttled_calls_in_botocore(monkeypatch) -> None:
    from botocore.awsrequest import AWSResponse

    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-west-1"
    )
    client = Target("aws", "eu-west-1", NAME, None, session).client("cloudformation")
    answers = [(400, THROTTLED_XML)] * 3 + [(200, EVENTS_XML)]
    sent: list[str] = []

    def answer_without_network(request: Any, **kwargs: Any) -> AWSResponse:
        sent.append(request.url)
        status, body = answers[len(sent) - 1]
        return AWSResponse(request.url, status, {}, _CannedBody(body))

    client.meta.events.register("before-send.cloudformation", answer_without_network)
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda seconds: None)
    assert client.describe_stack_events(StackName=STACK_ID)["StackEvents"] == []
    assert len(sent) == 4  # three throttled attempts retried by botocore, then the answer
