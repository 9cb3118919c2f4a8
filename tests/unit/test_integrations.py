"""Integration results: reading a Lambda proxy result, the bounds, an `AWS` integration's outcome.

The pure steps (target, templates, IAM resource, response selection) are tested with plain
data in test_integration_plan.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import boto3
import pytest
from moto import mock_aws

from local_aws import events
from local_aws.deployments import DeployedApi, Integration, IntegrationResponse
from local_aws.integrations import (
    INTERNAL_SERVER_ERROR,
    THREADS_PER_API,
    Integrations,
    _call_mock,
    _call_service,
    _proxy_outcome,
    _service_outcome,
    reply_frame,
)
from local_aws.service_calls import moto_calls
from local_aws.settings import Settings
from tests.support.gateway_requests import a_request

T = TypeVar("T")


def test_proxy_result_body_and_headers() -> None:
    outcome = _proxy_outcome(
        {"statusCode": 200, "body": "hi", "headers": {"Sec-WebSocket-Protocol": "chat"}}
    )
    assert (outcome.status, outcome.body, outcome.headers) == (
        200,
        "hi",
        {"Sec-WebSocket-Protocol": "chat"},
    )
    assert outcome.ok


@pytest.mark.parametrize("payload", ["text", None, 42, [1], {"statusCode": "abc"}])
def test_malformed_proxy_results_are_internal_errors(payload) -> None:
    outcome = _proxy_outcome(payload)
    assert outcome.error == INTERNAL_SERVER_ERROR
    assert not outcome.ok


def test_status_code_does_not_stop_a_message_reply() -> None:
    outcome = _proxy_outcome({"statusCode": 500, "body": "still sent"})
    assert outcome.body == "still sent" and outcome.error is None


def _request(route_key: str = "$default") -> events.Request:
    return a_request("MESSAGE", route_key)


@pytest.mark.parametrize(
    ("body", "delivered"),
    [
        ("x" * 128 * 1024, True),  # the quota itself is allowed
        ("x" * (128 * 1024 + 1), False),
        ("é" * (64 * 1024), True),  # 128 KB in UTF-8
        ("é" * (64 * 1024) + "x", False),  # counted in UTF-8 bytes, not characters
        ("x" * 8 * 1024 * 1024, False),
    ],
)
def test_a_route_response_over_the_message_quota_is_an_internal_error(
    body: str, delivered: bool, caplog: pytest.LogCaptureFixture
) -> None:
    frame = reply_frame(body, _request(), Settings().message_limit_bytes)
    if delivered:
        assert frame is body
    else:
        assert frame == (
            '{"message": "Internal server error", "connectionId":"Xk1bVd0JoAMCJQg=", '
            '"requestId":"Yk1bVd0JoAMCJQg="}'
        )
        assert "over the 131072-byte message quota" in caplog.text


def _run_on_threads(workers: int, scenario: Callable[[Integrations], Coroutine[Any, Any, T]]) -> T:
    """Run `scenario` with Integrations whose executor has `workers` threads."""
    executor = ThreadPoolExecutor(max_workers=workers)
    try:
        integrations = Integrations(runtime=None, executor=executor)  # type: ignore[arg-type]
        return asyncio.run(scenario(integrations))
    finally:
        executor.shutdown(wait=False)


def test_one_api_holds_at_most_its_share_of_the_threads() -> None:
    """A slow API queues behind its own threads; another API's call runs at once, and a
    thread counts as taken until its call really ends, even after the caller gave up."""
    release = threading.Event()
    running: list[str] = []

    def slow(name: str) -> str:
        running.append(name)
        release.wait(5)
        return name

    async def scenario(integrations: Integrations) -> None:
        calls = [
            asyncio.ensure_future(integrations._in_thread("slow", slow, f"s{i}")) for i in range(4)
        ]
        await asyncio.sleep(0.1)
        assert len(running) == THREADS_PER_API  # the rest wait on the event loop
        assert await integrations._in_thread("other", lambda: "fast") == "fast"
        calls[0].cancel()  # the caller gives up; its thread is still busy
        await asyncio.sleep(0.1)
        assert len(running) == THREADS_PER_API
        release.set()
        assert await asyncio.gather(*calls[1:]) == ["s1", "s2", "s3"]

    try:
        _run_on_threads(8, scenario)
    finally:
        release.set()


def test_a_blocking_call_s_error_reaches_its_caller_and_frees_the_thread() -> None:
    def failing() -> None:
        raise LookupError("no such item")

    async def scenario(integrations: Integrations) -> list[str]:
        for _ in range(THREADS_PER_API + 1):  # each failure gives its thread back
            with pytest.raises(LookupError, match="no such item"):
                await integrations._in_thread("api", failing)
        return await asyncio.gather(
            *(integrations._in_thread("api", str, n) for n in range(THREADS_PER_API))
        )

    assert _run_on_threads(2, scenario) == [str(n) for n in range(THREADS_PER_API)]


def test_a_call_whose_caller_gave_up_before_it_started_never_runs() -> None:
    release = threading.Event()
    ran: list[str] = []

    def call(name: str) -> None:
        ran.append(name)
        release.wait(5)

    async def scenario(integrations: Integrations) -> None:  # one thread, busy with "first"
        first = asyncio.ensure_future(integrations._in_thread("a", call, "first"))
        await asyncio.sleep(0.05)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):  # as an integration's timeout does
                await integrations._in_thread("b", call, "second")
        release.set()
        await first
        assert await integrations._in_thread("b", lambda: "b's place is free") == (
            "b's place is free"
        )

    try:
        _run_on_threads(1, scenario)
    finally:
        release.set()
    assert ran == ["first"]


# --------------------------------------------------------------------------------------
# An `AWS` integration's outcome, for the steps that need no service
# --------------------------------------------------------------------------------------

DEPLOYED = DeployedApi(
    account_id="123456789012",
    region="eu-west-1",
    api_id="abc",
    stage="api",
    route_selection_expression="$request.body.action",
    routes={},
    stage_variables={"table": "T"},
)


def aws_integration(
    uri: str = "arn:aws:apigateway:eu-west-1:dynamodb:action/PutItem",
    credentials_arn: str | None = "arn:aws:iam::123456789012:role/integration",
    passthrough: str | None = None,
    responses: tuple[IntegrationResponse, ...] = (),
) -> Integration:
    return Integration(
        integration_id="i1",
        integration_type="AWS",
        uri=uri,
        method="POST",
        credentials_arn=credentials_arn,
        request_templates={},
        template_selection_expression=None,
        passthrough_behavior=passthrough,
        timeout_seconds=29.0,
        responses=responses,
    )


def test_an_unsupported_service_is_an_internal_error(caplog: pytest.LogCaptureFixture) -> None:
    uri = "arn:aws:apigateway:eu-west-1:firehose:action/PutRecord"
    outcome = _call_service(DEPLOYED, aws_integration(uri=uri), _request())
    assert (outcome.status, outcome.error) == (500, INTERNAL_SERVER_ERROR)
    assert "local_aws runs these AWS integrations" in caplog.text and "firehose" in caplog.text


def test_a_refused_passthrough_is_unsupported_media_type() -> None:
    outcome = _call_service(DEPLOYED, aws_integration(passthrough="NEVER"), _request())
    assert (outcome.status, outcome.error) == (415, "Unsupported Media Type")


def test_an_integration_without_a_role_is_an_internal_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outcome = _call_service(DEPLOYED, aws_integration(credentials_arn=None), _request())
    assert (outcome.status, outcome.error) == (500, INTERNAL_SERVER_ERROR)
    assert "has no CredentialsArn" in caplog.text


def test_without_integration_responses_the_service_answer_is_the_reply() -> None:
    outcome = _service_outcome(aws_integration(), _request(), DEPLOYED, 400, '{"x": 1}')
    assert (outcome.status, outcome.body, outcome.error) == (400, '{"x": 1}', None)


def test_no_matching_integration_response_never_passes_the_answer_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    responses = (IntegrationResponse("/200/", None, {}),)
    answer = '{"__type": "SerializationException"}'
    outcome = _service_outcome(
        aws_integration(responses=responses), _request(), DEPLOYED, 400, answer
    )
    assert (outcome.status, outcome.body, outcome.error) == (500, None, INTERNAL_SERVER_ERROR)
    assert (
        "Execution failed due to configuration error: No match for output mapping and no "
        "default output mapping configured. Endpoint Response Status Code: 400"
    ) in caplog.text


def test_the_matching_response_template_renders_the_answer() -> None:
    responses = (
        IntegrationResponse(
            "/2\\d\\d/", None, {"$default": "$context.status $stageVariables.table"}
        ),
    )
    outcome = _service_outcome(
        aws_integration(responses=responses), _request(), DEPLOYED, 200, "{}"
    )
    assert (outcome.status, outcome.body) == (200, "200 T")


# --------------------------------------------------------------------------------------
# MOCK, and the service calls that need a moto in process
# --------------------------------------------------------------------------------------


def mock_integration(
    template: str | None = "{\"statusCode\": $input.path('$.code')}",
    responses: tuple[IntegrationResponse, ...] = (),
    passthrough: str | None = None,
) -> Integration:
    return Integration(
        integration_id="m1",
        integration_type="MOCK",
        uri=None,
        method=None,
        credentials_arn=None,
        request_templates={"$default": template} if template is not None else {},
        template_selection_expression="\\$default",
        passthrough_behavior=passthrough,
        timeout_seconds=29.0,
        responses=responses,
    )


def _message(body: str) -> events.Request:
    request = _request()
    return events.Request(request.client, "MESSAGE", "mock", request.request_id, 0, body=body)


MOCK_RESPONSES = (
    IntegrationResponse("/2\\d\\d/", "\\$default", {"$default": '{"ok": $context.status}'}),
    IntegrationResponse("/4\\d\\d/", "\\$default", {"$default": "refused"}),
)


@pytest.mark.parametrize(
    ("code", "expected"),
    [("201", (201, '{"ok": 201}', None)), ("404", (404, "refused", None))],
)
def test_a_mock_answers_with_the_response_its_status_selects(code: str, expected) -> None:
    outcome = _call_mock(
        DEPLOYED, mock_integration(responses=MOCK_RESPONSES), _message('{"code": ' + code + "}")
    )
    assert (outcome.status, outcome.body, outcome.error) == expected


def test_a_mock_template_without_a_status_is_an_internal_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outcome = _call_mock(DEPLOYED, mock_integration(responses=MOCK_RESPONSES), _message("{}"))
    assert (outcome.status, outcome.error) == (500, INTERNAL_SERVER_ERROR)
    assert "statusCode should be an integer" in caplog.text


def test_a_mock_without_templates_answers_200_and_sends_nothing() -> None:
    outcome = _call_mock(DEPLOYED, mock_integration(template=None), _message("hi"))
    assert (outcome.status, outcome.body, outcome.error) == (200, None, None)
    refused = _call_mock(
        DEPLOYED, mock_integration(template=None, passthrough="NEVER"), _message("")
    )
    assert (refused.status, refused.error) == (415, "Unsupported Media Type")


SQS_URI = "arn:aws:apigateway:eu-west-1:sqs:path/123456789012/jobs"
SQS_TEMPLATE = {"$default": "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"}


def test_a_form_request_without_its_content_type_is_not_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    integration = dataclasses.replace(aws_integration(uri=SQS_URI), request_templates=SQS_TEMPLATE)
    outcome = _call_service(DEPLOYED, integration, _request())
    assert (outcome.status, outcome.error) == (500, INTERNAL_SERVER_ERROR)
    assert "integration.request.header.Content-Type" in caplog.text


@pytest.fixture
def moto_sqs() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("sqs", region_name="eu-west-1")
        client.create_queue(QueueName="jobs")
        yield client


def test_moto_answers_an_sqs_request_in_xml(moto_sqs) -> None:
    form = "application/x-www-form-urlencoded"
    status, answer = moto_calls.call(
        "sqs",
        "eu-west-1",
        "123456789012",
        "123456789012/jobs",
        "Action=SendMessage&MessageBody=hello",
        {"Content-Type": form},
    )
    assert status == 200 and "<SendMessageResponse" in answer
    url = moto_sqs.get_queue_url(QueueName="jobs")["QueueUrl"]
    [message] = moto_sqs.receive_message(QueueUrl=url)["Messages"]
    assert message["Body"] == "hello"
    status, answer = moto_calls.call(
        "sqs",
        "eu-west-1",
        "123456789012",
        "123456789012/missing",
        "Action=SendMessage&MessageBody=hello",
        {"Content-Type": form},
    )
    assert status == 400 and "NonExistentQueue" in answer


def test_an_action_moto_does_not_implement_is_a_400_that_says_so(
    moto_sqs, caplog: pytest.LogCaptureFixture
) -> None:
    status, _ = moto_calls.call(
        "states",
        "eu-west-1",
        "123456789012",
        "",
        "{}",
        {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "AWSStepFunctions.ValidateStateMachineDefinition",
        },
    )
    assert status == 400
    assert "moto does not implement this states action" in caplog.text


def test_the_role_may_be_named_by_a_stage_variable(moto_sqs) -> None:
    """`${stageVariables.role}` in CredentialsArn is the stage's role (reference: stage
    variables may name the credentials' role ARN); the call then runs through moto."""
    iam = boto3.client("iam", region_name="eu-west-1")
    iam.create_role(RoleName="sender-dev", AssumeRolePolicyDocument="{}")
    iam.put_role_policy(
        RoleName="sender-dev",
        PolicyName="send",
        PolicyDocument=(
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
            '"Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:eu-west-1:123456789012:jobs"}]}'
        ),
    )
    integration = dataclasses.replace(
        aws_integration(
            uri=SQS_URI,
            credentials_arn="arn:aws:iam::123456789012:role/sender-${stageVariables.env}",
        ),
        request_templates=SQS_TEMPLATE,
        request_parameters={
            "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"
        },
    )
    dev = dataclasses.replace(DEPLOYED, stage_variables={"env": "dev"})
    outcome = _call_service(dev, integration, _request())
    assert outcome.status == 200 and "<SendMessageResponse" in (outcome.body or "")
    prod = dataclasses.replace(DEPLOYED, stage_variables={"env": "prod"})  # no such role
    assert _call_service(prod, integration, _request()).error == INTERNAL_SERVER_ERROR
