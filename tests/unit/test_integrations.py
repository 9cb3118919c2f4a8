"""Integration results: response selection and reading a Lambda proxy result."""

from __future__ import annotations

import pytest

from local_aws.deployments import IntegrationResponse
from local_aws.integrations import (
    INTERNAL_SERVER_ERROR,
    _proxy_outcome,
    select_integration_response,
)


def response(key: str) -> IntegrationResponse:
    return IntegrationResponse(key=key, template_selection_expression=None, response_templates={})


@pytest.mark.parametrize(
    ("keys", "status", "expected"),
    [
        (["/200/"], 200, "/200/"),
        (["/200/"], 400, None),
        (["/200/", "$default"], 400, "$default"),
        (["$default", "/4\\d\\d/"], 404, "/4\\d\\d/"),  # a matching regex beats $default
        (["/2\\d\\d/"], 2000, None),  # the whole status must match
        (["/[/"], 200, None),  # an invalid regex matches nothing
    ],
)
def test_integration_response_selection(keys, status, expected) -> None:
    selected = select_integration_response(tuple(response(k) for k in keys), status)
    assert (selected.key if selected else None) == expected


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
