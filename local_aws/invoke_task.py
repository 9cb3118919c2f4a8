"""Step Functions' `arn:aws:states:::apigateway:invoke` Task, for local WebSocket APIs.

A state machine calls an API Gateway endpoint with a Task whose `Parameters` name it:
`ApiEndpoint` (the host, `{api}.execute-api.{region}.amazonaws.com`), `Method`, `Stage`,
`Path`, `RequestBody`, `AuthType` (connect-api-gateway in the Step Functions guide). Pointed
at a WebSocket API's `@connections/{connectionId}` with `AuthType: IAM_ROLE`, it is how a
workflow pushes a message to a client (POST), reads a connection (GET) or closes it
(DELETE). local_aws answers it **in process**, through the same code as the HTTP
`@connections` endpoint (`ManagementApi.respond`): nothing goes over a socket.

- A local API is named by `{api}.execute-api.{region}.amazonaws.com` (the region must be
  the API's) or `{api}.execute-api.localhost`. Any other host, an API or stage not
  deployed, or a path other than `@connections/{id}`: 403 Forbidden, as AWS answers for an
  API or route that does not exist; local_aws serves no REST or HTTP APIs.
- `AuthType: IAM_ROLE` (or `RESOURCE_POLICY`): the call is signed with the state machine's
  role, which must allow `execute-api:ManageConnections` on
  `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/@connections/{id}`, as for
  any caller of `@connections` (403 otherwise). `NO_AUTH`, the default, sends an unsigned
  call, which `@connections` refuses (403 Missing Authentication Token).
- A status other than 2xx fails the Task with error `ApiGateway.<status>` and the response
  body as its cause (moto's interpreter's own mapping): a gone connection is
  `ApiGateway.410`. Success is `{ResponseBody, StatusCode, StatusText, Headers}`.

Hand-written in place of moto 5.2.5's Task, which keeps only `ApiEndpoint` and `Method` of
the parameters, sends the call over HTTP to LocalStack's `/_user_request_/` URLs, and fails
on its own errors (it is called with an argument it does not take, and builds its failure
event without the arguments the interpreter's event takes).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import email.utils
import http
import json
import logging
import re
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from local_aws import iam

logger = logging.getLogger(__name__)

# The Task's host: `{api}.execute-api.{region}.amazonaws.com`, or local_aws's own name.
_API_ENDPOINT = re.compile(
    r"^(?P<api>[a-z0-9]{1,64})\.execute-api\."
    r"(?:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d{1,2})\.amazonaws\.com|localhost)$"
)
_CONNECTIONS_PATH = re.compile(r"^/?@connections/(?P<id>[^/?#]{1,256})$")
# AWS's parameters of the Task (moto's interpreter drops any other; its own list has two).
PARAMETERS = frozenset(
    {
        "ApiEndpoint",
        "Method",
        "Headers",
        "Stage",
        "Path",
        "QueryParameters",
        "RequestBody",
        "AllowNullValues",
        "AuthType",
    }
)
METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})  # AWS: RequestBody only with these
ACTION = "execute-api:ManageConnections"
CALL_SECONDS = 10.0  # an in-process @connections call takes milliseconds; this is a bound
MAX_BODY_BYTES = 128 * 1024  # the @connections message quota; more is refused by it anyway

Answer = tuple[int, bytes, str | None]  # status, body, content type
_FORBIDDEN: Answer = (403, b'{"message":"Forbidden"}', "application/json")
_UNSIGNED: Answer = (403, b'{"message":"Missing Authentication Token"}', "application/json")
_TOO_LONG: Answer = (413, b'{"message":"Message too long"}', "application/json")


@dataclass(frozen=True)
class Target:
    """What an `apigateway:invoke` Task's parameters name, as local_aws reads them."""

    api_id: str
    region: str | None  # None: `{api}.execute-api.localhost`, the API's own region
    stage: str
    connection_id: str | None  # None: not an `@connections/{id}` path
    method: str
    body: bytes
    signed: bool


class BadParameters(ValueError):
    """The Task's parameters are not a call Step Functions would make."""


def read_parameters(parameters: dict[str, Any]) -> Target | None:
    """The call the Task's parameters describe (pure); None for an `ApiEndpoint` that is
    not an API Gateway host (nothing local_aws serves). Raises BadParameters."""
    endpoint = parameters.get("ApiEndpoint")
    method = parameters.get("Method")
    if not isinstance(endpoint, str) or not isinstance(method, str):
        raise BadParameters("ApiEndpoint and Method are required strings")
    if method not in METHODS:
        raise BadParameters(f"Method must be one of {', '.join(sorted(METHODS))}, not {method}")
    body = parameters.get("RequestBody")
    if body is not None and method not in BODY_METHODS:
        raise BadParameters("RequestBody is only supported for PATCH, POST and PUT")
    auth = parameters.get("AuthType", "NO_AUTH")
    if auth not in ("NO_AUTH", "IAM_ROLE", "RESOURCE_POLICY"):
        raise BadParameters(f"AuthType must be NO_AUTH, IAM_ROLE or RESOURCE_POLICY, not {auth}")
    match = _API_ENDPOINT.match(endpoint)
    if match is None:
        return None
    stage = parameters.get("Stage") or ""
    path = parameters.get("Path") or ""
    if not isinstance(stage, str) or not isinstance(path, str):
        raise BadParameters("Stage and Path must be strings")
    connection = _CONNECTIONS_PATH.match(path)
    if body is None:
        data = b""
    elif isinstance(body, str):
        data = body.encode("utf-8", "surrogatepass")
    else:
        data = json.dumps(body, separators=(",", ":")).encode()
    return Target(
        api_id=match["api"],
        region=match["region"],
        stage=stage,
        connection_id=unquote(connection["id"]) if connection else None,
        method=method,
        body=data,
        signed=auth != "NO_AUTH",
    )


def invoke_output(status: int, body: bytes, content_type: str | None) -> dict[str, Any]:
    """The Task's result, as Step Functions gives it: ResponseBody (JSON read, or the
    text), StatusCode, StatusText and Headers (each a list of values)."""
    text = body.decode("utf-8", "replace")
    response_body: Any = text
    if text:
        try:
            response_body = json.loads(text)
        except (ValueError, RecursionError):
            response_body = text
    headers = {
        "Content-Length": [str(len(body))],
        "Date": [email.utils.format_datetime(datetime.datetime.now(datetime.UTC), usegmt=True)],
        "x-amzn-RequestId": [str(uuid.uuid4())],
    }
    if content_type:
        headers["Content-Type"] = [content_type]
    return {
        "Headers": headers,
        "ResponseBody": response_body,
        "StatusCode": status,
        "StatusText": http.HTTPStatus(status).phrase,
    }


# --------------------------------------------------------------------------------------
# Where the calls go: the running local_aws's @connections (bound at startup)
# --------------------------------------------------------------------------------------

# (api_id, stage, region, method, connection_id, data) → the management API's answer.
Respond = Callable[[str, str, str, str, str, bytes], Coroutine[Any, Any, Any]]
# (api_id, stage) → (account, region) of the API deployed there, or None.
Locate = Callable[[str, str], "tuple[str, str] | None"]


@dataclass(frozen=True)
class _Binding:
    loop: asyncio.AbstractEventLoop
    respond: Respond
    locate: Locate


_binding: list[_Binding] = []


def bind(loop: asyncio.AbstractEventLoop, respond: Respond, locate: Locate) -> None:
    """Answer Tasks with the running local_aws's `@connections` (on its event loop)."""
    _binding[:] = [_Binding(loop, respond, locate)]


def unbind() -> None:
    _binding.clear()


def call(target: Target, account_id: str, role_arn: str) -> Answer:
    """Make the call in process (blocking, from an execution's thread): (status, body,
    content type)."""
    if not _binding:
        raise RuntimeError("local_aws is not serving WebSocket APIs in this process")
    binding = _binding[0]
    located = binding.locate(target.api_id, target.stage)
    if located is None or located[0] != account_id or target.region not in (None, located[1]):
        logger.warning(
            "apigateway:invoke: no WebSocket API %s with stage %r in this account and region",
            target.api_id,
            target.stage,
        )
        return _FORBIDDEN
    region = located[1]
    if target.connection_id is None:
        logger.warning(
            "apigateway:invoke: local_aws serves only a WebSocket API's @connections/{id} "
            "path (stage %r of %s): 403",
            target.stage,
            target.api_id,
        )
        return _FORBIDDEN
    if not target.signed:
        return _UNSIGNED
    resource = (
        f"arn:aws:execute-api:{region}:{account_id}:{target.api_id}/{target.stage}/"
        f"{target.method}/@connections/{target.connection_id}"
    )
    try:
        iam.check_role_allows(account_id, role_arn, ACTION, resource)
    except iam.AccessDenied as denied:
        logger.warning("apigateway:invoke: %s", denied)
        message = f"User: {role_arn} is not authorized to perform: {ACTION} on resource: {resource}"
        return 403, json.dumps({"Message": message}).encode(), "application/json"
    future: concurrent.futures.Future[Any] = asyncio.run_coroutine_threadsafe(
        binding.respond(
            target.api_id, target.stage, region, target.method, target.connection_id, target.body
        ),
        binding.loop,
    )
    reply = future.result(CALL_SECONDS)
    return reply.status, reply.body, reply.content_type


# --------------------------------------------------------------------------------------
# The Task, in moto's interpreter
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Response:
    """What moto's `SfnGatewayException` reads of a failed call's response."""

    status_code: int
    text: str


def eval_service_task(
    task: Any,
    env: Any,
    resource_runtime_part: Any,
    normalised_parameters: dict[str, Any],
    state_credentials: Any = None,
) -> None:
    """`StateTaskServiceApiGateway._eval_service_task`: make the call, push its output, or
    raise what moto's interpreter turns into the Task's `ApiGateway.<status>` error."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_api_gateway as moto_task,
    )

    task._headers_of(dict(normalised_parameters))  # moto's check of forbidden headers
    target = read_parameters(normalised_parameters)
    if target is None:
        logger.warning(
            "apigateway:invoke: %r is not an API Gateway endpoint local_aws serves",
            normalised_parameters.get("ApiEndpoint"),
        )
        status, body, content_type = _FORBIDDEN
    elif len(target.body) > MAX_BODY_BYTES:
        status, body, content_type = _TOO_LONG
    else:
        details = env.aws_execution_details
        status, body, content_type = call(target, details.account, details.role_arn)
    if not 200 <= status < 300:
        response = _Response(status, body.decode("utf-8", "replace"))
        raise moto_task.SfnGatewayException(
            parameters=normalised_parameters,  # type: ignore[arg-type]
            response=response,  # type: ignore[arg-type]  # what moto reads of a response
        )
    env.stack.append(invoke_output(status, body, content_type))


def failure_event(task: Any, env: Any, ex: Exception) -> Any:
    """`StateTaskServiceApiGateway._from_error`: the Task's failure, `ApiGateway.<status>`
    with the response body as its cause for a call answered with an error, else
    `ApiGateway.<exception>` (the Step Functions guide's error handling for API Gateway)."""
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
        CustomErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    response = getattr(ex, "response", None)
    if isinstance(response, _Response):
        error, cause = f"ApiGateway.{response.status_code}", response.text
    else:
        error, cause = f"ApiGateway.{type(ex).__name__}", str(ex)
    return FailureEvent(
        env=env,
        error_name=CustomErrorName(error),
        event_type=HistoryEventType.TaskFailed,
        event_details=EventDetails(  # type: ignore[typeddict-item]  # total=False in spirit
            taskFailedEventDetails=TaskFailedEventDetails(
                error=error,
                cause=cause,
                resource=task._get_sfn_resource(),
                resourceType=task._get_sfn_resource_type(),
            )
        ),
    )
