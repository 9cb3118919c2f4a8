"""The `apigateway:invoke` Task's pure pieces (local_aws.invoke_task) and the template
definition's substitutions (local_aws.step_functions)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from local_aws import invoke_task, step_functions
from local_aws.management_api import Reply

ENDPOINT = "abc123defg.execute-api.eu-west-1.amazonaws.com"


def parameters(**given: Any) -> dict[str, Any]:
    return {
        "ApiEndpoint": ENDPOINT,
        "Method": "POST",
        "Stage": "api",
        "Path": "@connections/Ybb1ExampleId0A=",
        "AuthType": "IAM_ROLE",
        **given,
    }


def test_an_at_connections_call_is_read_with_its_body_as_json() -> None:
    target = invoke_task.read_parameters(parameters(RequestBody={"done": "yes"}))
    assert target == invoke_task.Target(
        api_id="abc123defg",
        region="eu-west-1",
        stage="api",
        connection_id="Ybb1ExampleId0A=",
        method="POST",
        body=b'{"done":"yes"}',
        signed=True,
    )


def test_a_local_endpoint_a_leading_slash_and_an_encoded_id_are_read() -> None:
    target = invoke_task.read_parameters(
        parameters(ApiEndpoint="abc123defg.execute-api.localhost", Path="/@connections/a%3Db")
    )
    assert target is not None
    assert (target.region, target.connection_id) == (None, "a=b")


@pytest.mark.parametrize(
    "endpoint", ["https://example.com", "abc.execute-api.eu-west-1.example.com", "127.0.0.1"]
)
def test_an_endpoint_that_is_not_api_gateway_is_not_a_target(endpoint) -> None:
    assert invoke_task.read_parameters(parameters(ApiEndpoint=endpoint)) is None


def test_a_path_other_than_connections_has_no_connection() -> None:
    target = invoke_task.read_parameters(parameters(Path="orders/1"))
    assert target is not None and target.connection_id is None


def test_no_auth_is_unsigned() -> None:
    target = invoke_task.read_parameters(parameters(AuthType="NO_AUTH"))
    assert target is not None and not target.signed
    unsigned = invoke_task.read_parameters(
        {k: v for k, v in parameters().items() if k != "AuthType"}
    )
    assert unsigned is not None and not unsigned.signed  # AWS's default


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"Method": "FETCH"}, "Method must be one of"),
        ({"Method": "GET", "RequestBody": {"x": 1}}, "only supported for PATCH, POST and PUT"),
        ({"AuthType": "COGNITO"}, "AuthType must be"),
        ({"ApiEndpoint": None}, "required strings"),
    ],
)
def test_bad_parameters_are_refused(given, message) -> None:
    with pytest.raises(invoke_task.BadParameters, match=message):
        invoke_task.read_parameters(parameters(**given))


def test_the_output_has_aws_s_shape() -> None:
    output = invoke_task.invoke_output(200, b'{"connectedAt": "x"}', "application/json")
    assert output["ResponseBody"] == {"connectedAt": "x"}
    assert (output["StatusCode"], output["StatusText"]) == (200, "OK")
    assert output["Headers"]["Content-Type"] == ["application/json"]
    assert output["Headers"]["Content-Length"] == ["20"]
    assert all(isinstance(values, list) for values in output["Headers"].values())
    assert invoke_task.invoke_output(204, b"", None)["StatusText"] == "No Content"


# ----------------------------------------------------------- the call, against a fake loop


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    running = asyncio.new_event_loop()
    thread = threading.Thread(target=running.run_forever, daemon=True)
    thread.start()
    yield running
    running.call_soon_threadsafe(running.stop)
    thread.join(5)
    invoke_task.unbind()


def test_a_call_to_an_api_not_deployed_here_is_403_and_never_reaches_connections(loop) -> None:
    called: list[Any] = []

    async def respond(*args: Any) -> Reply:
        called.append(args)
        return Reply(200)

    invoke_task.bind(loop, respond, lambda api, stage: None)
    target = invoke_task.read_parameters(parameters())
    assert target is not None
    status, body, _ = invoke_task.call(target, "123456789012", "arn:aws:iam::1:role/r")
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})
    assert called == []


def test_an_unsigned_call_is_missing_authentication_token(loop) -> None:
    async def respond(*args: Any) -> Reply:
        return Reply(200)

    invoke_task.bind(loop, respond, lambda api, stage: ("123456789012", "eu-west-1"))
    target = invoke_task.read_parameters(parameters(AuthType="NO_AUTH"))
    assert target is not None
    status, body, _ = invoke_task.call(target, "123456789012", "arn:aws:iam::1:role/r")
    assert (status, json.loads(body)) == (403, {"message": "Missing Authentication Token"})


def test_an_api_of_another_region_is_403(loop) -> None:
    async def respond(*args: Any) -> Reply:
        return Reply(200)

    invoke_task.bind(loop, respond, lambda api, stage: ("123456789012", "us-east-1"))
    target = invoke_task.read_parameters(parameters())  # eu-west-1 in the endpoint
    assert target is not None
    assert invoke_task.call(target, "123456789012", "arn:aws:iam::1:role/r")[0] == 403


# ------------------------------------------------------------- DefinitionSubstitutions


def test_substitutions_replace_the_keys_they_have_and_leave_the_others() -> None:
    definition = '{"a": "${Arn}", "n": ${Count}, "b": "${Unknown}", "c": "$${Arn}"}'
    assert step_functions.substitute(definition, {"Arn": "arn:x", "Count": 3}) == (
        '{"a": "arn:x", "n": 3, "b": "${Unknown}", "c": "$arn:x"}'
    )


def test_definition_properties_build_the_string_and_substitute() -> None:
    properties = step_functions.definition_properties(
        {
            "Definition": {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "${V}"}}},
            "DefinitionSubstitutions": {"V": "value"},
        }
    )
    assert json.loads(properties["DefinitionString"])["States"]["P"]["Result"] == "value"
