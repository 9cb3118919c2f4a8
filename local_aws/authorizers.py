"""Lambda REQUEST authorizers on `$connect`: who may open a connection.

API Gateway calls the route's authorizer function before `$connect`'s integration, with the
handshake's headers, query string, stage variables and request context (reference
apigw-websocket.md §3.5; AWS docs `apigateway-websocket-api-lambda-auth`). The function answers
with an IAM policy; the connection is made only if that policy allows `execute-api:Invoke` on
the method ARN `arn:aws:execute-api:{region}:{account}:{api}/{stage}/$connect`:

- an identity source missing or empty: 401, the function is not called;
- a policy that does not allow (or denies), or a response that is not a policy: 403;
- the function fails, times out or may not be invoked: 500.

An allowed connection carries `principalId` and the policy's `context` map as
`requestContext.authorizer` in every event of the connection and as `$context.authorizer` in
mapping templates. The function is called for every `$connect`: the API reference says
`AuthorizerResultTtlInSeconds` (result caching) is "Supported only for HTTP API Lambda
authorizers", so a WebSocket API's decisions are not cached (docs/fidelity.md 1n).

`AuthorizationType: AWS_IAM` instead needs a SigV4-signed handshake, in its headers or as a
presigned URL (403 otherwise).

The event and the policy check are pure (plain data in, plain data out); only
`Authorizers.authorize` calls a function.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from local_aws import events, iam, integration_plan, sigv4
from local_aws.deployments import Authorizer, DeployedApi
from local_aws.integrations import Integrations
from local_aws.lambda_runtime import function_config, moto_function
from local_aws.lambda_worker_process import FunctionConfig
from local_aws.vtl.java import java_str

logger = logging.getLogger(__name__)

# AWS quota (reference §5.1): "Lambda authorizer result size: 8 KB", not adjustable.
MAX_RESULT_BYTES = 8 * 1024

UNAUTHORIZED = 401
FORBIDDEN = 403
INTERNAL_SERVER_ERROR = 500


@dataclass(frozen=True)
class Decision:
    """Whether the handshake goes on and, if an authorizer allowed it, what it told."""

    status: int  # 200: go on to `$connect`; else the handshake's refusal status
    context: dict[str, object] | None = None  # requestContext.authorizer, when allowed

    @property
    def allowed(self) -> bool:
        return self.status == 200


NOT_AUTHORIZED_BY_LAMBDA = Decision(200)  # the route has no Lambda authorizer


class MalformedResponse(ValueError):
    """The authorizer's response is not a policy API Gateway can use: the message says why."""


# --------------------------------------------------------------------------------------
# The request: identity sources and the authorizer's event
# --------------------------------------------------------------------------------------


def method_arn(deployed: DeployedApi) -> str:
    """The ARN the policy must allow: `…:{api}/{stage}/$connect`.

    Its partition is always `aws`, as in AWS's documented example.
    """
    return (
        f"arn:aws:execute-api:{deployed.region}:{deployed.account_id}:"
        f"{deployed.api_id}/{deployed.stage}/$connect"
    )


def source_arn(deployed: DeployedApi, authorizer_id: str) -> str:
    """What the function's `AWS::Lambda::Permission` must match for API Gateway to invoke it."""
    return (
        f"arn:aws:execute-api:{deployed.region}:{deployed.account_id}:"
        f"{deployed.api_id}/authorizers/{authorizer_id}"
    )


def identity_values(
    sources: tuple[str, ...], request: events.Request, stage_variables: Mapping[str, str]
) -> tuple[str, ...] | None:
    """The value of each identity source, in order; None if one is missing or empty.

    Sources are `route.request.header.<name>` (any case), `route.request.querystring.<name>`,
    `stageVariables.<name>` and `context.<name>` (a top-level `requestContext` key). A source
    local_aws does not know counts as missing.
    """
    client = request.client
    context: dict[str, object] | None = None  # built only if a source asks for it
    values = []
    for source in sources:
        value: object = None
        if source.startswith("route.request.header."):
            wanted = source.removeprefix("route.request.header.").lower()
            value = next((v for k, v in client.headers.items() if k.lower() == wanted), None)
        elif source.startswith("route.request.querystring."):
            value = client.query.get(source.removeprefix("route.request.querystring."))
        elif source.startswith("stageVariables."):
            value = stage_variables.get(source.removeprefix("stageVariables."))
        elif source.startswith("context."):
            context = context or events.request_context(request)
            value = context.get(source.removeprefix("context."))
            value = None if isinstance(value, (dict, list)) else value
        if value is None or value == "":
            return None
        values.append(java_str(value))
    return tuple(values)


def authorizer_event(
    request: events.Request, stage_variables: Mapping[str, str], arn: str
) -> dict[str, object]:
    """The event a WebSocket REQUEST authorizer receives (AWS docs' example, keys in order).

    Unlike the `$connect` proxy event, its headers include the hop-by-hop ones and
    `content-length: 0`; the docs' example lists them sorted by name, whatever their case.
    """
    client = request.client
    headers = dict(client.headers)
    multi_value_headers = {name: list(v) for name, v in client.multi_value_headers.items()}
    for name, value in {**client.hop_by_hop_headers, "content-length": "0"}.items():
        headers[name] = value
        multi_value_headers[name] = [value]
    order = sorted(headers, key=str.lower)
    return {
        "type": "REQUEST",
        "methodArn": arn,
        "headers": {name: headers[name] for name in order},
        "multiValueHeaders": {name: multi_value_headers[name] for name in order},
        "queryStringParameters": dict(client.query),
        "multiValueQueryStringParameters": {
            name: list(v) for name, v in client.multi_value_query.items()
        },
        "stageVariables": dict(stage_variables),
        "requestContext": events.request_context(request),
    }


# --------------------------------------------------------------------------------------
# The response: an IAM policy
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What a well-formed authorizer response says."""

    allowed: bool
    principal_id: str
    context: dict[str, str | int | float | bool]


def evaluate_response(payload: object, arn: str) -> Verdict:
    """Read `{principalId, policyDocument, context?}` and judge the policy on `arn`.

    The policy allows if one of its statements allows `execute-api:Invoke` on `arn` (IAM's
    wildcards; actions in any case) and none denies it. Raises MalformedResponse.
    """
    if not isinstance(payload, dict):
        raise MalformedResponse(f"the response is a {type(payload).__name__}, not a JSON object")
    size = len(json.dumps(payload).encode("utf-8"))
    if size > MAX_RESULT_BYTES:
        raise MalformedResponse(
            f"the response is {size} bytes, over the {MAX_RESULT_BYTES}-byte quota"
        )
    principal_id = payload.get("principalId")
    if not isinstance(principal_id, str) or not principal_id:
        raise MalformedResponse("principalId must be a non-empty string")
    statements = _statements(payload.get("policyDocument"))
    context = payload.get("context") or {}
    if not isinstance(context, dict):
        raise MalformedResponse("context must be a map of strings, numbers and booleans")
    for key, value in context.items():
        if not isinstance(value, (str, int, float, bool)):
            raise MalformedResponse(
                f"context[{key!r}] is a {type(value).__name__}: "
                "its values must be strings, numbers or booleans"
            )
    allowed = iam.policies_allow([{"Statement": statements}], "execute-api:Invoke", arn)
    return Verdict(allowed, principal_id, dict(context))


def _statements(document: object) -> list[dict[str, Any]]:
    if not isinstance(document, dict):
        raise MalformedResponse("policyDocument must be an IAM policy (a JSON object)")
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise MalformedResponse("policyDocument.Statement must be a statement or a list of them")
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") not in ("Allow", "Deny"):
            raise MalformedResponse('each statement needs an Effect, "Allow" or "Deny"')
        for name in ("Action", "Resource"):
            value = statement.get(name)
            if not (
                isinstance(value, str)
                or (isinstance(value, list) and all(isinstance(v, str) for v in value))
            ):
                raise MalformedResponse(f"each statement needs a {name}: a string or strings")
    return statements


def authorizer_context(verdict: Verdict, latency_ms: int) -> dict[str, object]:
    """`requestContext.authorizer`: the context values as strings (`1` → "1", `true` →
    "true", as `$context.authorizer.<key>` documents), then principalId and the latency."""
    context: dict[str, object] = {key: java_str(value) for key, value in verdict.context.items()}
    context["principalId"] = verdict.principal_id
    context["integrationLatency"] = latency_ms
    return context


# --------------------------------------------------------------------------------------
# AWS_IAM: a SigV4-signed handshake
# --------------------------------------------------------------------------------------

_MAX_PRESIGNED_SECONDS = 7 * 24 * 3600  # SigV4's longest X-Amz-Expires


def iam_refusal(
    scope: Mapping[str, Any], region: str, now: datetime | None = None
) -> sigv4.Refusal | None:
    """None if the handshake is signed for `execute-api` in `region` with an accepted key.

    The signature is in the headers (`Authorization`, `X-Amz-Date`) or in the query string
    (a presigned URL: `X-Amz-Signature` and the other `X-Amz-*` parameters), over a GET
    with an empty body. Which IAM policies allow the key's user is not evaluated, as for
    `@connections` (docs/fidelity.md).
    """
    raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    query = scope["query_string"].decode("latin-1")
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    pairs = [pair.partition("=") for pair in query.split("&")] if query else []
    signed = {key: unquote(value) for key, _, value in pairs if key.startswith("X-Amz-")}
    if "X-Amz-Signature" not in signed:
        return sigv4.check("GET", raw_path, query, headers, b"", region=region, now=now)
    # A presigned URL is the header form with its parts moved into the query string, so it is
    # checked as that form (sigv4 knows only that one), at the time it was signed once its
    # X-Amz-Expires is known to hold.
    now = now or datetime.now(UTC)
    try:
        signed_at = datetime.strptime(signed["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        expires = int(signed["X-Amz-Expires"])
        credential = signed["X-Amz-Credential"]
        signed_headers = signed["X-Amz-SignedHeaders"]
    except (KeyError, ValueError):
        return sigv4.MISSING
    if signed_at > now + sigv4.SKEW:
        return sigv4.Refusal(403, "InvalidSignatureException", "Signature not yet current")
    if not 0 < expires <= _MAX_PRESIGNED_SECONDS or now > signed_at + timedelta(seconds=expires):
        return sigv4.Refusal(403, "AccessDeniedException", "Signature expired")
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders={signed_headers}, "
        f"Signature={signed['X-Amz-Signature']}"
    )
    headers["x-amz-date"] = signed["X-Amz-Date"]
    unsigned_query = "&".join(
        f"{key}={value}" if sep else key for key, sep, value in pairs if key != "X-Amz-Signature"
    )
    # The time window is X-Amz-Expires, checked above: the rest is checked as at signing.
    return sigv4.check("GET", raw_path, unsigned_query, headers, b"", region=region, now=signed_at)


# --------------------------------------------------------------------------------------
# The call
# --------------------------------------------------------------------------------------


class Authorizers:
    """Runs the `$connect` route's Lambda authorizer for the gateway."""

    def __init__(self, integrations: Integrations, timeout_seconds: float) -> None:
        # Authorizer functions run in the integrations' Lambda runtime and log where theirs do.
        self._integrations = integrations
        # An authorizer is bounded like an integration (29 s on AWS), besides its own timeout.
        self._timeout_seconds = timeout_seconds

    async def authorize(
        self, deployed: DeployedApi, request: events.Request, scope: Mapping[str, Any]
    ) -> Decision:
        """May this `$connect` (whose ASGI scope is `scope`) go on?

        Never raises for anything a client or a function does.
        """
        route = deployed.routes.get("$connect")
        if route is not None and route.authorization_type == "AWS_IAM":
            refusal = iam_refusal(scope, deployed.region)
            if refusal is None:
                return NOT_AUTHORIZED_BY_LAMBDA
            logger.info(
                "$connect of API %s needs a SigV4 signature: %s", deployed.api_id, refusal.message
            )
            return Decision(FORBIDDEN)
        if route is None or route.authorization_type != "CUSTOM":
            return NOT_AUTHORIZED_BY_LAMBDA
        authorizer = deployed.authorizers.get(route.authorizer_id or "")
        if authorizer is None or authorizer.authorizer_type != "REQUEST":
            logger.error(
                "$connect of API %s: AuthorizationType CUSTOM needs the AuthorizerId of a "
                "REQUEST authorizer of the same API (got %s)",
                deployed.api_id,
                route.authorizer_id,
            )
            return Decision(INTERNAL_SERVER_ERROR)
        values = identity_values(authorizer.identity_sources, request, deployed.stage_variables)
        if values is None:
            logger.info(
                "authorizer %s: an identity source (%s) is missing or empty: 401",
                authorizer.authorizer_id,
                ", ".join(authorizer.identity_sources),
            )
            return Decision(UNAUTHORIZED)
        try:
            async with asyncio.timeout(self._timeout_seconds):
                return await self._call(deployed, authorizer, request)
        except TimeoutError:
            logger.warning(
                "authorizer %s did not answer within %s s: 500",
                authorizer.authorizer_id,
                self._timeout_seconds,
            )
            return Decision(INTERNAL_SERVER_ERROR)
        except Exception:
            logger.exception("authorizer %s failed", authorizer.authorizer_id)
            return Decision(INTERNAL_SERVER_ERROR)

    async def _call(
        self, deployed: DeployedApi, authorizer: Authorizer, request: events.Request
    ) -> Decision:
        """Invoke the function and judge its answer."""
        function = _authorizer_function(deployed, authorizer)
        if function is None:
            return Decision(INTERNAL_SERVER_ERROR)
        arn = method_arn(deployed)
        event = authorizer_event(request, deployed.stage_variables, arn)
        started = time.monotonic()
        result = await self._integrations.invoke_function(deployed, function, event)
        latency_ms = int((time.monotonic() - started) * 1000)
        if result.error is not None:
            logger.warning(
                "authorizer %s: function %s failed: %s",
                authorizer.authorizer_id,
                function.name,
                result.error.get("errorMessage"),
            )
            return Decision(INTERNAL_SERVER_ERROR)
        try:
            verdict = evaluate_response(result.payload, arn)
        except MalformedResponse as malformed:
            logger.warning(
                "authorizer %s: function %s did not return a usable policy: %s",
                authorizer.authorizer_id,
                function.name,
                malformed,
            )
            return Decision(FORBIDDEN)
        if not verdict.allowed:
            logger.info(
                "authorizer %s: the policy for %s does not allow execute-api:Invoke on %s: 403",
                authorizer.authorizer_id,
                verdict.principal_id,
                arn,
            )
            return Decision(FORBIDDEN)
        return Decision(200, authorizer_context(verdict, latency_ms))


def _authorizer_function(deployed: DeployedApi, authorizer: Authorizer) -> FunctionConfig | None:
    """The authorizer's function, if API Gateway may invoke it; else None and a log line.

    With `AuthorizerCredentialsArn` the role must allow `lambda:InvokeFunction`; without,
    the function's resource policy must let apigateway.amazonaws.com invoke it from
    `source_arn`. Reads moto without its lock, as the integrations' lookup does.
    """
    function_arn = integration_plan.lambda_function_arn(authorizer.uri)
    if function_arn is None:
        logger.error(
            "authorizer %s: AuthorizerUri is not a Lambda invocation URI: %s",
            authorizer.authorizer_id,
            authorizer.uri,
        )
        return None
    function = moto_function(function_arn, deployed.account_id, deployed.region)
    if function is None:
        logger.error("authorizer %s: no Lambda function %s", authorizer.authorizer_id, function_arn)
        return None
    try:
        if authorizer.credentials_arn:
            iam.check_role_allows(
                deployed.account_id,
                authorizer.credentials_arn,
                "lambda:InvokeFunction",
                function.function_arn,
            )
        else:
            iam.check_invoke_allowed(
                function, source_arn(deployed, authorizer.authorizer_id), "apigateway.amazonaws.com"
            )
    except iam.AccessDenied as denied:
        logger.warning("authorizer %s: %s", authorizer.authorizer_id, denied)
        return None
    return function_config(function)
