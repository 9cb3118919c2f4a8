"""Lambda REQUEST authorizers' pure parts: identity sources, the event, the policy."""

from __future__ import annotations

import pytest

from local_aws import authorizers, events, vtl
from local_aws.authorizers import MalformedResponse, evaluate_response
from local_aws.deployments import DeployedApi

ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/$connect"


def client(**changes) -> events.Client:
    values = dict(
        connection_id="SOqGjdZioAMCEeg=",
        api_id="abcdef123",
        stage="prod",
        domain_name="abcdef123.execute-api.localhost",
        source_ip="127.0.0.1",
        user_agent=None,
        connected_at=1674162806344,
        headers={"Host": "h", "HeaderAuth1": "headerValue1", "X-Forwarded-Proto": "http"},
        multi_value_headers={
            "Host": ["h"],
            "HeaderAuth1": ["headerValue1"],
            "X-Forwarded-Proto": ["http"],
        },
        query={"token": "t1", "empty": ""},
        multi_value_query={"token": ["t1"], "empty": [""]},
        hop_by_hop_headers={"Connection": "Upgrade", "Upgrade": "websocket"},
    )
    values.update(changes)
    return events.Client(**values)


def connect_request(**changes) -> events.Request:
    return events.Request(client(**changes), "CONNECT", "$connect", "REQ", 1674162806345)


def policy(effect: str = "Allow", resource: object = ARN, action: object = "execute-api:Invoke"):
    return {
        "principalId": "user-1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": action, "Effect": effect, "Resource": resource}],
        },
        "context": {"room": "lobby", "level": 3, "admin": False},
    }


# ----------------------------------------------------------------------------- ARNs


def test_method_and_source_arns() -> None:
    deployed = DeployedApi("123456789012", "us-east-1", "abcdef123", "prod", "", {})
    assert authorizers.method_arn(deployed) == ARN
    assert authorizers.source_arn(deployed, "auth01") == (
        "arn:aws:execute-api:us-east-1:123456789012:abcdef123/authorizers/auth01"
    )


# ----------------------------------------------------------------------------- identity


def test_identity_values_from_header_query_stage_variable_and_context() -> None:
    sources = (
        "route.request.header.headerauth1",  # header names in any case
        "route.request.querystring.token",
        "stageVariables.room",
        "context.connectionId",
    )
    values = authorizers.identity_values(sources, connect_request(), {"room": "r1"})
    assert values == ("headerValue1", "t1", "r1", "SOqGjdZioAMCEeg=")


@pytest.mark.parametrize(
    "source",
    [
        "route.request.querystring.missing",
        "route.request.querystring.empty",  # empty counts as missing
        "route.request.querystring.TOKEN",  # query-string names are case-sensitive
        "route.request.header.Authorization",
        "stageVariables.none",
        "context.identity",  # not a simple value
        "method.request.header.Host",  # REST APIs' syntax: unknown here
    ],
)
def test_a_missing_identity_source_gives_none(source: str) -> None:
    sources = ("route.request.querystring.token", source)
    assert authorizers.identity_values(sources, connect_request(), {}) is None


def test_no_identity_sources_is_an_empty_tuple() -> None:
    assert authorizers.identity_values((), connect_request(), {}) == ()


# ----------------------------------------------------------------------------- event


def test_authorizer_event_has_the_documented_keys_in_order() -> None:
    event = authorizers.authorizer_event(connect_request(), {"v": "1"}, ARN)
    assert list(event) == [
        "type",
        "methodArn",
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "stageVariables",
        "requestContext",
    ]
    assert event["type"] == "REQUEST"
    assert event["methodArn"] == ARN
    assert event["stageVariables"] == {"v": "1"}
    assert event["queryStringParameters"] == {"token": "t1", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {"token": ["t1"], "empty": [""]}
    context = event["requestContext"]
    assert context["routeKey"] == "$connect"
    assert context["eventType"] == "CONNECT"
    assert context["connectionId"] == "SOqGjdZioAMCEeg="
    assert "authorizer" not in context


def test_authorizer_event_headers_add_the_hop_by_hop_ones_sorted_by_name() -> None:
    event = authorizers.authorizer_event(connect_request(), {}, ARN)
    headers = event["headers"]
    assert list(headers) == [
        "Connection",
        "content-length",
        "HeaderAuth1",
        "Host",
        "Upgrade",
        "X-Forwarded-Proto",
    ]
    assert headers["Connection"] == "Upgrade"
    assert headers["content-length"] == "0"
    assert event["multiValueHeaders"]["Upgrade"] == ["websocket"]
    assert list(event["multiValueHeaders"]) == list(headers)


def test_authorizer_event_without_query_string_has_empty_maps() -> None:
    event = authorizers.authorizer_event(connect_request(query={}, multi_value_query={}), {}, ARN)
    assert event["queryStringParameters"] == {}
    assert event["multiValueQueryStringParameters"] == {}


# ----------------------------------------------------------------------------- policy


def test_an_allow_on_the_method_arn_allows() -> None:
    verdict = evaluate_response(policy(), ARN)
    assert verdict.allowed
    assert verdict.principal_id == "user-1"
    assert verdict.context == {"room": "lobby", "level": 3, "admin": False}


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:execute-api:us-east-1:123456789012:abcdef123/*",
        "arn:aws:execute-api:*:*:*",
        "*",
        [ARN.replace("prod", "other"), ARN],
        "arn:aws:execute-api:us-east-1:123456789012:abcdef123/pro?/$connect",
    ],
)
def test_wildcard_resources_allow(resource: object) -> None:
    assert evaluate_response(policy(resource=resource), ARN).allowed


@pytest.mark.parametrize("action", ["execute-api:*", "*", "EXECUTE-API:invoke", ["s3:*", "*"]])
def test_wildcard_and_any_case_actions_allow(action: object) -> None:
    assert evaluate_response(policy(action=action), ARN).allowed


@pytest.mark.parametrize(
    "response",
    [
        policy("Deny"),
        policy(resource=ARN.replace("prod", "other")),
        policy(resource=ARN.replace("abcdef123", "ABCDEF123")),  # resources are case-sensitive
        policy(action="execute-api:ManageConnections"),
    ],
)
def test_a_deny_or_an_allow_elsewhere_does_not_allow(response: dict) -> None:
    assert not evaluate_response(response, ARN).allowed


def test_a_deny_wins_over_an_allow() -> None:
    response = policy()
    response["policyDocument"]["Statement"].append(
        {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": "*"}
    )
    assert not evaluate_response(response, ARN).allowed


def test_a_single_statement_object_is_accepted() -> None:
    response = policy()
    response["policyDocument"]["Statement"] = response["policyDocument"]["Statement"][0]
    assert evaluate_response(response, ARN).allowed


def test_context_is_optional() -> None:
    response = policy()
    del response["context"]
    assert evaluate_response(response, ARN).context == {}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda r: "allow", "not a JSON object"),
        (lambda r: r.pop("principalId") and r, "principalId"),
        (lambda r: {**r, "principalId": 7}, "principalId"),
        (lambda r: r.pop("policyDocument") and r, "policyDocument"),
        (lambda r: {**r, "policyDocument": "Allow"}, "policyDocument"),
        (lambda r: {**r, "policyDocument": {"Statement": []}}, "Statement"),
        (lambda r: {**r, "policyDocument": {"Statement": [{"Effect": "allow"}]}}, "Effect"),
        (
            lambda r: {**r, "policyDocument": {"Statement": [{"Effect": "Allow", "Action": "*"}]}},
            "Resource",
        ),
        (lambda r: {**r, "context": ["a"]}, "context"),
        (lambda r: {**r, "context": {"nested": {"a": 1}}}, "context['nested']"),
        (lambda r: {**r, "context": {"list": [1]}}, "context['list']"),
        (lambda r: {**r, "context": {"big": "x" * 9000}}, "8192-byte quota"),
    ],
)
def test_a_malformed_response_says_why(change, reason: str) -> None:
    with pytest.raises(MalformedResponse, match=reason.replace("[", r"\[").replace("]", r"\]")):
        evaluate_response(change(policy()), ARN)


def test_authorizer_context_stringifies_values_as_the_vtl_reference_documents() -> None:
    context = authorizers.authorizer_context(evaluate_response(policy(), ARN), latency_ms=12)
    assert context == {
        "room": "lobby",
        "level": "3",
        "admin": "false",
        "principalId": "user-1",
        "integrationLatency": 12,
    }


# ----------------------------------------------------------------------------- events


def test_events_of_an_authorized_connection_carry_the_authorizer_after_the_route_key() -> None:
    authorized = client(authorizer={"room": "lobby", "principalId": "user-1"})
    for request in (
        events.Request(authorized, "CONNECT", "$connect", "R", 1),
        events.Request(authorized, "MESSAGE", "$default", "R", 2, body="hi", message_id="M"),
        events.Request(
            authorized, "DISCONNECT", "$disconnect", "R", 3, disconnect_status_code=1000
        ),
    ):
        context = events.proxy_event(request)["requestContext"]
        assert list(context)[:2] == ["routeKey", "authorizer"]
        assert context["authorizer"] == {"room": "lobby", "principalId": "user-1"}


def test_events_without_an_authorizer_have_no_authorizer_key() -> None:
    request = events.Request(client(), "MESSAGE", "$default", "R", 2, body="hi", message_id="M")
    assert "authorizer" not in events.proxy_event(request)["requestContext"]


def test_mapping_templates_see_context_authorizer() -> None:
    authorized = client(authorizer={"room": "lobby", "level": "3", "principalId": "user-1"})
    request = events.Request(authorized, "CONNECT", "$connect", "R", 1)
    rendered = vtl.render(
        "$context.authorizer.principalId/$context.authorizer.room/$context.authorizer.level",
        context=events.request_context(request),
    )
    assert rendered == "user-1/lobby/3"


# ----------------------------------------------------------------------------- AWS_IAM


def signed_scope(url: str, presign: bool, region: str = "us-east-1", **changes) -> dict:
    """The ASGI scope of a handshake to `url`, signed by botocore as a client would sign it."""
    from urllib.parse import urlsplit

    from botocore.auth import SigV4Auth, SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    credentials = Credentials(changes.pop("key", "testing"), "testing")
    request = AWSRequest("GET", url)
    if presign:
        SigV4QueryAuth(credentials, "execute-api", region, expires=60).add_auth(request)
    else:
        SigV4Auth(credentials, "execute-api", region).add_auth(request)
    parts = urlsplit(request.url)
    headers = [(b"host", parts.netloc.encode())]
    headers += [(b"connection", b"Upgrade"), (b"upgrade", b"websocket")]
    headers += [
        (name.lower().encode(), value.encode())
        for name, value in request.headers.items()
        if name.lower() != "host"
    ]
    scope = {
        "path": parts.path,
        "raw_path": parts.path.encode(),
        "query_string": parts.query.encode(),
        "headers": headers,
    }
    scope.update(changes)
    return scope


URL = "http://127.0.0.1:4566/abcdef123/prod"


@pytest.mark.parametrize("presign", [False, True], ids=["headers", "presigned-url"])
def test_a_signed_handshake_is_accepted(presign: bool) -> None:
    assert authorizers.iam_refusal(signed_scope(URL + "?room=1", presign), "us-east-1") is None


def test_an_unsigned_handshake_is_refused() -> None:
    scope = {"path": "/abcdef123/prod", "query_string": b"", "headers": [(b"host", b"h")]}
    refusal = authorizers.iam_refusal(scope, "us-east-1")
    assert refusal is not None and refusal.status == 403


@pytest.mark.parametrize("presign", [False, True], ids=["headers", "presigned-url"])
def test_a_changed_query_string_breaks_the_signature(presign: bool) -> None:
    scope = signed_scope(URL + "?room=1", presign)
    scope["query_string"] = scope["query_string"].replace(b"room=1", b"room=2")
    refusal = authorizers.iam_refusal(scope, "us-east-1")
    assert refusal is not None and refusal.error_type == "InvalidSignatureException"


@pytest.mark.parametrize("presign", [False, True], ids=["headers", "presigned-url"])
def test_another_region_or_an_unknown_key_is_refused(presign: bool) -> None:
    assert authorizers.iam_refusal(signed_scope(URL, presign, "eu-west-1"), "us-east-1")
    assert authorizers.iam_refusal(signed_scope(URL, presign, key="AKIANOBODY"), "us-east-1")


def test_a_presigned_url_is_accepted_until_it_expires() -> None:
    from datetime import UTC, datetime, timedelta

    scope = signed_scope(URL, presign=True)
    now = datetime.now(UTC)
    assert authorizers.iam_refusal(scope, "us-east-1", now=now + timedelta(seconds=50)) is None
    expired = authorizers.iam_refusal(scope, "us-east-1", now=now + timedelta(seconds=70))
    assert expired is not None and expired.message == "Signature expired"
    early = authorizers.iam_refusal(scope, "us-east-1", now=now - timedelta(minutes=6))
    assert early is not None and early.status == 403
