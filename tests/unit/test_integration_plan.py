"""The pure steps of an integration call, each with plain data: the target an integration URI
names, the request template or passthrough, the IAM resource, the integration response."""

from __future__ import annotations

import json

import pytest

from local_aws import events
from local_aws.deployments import Integration, IntegrationResponse
from local_aws.integration_plan import (
    NotAnEvent,
    ResponsePlan,
    ServiceTarget,
    lambda_event,
    lambda_function_arn,
    mock_status,
    passthrough_body,
    render_request,
    render_response,
    request_params,
    request_template,
    resource_arn,
    response_plan,
    select_integration_response,
    service_call,
    service_target,
    with_stage_variables,
)
from local_aws.request_parameters import map_parameters
from tests.support.gateway_requests import a_request

PUT_ITEM_URI = "arn:aws:apigateway:eu-west-1:dynamodb:action/PutItem"
FUNCTION_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:echo"
ROLE_ARN = "arn:aws:iam::123456789012:role/integration"


def integration(
    templates: dict[str, str] | None = None,
    selection: str | None = None,
    passthrough: str | None = None,
) -> Integration:
    return Integration(
        integration_id="i1",
        integration_type="AWS",
        uri=PUT_ITEM_URI,
        method="POST",
        credentials_arn=ROLE_ARN,
        request_templates=templates or {},
        template_selection_expression=selection,
        passthrough_behavior=passthrough,
        timeout_seconds=29.0,
        responses=(),
    )


def request(event_type: str = "MESSAGE", body: str | None = '{"action": "put"}') -> events.Request:
    return a_request(event_type, "put", body, headers={"X-Name": "ada"}, query={"room": "r1"})


def response(key: str, templates: dict[str, str] | None = None) -> IntegrationResponse:
    return IntegrationResponse(
        key=key, template_selection_expression=None, response_templates=templates or {}
    )


# --------------------------------------------------------------------------------------
# The target
# --------------------------------------------------------------------------------------


def test_a_service_uri_names_its_action_and_region() -> None:
    assert service_target(PUT_ITEM_URI) == ServiceTarget("dynamodb", "PutItem", "eu-west-1")


@pytest.mark.parametrize(
    "uri",
    [
        None,
        "",
        "arn:aws:apigateway:eu-west-1:firehose:action/PutRecord",  # not run locally
        "arn:aws:apigateway:eu-west-1:dynamodb:path/PutItem",  # a path, not an action
        "arn:aws:apigateway:eu-west-1:sns:path/123456789012/topic",  # SNS takes actions only
        "arn:aws:apigateway:eu-west-1:sqs:path/123456789012",  # no queue
    ],
)
def test_other_uris_name_no_service_target(uri: str | None) -> None:
    assert service_target(uri) is None


def test_a_lambda_invocation_uri_names_its_function() -> None:
    uri = (
        f"arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/{FUNCTION_ARN}/invocations"
    )
    assert lambda_function_arn(uri) == FUNCTION_ARN
    assert lambda_function_arn(PUT_ITEM_URI) is None
    assert lambda_function_arn(None) is None


# --------------------------------------------------------------------------------------
# The request
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"kind": "a"}', "template a"),
        ('{"kind": "b"}', "default"),  # no template for "b": $default's
        ("not json", "default"),  # the selection cannot be evaluated
        (None, "default"),
    ],
)
def test_the_body_selects_the_request_template(body: str | None, expected: str) -> None:
    chosen = integration({"a": "template a", "$default": "default"}, selection="$request.body.kind")
    assert request_template(chosen, body) == expected


def test_without_a_matching_template_there_is_none() -> None:
    assert request_template(integration({"a": "x"}, selection="$request.body.kind"), "{}") is None
    assert request_template(integration(), "{}") is None


@pytest.mark.parametrize(
    ("behaviour", "templates", "expected"),
    [
        (None, {}, "{}"),  # WHEN_NO_MATCH is the default
        ("WHEN_NO_MATCH", {"a": "x"}, "{}"),
        ("WHEN_NO_TEMPLATES", {}, "{}"),
        ("WHEN_NO_TEMPLATES", {"a": "x"}, None),  # refused: 415
        ("NEVER", {}, None),
    ],
)
def test_passthrough_behaviour(
    behaviour: str | None, templates: dict[str, str], expected: str | None
) -> None:
    assert passthrough_body(integration(templates, passthrough=behaviour), "{}") == expected


def test_a_missing_body_passes_through_as_empty() -> None:
    assert passthrough_body(integration(), None) == ""


def test_only_connect_requests_have_query_and_headers() -> None:
    assert request_params(request("CONNECT")) == {
        "path": {},
        "querystring": {"room": "r1"},
        "header": {"X-Name": "ada"},
    }
    empty = {"path": {}, "querystring": {}, "header": {}}
    assert request_params(request("MESSAGE")) == empty
    assert request_params(request("DISCONNECT")) == empty


def test_the_request_template_sees_context_body_params_and_stage_variables() -> None:
    template = (
        "$context.connectionId $input.path('$.action') $input.params('room') $stageVariables.t"
    )
    rendered = render_request(template, request("CONNECT"), {"t": "Table"}, time_limit=1.0)
    assert rendered == "Xk1bVd0JoAMCJQg= put r1 Table"


# --------------------------------------------------------------------------------------
# The call and its IAM resource
# --------------------------------------------------------------------------------------


def arn_of(body: str) -> str | None:
    return resource_arn("dynamodb", "us-east-1", "1", body)


def test_resource_arn_is_the_table_named_in_the_request() -> None:
    assert arn_of('{"TableName": "T"}') == "arn:aws:dynamodb:us-east-1:1:table/T"
    assert arn_of("{}") == "arn:aws:dynamodb:us-east-1:1:table/*"


def test_resource_arn_of_an_impossible_table_name_is_not_matched() -> None:
    assert str(arn_of(json.dumps({"TableName": "t" * 10_000}))).endswith(":table/*")
    assert str(arn_of(json.dumps({"TableName": 42}))).endswith(":table/*")


def test_a_body_that_is_not_a_json_object_names_no_resource() -> None:
    """DynamoDB refuses such a body before any authorization: no IAM check applies."""
    deep = '{"TableName": ' + "[" * 5000 + "]" * 5000 + "}"
    for body in ('{"TableName": "T", broken', "[1, 2]", '"text"', deep):
        assert arn_of(body) is None, body


def test_a_service_call_holds_what_the_execution_needs() -> None:
    target = ServiceTarget("dynamodb", "PutItem", "eu-west-1")
    call = service_call(target, "123456789012", ROLE_ARN, '{"TableName": "Connections"}')
    assert call.permission == "dynamodb:PutItem"
    assert call.role_arn == ROLE_ARN
    assert call.resource_arn == "arn:aws:dynamodb:eu-west-1:123456789012:table/Connections"
    assert service_call(target, "123456789012", ROLE_ARN, "[1]").resource_arn is None


# --------------------------------------------------------------------------------------
# The answer
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "status", "expected"),
    [
        (["/200/"], 200, "/200/"),
        (["/200/"], 400, None),
        (["/200/", "$default"], 400, "$default"),
        (["$default", "/4\\d\\d/"], 404, "/4\\d\\d/"),  # a matching regex beats $default
        (["/2\\d\\d/"], 2000, None),  # the whole status must match
        (["/[/"], 200, None),  # an invalid regex matches nothing
        (["/2/"], 2, "/2/"),  # the shortest regex key
        # Only a key between slashes is a regex: "//" is not (an empty regex), nor a key
        # slashed on one side, nor any other key, whatever is between its first and last.
        (["//", "$default"], "", "$default"),
        (["x200/", "/200x", "x200x", "$default"], 200, "$default"),
    ],
)
def test_integration_response_selection(keys, status, expected) -> None:
    selected = select_integration_response(tuple(response(k) for k in keys), status)
    assert (selected.key if selected else None) == expected


def test_without_integration_responses_the_answer_passes_through() -> None:
    assert response_plan((), 400) == ResponsePlan(matched=True, template=None)


def test_when_no_integration_response_matches_nothing_of_the_answer_reaches_the_client() -> None:
    assert response_plan((response("/200/"),), 400) == ResponsePlan(matched=False)


def test_the_matching_response_gives_its_default_template() -> None:
    responses = (response("/200/", {"$default": "ok $context.status"}), response("$default"))
    assert response_plan(responses, 200) == ResponsePlan(True, "ok $context.status")
    assert response_plan(responses, 500) == ResponsePlan(True, None)  # no template: as is


def test_the_response_template_sees_the_status_and_the_answer() -> None:
    rendered = render_response(
        "$context.status $input.path('$.Item.id') $stageVariables.t",
        request(),
        {"t": "T"},
        status=200,
        answer='{"Item": {"id": "x1"}}',
        time_limit=1.0,
    )
    assert rendered == "200 x1 T"


# --------------------------------------------------------------------------------------
# More targets: SQS paths, the other services, stage variables in a Lambda URI
# --------------------------------------------------------------------------------------

ACCOUNT = "123456789012"
FORM = {"integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"}


def test_an_sqs_path_uri_names_the_queue_and_leaves_the_action_to_the_request() -> None:
    uri = f"arn:aws:apigateway:eu-west-1:sqs:path/{ACCOUNT}/jobs.fifo"
    assert service_target(uri) == ServiceTarget("sqs", None, "eu-west-1", f"{ACCOUNT}/jobs.fifo")


@pytest.mark.parametrize("service", ["sns", "events", "kinesis", "states"])
def test_the_other_services_are_run_by_action(service: str) -> None:
    target = service_target(f"arn:aws:apigateway:us-east-1:{service}:action/Act")
    assert target == ServiceTarget(service, "Act", "us-east-1")


def test_stage_variables_are_replaced_in_a_lambda_uri() -> None:
    uri = (
        "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/"
        "arn:aws:lambda:eu-west-1:123456789012:function:${stageVariables.fn}/invocations"
    )
    assert lambda_function_arn(uri, {"fn": "echo"}) == FUNCTION_ARN
    assert lambda_function_arn(uri, {}) == FUNCTION_ARN.replace("echo", "")  # unset: empty
    assert with_stage_variables("role-${stageVariables.env}", {"env": "dev"}) == "role-dev"
    assert with_stage_variables(None, {"env": "dev"}) is None


@pytest.mark.parametrize(
    ("rendered", "from_template", "expected"),
    [
        ('{"statusCode": 200}', True, 200),
        ('{"statusCode": 404}', True, 404),
        ('{"statusCode": "200"}', True, None),  # a string is not an integer
        ('{"statusCode": true}', True, None),
        ('{"statusCode": 99}', True, None),  # not an HTTP status
        ('{"statusCode": 100}', True, 100),  # the lowest and highest statuses
        ('{"statusCode": 599}', True, 599),
        ('{"statusCode": 600}', True, None),
        ('{"statusCode": }', True, None),  # the template rendered broken JSON
        ("", True, None),
        ("hello", False, 200),  # passed through without a template: 200
        ('{"statusCode": 418}', False, 418),
    ],
)
def test_mock_status_is_the_requests_integer_status_code(
    rendered: str, from_template: bool, expected: int | None
) -> None:
    assert mock_status(rendered, from_template) == expected


# --------------------------------------------------------------------------------------
# The calls: action, headers, the resources the role must be allowed on, refusals
# --------------------------------------------------------------------------------------


def call_for(uri: str, body: str, parameters: dict[str, str] | None = None):
    """The call, with the headers the integration's request parameters map."""
    target = service_target(uri)
    assert target is not None
    headers = map_parameters(parameters or {}, request(), {}).headers
    return service_call(target, ACCOUNT, ROLE_ARN, body, headers)


SQS_URI = f"arn:aws:apigateway:eu-west-1:sqs:path/{ACCOUNT}/jobs"
QUEUE_ARN = f"arn:aws:sqs:eu-west-1:{ACCOUNT}:jobs"


def test_an_sqs_call_sends_its_action_to_the_path_queue() -> None:
    call = call_for(SQS_URI, "Action=SendMessage&MessageBody=hi", FORM)
    assert (call.permission, call.resource_arns, call.refusal) == (
        "sqs:SendMessage",
        (QUEUE_ARN,),
        None,
    )
    assert dict(call.headers) == {"Content-Type": "application/x-www-form-urlencoded"}


def test_an_sqs_call_naming_another_queue_is_checked_on_both() -> None:
    other = "https://sqs.eu-west-1.amazonaws.com/999999999999/other"
    call = call_for(SQS_URI, f"Action=SendMessage&QueueUrl={other}&MessageBody=x", FORM)
    assert call.resource_arns == (QUEUE_ARN, "arn:aws:sqs:eu-west-1:999999999999:other")


@pytest.mark.parametrize(
    ("body", "parameters", "reason"),
    [
        ("Action=SendMessage&MessageBody=x", None, "add RequestParameters"),
        (
            "Action=SendMessage&MessageBody=x",
            {"integration.request.header.Content-Type": "'application/json'"},
            "form-encoded",
        ),
        ("Action=SendMessage&Action=DeleteQueue", FORM, "more than once: ['Action']"),
        ("Action=DeleteQueue", FORM, "only these sqs actions"),
        ("MessageBody=x", FORM, "got None"),
    ],
)
def test_query_requests_local_aws_does_not_send(body, parameters, reason) -> None:
    refusal = call_for(SQS_URI, body, parameters).refusal
    assert refusal is not None and reason in refusal


def test_an_sns_publish_is_checked_on_every_topic_it_names() -> None:
    uri = "arn:aws:apigateway:eu-west-1:sns:action/Publish"
    topic = f"arn:aws:sns:eu-west-1:{ACCOUNT}:news"
    call = call_for(uri, f"Action=Publish&TopicArn={topic}&Message=m", FORM)
    assert (call.permission, call.resource_arns) == ("sns:Publish", (topic,))
    both = call_for(uri, f"Action=Publish&TopicArn={topic}&TargetArn={topic}2", FORM)
    assert both.resource_arns == (topic, topic + "2")
    assert both.resource_arn == topic  # the first
    body = f"Action=Publish&TopicArn={topic}&TargetArn={topic}2"
    assert resource_arn("sns", "eu-west-1", ACCOUNT, body) == topic
    assert call_for(uri, "Action=Publish&PhoneNumber=1", FORM).resource_arns == ("*",)


def test_json_services_get_their_target_header_and_content_type() -> None:
    call = call_for("arn:aws:apigateway:eu-west-1:kinesis:action/PutRecord", '{"StreamName": "s"}')
    assert dict(call.headers) == {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "Kinesis_20131202.PutRecord",
    }
    assert call.resource_arns == (f"arn:aws:kinesis:eu-west-1:{ACCOUNT}:stream/s",)


def test_the_integrations_target_header_is_the_action_checked() -> None:
    parameters = {"integration.request.header.X-Amz-Target": "'AWSEvents.DeleteRule'"}
    call = call_for("arn:aws:apigateway:eu-west-1:events:action/PutEvents", "{}", parameters)
    assert call.permission == "events:DeleteRule"
    assert call.refusal is not None and "got DeleteRule" in call.refusal


def test_put_events_is_checked_on_every_bus_it_names() -> None:
    bus_arn = f"arn:aws:events:eu-west-1:{ACCOUNT}:event-bus/"
    body = json.dumps(
        {"Entries": [{"EventBusName": "chat"}, {}, {"EventBusName": bus_arn + "chat"}]}
    )
    call = call_for("arn:aws:apigateway:eu-west-1:events:action/PutEvents", body)
    assert call.resource_arns == (bus_arn + "chat", bus_arn + "default")


def test_a_kinesis_request_naming_a_stream_twice_is_checked_on_both() -> None:
    other = f"arn:aws:kinesis:eu-west-1:{ACCOUNT}:stream/other"
    body = json.dumps({"StreamName": "s", "StreamARN": other})
    call = call_for("arn:aws:apigateway:eu-west-1:kinesis:action/PutRecord", body)
    assert call.resource_arns == (other, f"arn:aws:kinesis:eu-west-1:{ACCOUNT}:stream/s")


def test_a_step_functions_call_is_checked_on_its_state_machine() -> None:
    machine = f"arn:aws:states:eu-west-1:{ACCOUNT}:stateMachine:m"
    body = json.dumps({"stateMachineArn": machine, "input": "{}"})
    call = call_for("arn:aws:apigateway:eu-west-1:states:action/StartExecution", body)
    assert (call.permission, call.resource_arns) == ("states:StartExecution", (machine,))
    assert (
        call_for("arn:aws:apigateway:eu-west-1:states:action/StartExecution", "[]").resource_arns
        is None
    )


@pytest.mark.parametrize(
    ("error_message", "expected"),
    [
        (None, "$default"),  # the function succeeded: only $default applies
        ("bad input: x", "/bad input.*/"),
        ("other failure", "$default"),
    ],
)
def test_a_lambda_error_message_selects_the_integration_response(error_message, expected):
    responses = (response("/bad input.*/"), response("$default"), response("/.*/"))
    if error_message == "other failure":
        responses = responses[:2]
    selected = select_integration_response(responses, error_message)
    assert selected is not None and selected.key == expected


def test_a_lambda_event_is_the_rendered_json() -> None:
    assert lambda_event('{"text": "hi"}') == {"text": "hi"}
    assert lambda_event("  \n") == {}  # nothing rendered: an empty event
    assert lambda_event("[1]") == [1]
    for broken in ('{"text": hi}', "[" * 5000 + "]" * 5000):
        with pytest.raises(NotAnEvent):
            lambda_event(broken)


def test_a_static_selection_expression_picks_a_content_type_style_key() -> None:
    templates = {"application/json": "json", "$default": "default"}
    assert request_template(integration(templates, selection="application/json"), "{}") == "json"
    # `\$default` selects `$default`, never a content-type key: with neither, passthrough.
    only_json = integration({"application/json": "json"}, selection="\\$default")
    assert request_template(only_json, "{}") is None


def test_a_response_template_may_be_selected_by_the_status() -> None:
    chosen = IntegrationResponse(
        key="$default",
        template_selection_expression="${integration.response.statuscode}",
        response_templates={"404": "not found", "$default": "other"},
    )
    assert response_plan((chosen,), 404, status=404) == ResponsePlan(True, "not found")
    assert response_plan((chosen,), 200, status=200) == ResponsePlan(True, "other")  # fallback
    static = IntegrationResponse("$default", "missing", {"$default": "fallback"})
    assert response_plan((static,), 200) == ResponsePlan(True, "fallback")


def test_a_static_response_selection_expression_picks_its_key_whatever_the_status() -> None:
    templates = {"application/json": "json", "200": "by status", "$default": "other"}
    static = IntegrationResponse("$default", "application/json", templates)
    assert response_plan((static,), 200, status=200) == ResponsePlan(True, "json")
    assert response_plan((static,), 200) == ResponsePlan(True, "json")
