"""Integrations: what a route calls, and what comes back.

- `AWS` to a service: render the request template (VTL), check the `CredentialsArn` role,
  call the service action in process, pick the integration response by status (reference
  §3.3, §7.7, §7.8).
- `AWS` to Lambda: the rendered request template is the function's event; its result, or
  its `errorMessage`, picks the integration response.
- `AWS_PROXY`: build the Lambda proxy event and run the deployed function's code in a warm
  worker (reference §5.2).
- `MOCK`: the rendered request template's `statusCode` picks the integration response.
- `HTTP_PROXY`: the message to the backend's URL as it is; the answer is the reply. `HTTP`:
  the rendered request template, and the backend's status picks the integration response.
  Request parameters (`request_parameters`) set headers, query string and path; which
  backends may be called, and how long and how much is read, is `http_calls`' job.

What is decided from data alone (the target, the templates, the IAM resource, the integration
response) is in `integration_plan`, as pure functions; this module runs the call.

The blocking parts (VTL, IAM, moto) run on a worker thread, never on the event loop: a Lambda
that calls back into local_aws (e.g. `post_to_connection`) needs the loop to be free. Threads
are few (the server has 8) and Python cannot stop one from outside, so each blocking call is
bounded from inside (VTL: `vtl.limits`) and one API may hold only `THREADS_PER_API` of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from concurrent.futures import Future as ThreadFuture
from dataclasses import dataclass, field
from typing import Any, TypeVar

from local_aws import (
    events,
    http_calls,
    iam,
    integration_plan,
    lambda_logs,
    request_parameters,
    services,
)
from local_aws.deployments import DeployedApi, Integration
from local_aws.lambda_runtime import LambdaRuntime, function_config, moto_function
from local_aws.lambda_worker_process import FunctionConfig, InvocationResult
from local_aws.service_calls import moto_calls
from local_aws.settings import Settings

logger = logging.getLogger(__name__)

INTERNAL_SERVER_ERROR = "Internal server error"
TIMED_OUT = "Endpoint request timed out"

# At most this many of the server's integration threads work for one API at a time: a slow
# or hostile integration then waits for its own API's threads (on the event loop, within its
# timeout) and never for another API's, the TTL sweep's or the log writer's. Service calls
# take moto's one lock anyway, so more threads per API would not make them faster.
THREADS_PER_API = 2

T = TypeVar("T")


@dataclass
class Outcome:
    """The result of one integration call, as the gateway needs it."""

    status: int  # the integration's status; for $connect, the handshake status
    body: str | None = None  # what a two-way route sends back to the client
    error: str | None = None  # an error frame message for message routes
    headers: dict[str, str] = field(default_factory=dict)  # handshake headers ($connect proxy)

    @property
    def ok(self) -> bool:
        return self.error is None and 200 <= self.status < 300


class Integrations:
    """Runs integrations for the gateway."""

    def __init__(
        self, runtime: LambdaRuntime, executor: Executor, settings: Settings | None = None
    ) -> None:
        settings = settings or Settings()
        self._http = http_calls.HttpClient(settings.http_integration_hosts, settings.port)
        self._runtime = runtime
        self._executor = executor
        self._functions = FunctionLookup()
        self._logs = lambda_logs.LambdaLogs(executor)
        self._threads: dict[str, asyncio.Semaphore] = {}

    async def run(
        self, deployed: DeployedApi, integration: Integration, request: events.Request
    ) -> Outcome:
        """Call the integration; never raises for anything a client or a function does."""
        try:
            kind = integration.integration_type
            if kind == "AWS_PROXY":
                call = self._lambda_proxy(deployed, integration, request)
            elif kind == "AWS" and integration_plan.lambda_function_arn(integration.uri):
                call = self._lambda_custom(deployed, integration, request)
            elif kind == "AWS":
                call = self._in_thread(
                    deployed.api_id, _call_service, deployed, integration, request
                )
            elif kind == "MOCK":
                call = self._in_thread(deployed.api_id, _call_mock, deployed, integration, request)
            elif kind == "HTTP_PROXY":
                call = self._http_proxy(deployed, integration, request)
            elif kind == "HTTP":
                call = self._http_custom(deployed, integration, request)
            else:
                logger.error(
                    "%s integrations are not supported by local_aws (route %s); "
                    "use AWS, AWS_PROXY, HTTP, HTTP_PROXY or MOCK",
                    integration.integration_type,
                    request.route_key,
                )
                return Outcome(500, error=INTERNAL_SERVER_ERROR)
            async with asyncio.timeout(integration.timeout_seconds):
                return await call
        except TimeoutError:
            return Outcome(504, error=TIMED_OUT)
        except Exception:
            logger.exception("integration of route %s failed", request.route_key)
            return Outcome(500, error=INTERNAL_SERVER_ERROR)

    async def invoke_function(
        self, deployed: DeployedApi, function: FunctionConfig, event: Any
    ) -> InvocationResult:
        """Run the function on `event` (as API Gateway invokes it for `deployed`) and put its
        logs in CloudWatch Logs; an integration, an authorizer."""
        result = await self._runtime.invoke(function, event)
        self._logs.add(deployed.account_id, deployed.region, function.name, result)
        return result

    async def _in_thread(self, api_id: str, function: Callable[..., T], *args: Any) -> T:
        """Run a blocking call on one of this API's threads (waiting for one if it has none).

        The thread counts as the API's until the call really ends, even if the caller stopped
        waiting (timeout): the limit is on threads, not on waiting callers.
        """
        threads = self._threads.get(api_id)
        if threads is None:
            threads = self._threads[api_id] = asyncio.Semaphore(THREADS_PER_API)
        await threads.acquire()
        loop = asyncio.get_running_loop()
        try:
            future = self._executor.submit(function, *args)
        except BaseException:
            threads.release()
            raise
        # One hand-back to the loop per call, which both frees the thread's place and answers
        # the caller (asyncio.wrap_future plus a release callback would wake the loop twice).
        waiter: asyncio.Future[T] = loop.create_future()

        def settle() -> None:  # on the loop, once the call has really ended
            threads.release()
            if waiter.cancelled():  # the caller stopped waiting (timeout)
                return
            if future.cancelled():
                waiter.cancel()
            elif (error := future.exception()) is not None:
                waiter.set_exception(error)
            else:
                waiter.set_result(future.result())

        def ended(_: ThreadFuture[T]) -> None:  # on the executor's thread
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing waits now
                loop.call_soon_threadsafe(settle)

        future.add_done_callback(ended)
        try:
            return await waiter
        except asyncio.CancelledError:
            future.cancel()  # not started yet: it never will be
            raise

    async def _lambda_proxy(
        self, deployed: DeployedApi, integration: Integration, request: events.Request
    ) -> Outcome:
        function = self._function(deployed, integration, request)
        if function is None:
            return Outcome(500, error=INTERNAL_SERVER_ERROR)
        result = await self.invoke_function(deployed, function, events.proxy_event(request))
        if result.error is not None:
            logger.info("function %s failed: %s", function.name, result.error.get("errorMessage"))
            return Outcome(502, error=INTERNAL_SERVER_ERROR)
        return _proxy_outcome(result.payload)

    async def _lambda_custom(
        self, deployed: DeployedApi, integration: Integration, request: events.Request
    ) -> Outcome:
        """An `AWS` (non-proxy) Lambda integration: the rendered request template is the
        event; the result (or the error) goes through the integration responses."""
        function = self._function(deployed, integration, request)
        if function is None:
            return Outcome(500, error=INTERNAL_SERVER_ERROR)
        body = await self._in_thread(
            deployed.api_id, _service_request, integration, request, deployed
        )
        if body is None:  # no template matched and passthrough is not allowed
            return Outcome(415, error="Unsupported Media Type")
        try:
            event = integration_plan.lambda_event(body)
        except integration_plan.NotAnEvent as error:
            logger.warning("route %s: %s, so Lambda refuses it", request.route_key, error)
            return Outcome(500, error=INTERNAL_SERVER_ERROR)
        result = await self.invoke_function(deployed, function, event)
        if result.error is not None:
            message = str(result.error.get("errorMessage", ""))
            logger.info("function %s failed: %s", function.name, message)
            answer, selection = json.dumps(result.error), message
        else:
            answer, selection = json.dumps(result.payload), None
        return await self._in_thread(
            deployed.api_id,
            _integration_outcome,
            integration,
            request,
            deployed,
            200,
            answer,
            selection,
        )

    async def _http_proxy(
        self, deployed: DeployedApi, integration: Integration, request: events.Request
    ) -> Outcome:
        """`HTTP_PROXY`: the message as it is to the backend; its answer is the reply.

        `$connect` sends the handshake's headers and no body; `$disconnect` neither.
        """
        body = (request.body or "") if request.event_type == "MESSAGE" else ""
        headers = dict(request.client.headers) if request.event_type == "CONNECT" else {}
        answer = await self._http_call(deployed, integration, request, body, headers)
        if answer is None:
            return Outcome(500, error=INTERNAL_SERVER_ERROR)
        # As with a Lambda proxy, the status does not stop a message route's reply.
        return Outcome(answer.status, body=answer.text)

    async def _http_custom(
        self, deployed: DeployedApi, integration: Integration, request: events.Request
    ) -> Outcome:
        """`HTTP`: the rendered request template to the backend; its status picks the
        integration response, whose template renders the reply (as for `AWS` services)."""
        body = await self._in_thread(
            deployed.api_id, _service_request, integration, request, deployed
        )
        if body is None:  # no template matched and passthrough is not allowed
            return Outcome(415, error="Unsupported Media Type")
        answer = await self._http_call(deployed, integration, request, body, {})
        if answer is None:
            return Outcome(500, error=INTERNAL_SERVER_ERROR)
        outcome = await self._in_thread(
            deployed.api_id,
            _service_outcome,
            integration,
            request,
            deployed,
            answer.status,
            answer.text,
        )
        if request.event_type == "CONNECT" and outcome.error is None:
            # Reported for non-proxy HTTP integrations on `$connect`: the connection is made
            # whatever the backend's status, once an integration response applies
            # (reference §8; docs/fidelity.md).
            outcome.status = 200
        return outcome

    async def _http_call(
        self,
        deployed: DeployedApi,
        integration: Integration,
        request: events.Request,
        body: str,
        headers: dict[str, str],
    ) -> http_calls.HttpAnswer | None:
        """Send the integration's HTTP request (None: refused or failed, and logged)."""
        mapped = request_parameters.map_parameters(
            integration.request_parameters, request, deployed.stage_variables
        )
        url = integration_plan.http_url(
            integration.uri, deployed.stage_variables, mapped.path, mapped.querystring
        )
        sent = {name.lower(): (name, value) for name, value in headers.items()}
        if request.event_type == "MESSAGE":
            sent["content-type"] = ("Content-Type", "application/json")
        sent.update({name.lower(): (name, value) for name, value in mapped.headers.items()})
        outgoing = http_calls.HttpRequest(
            (integration.method or "POST").upper(),
            url,
            tuple(sent.values()),
            body.encode("utf-8", "surrogatepass"),
        )
        try:
            return await self._http.send(outgoing)
        except http_calls.Refused as refused:
            logger.error("route %s: HTTP integration not called: %s", request.route_key, refused)
        except http_calls.Failed as failed:
            logger.warning(
                "route %s: HTTP integration %s failed: %s", request.route_key, url, failed
            )
        return None

    def _function(
        self, deployed: DeployedApi, integration: Integration, request: events.Request
    ) -> FunctionConfig | None:
        """The function the integration's URI names, if API Gateway may invoke it."""
        function_arn = integration_plan.lambda_function_arn(
            integration.uri, deployed.stage_variables
        )
        if function_arn is None:
            logger.error("not a Lambda invocation URI: %s", integration.uri)
            return None
        return self._functions.get(deployed, function_arn, request.route_key)


def _proxy_outcome(payload: object) -> Outcome:
    """Read `{statusCode, headers?, body?}`; anything else is a malformed response (502)."""
    if not isinstance(payload, dict):
        return Outcome(502, error=INTERNAL_SERVER_ERROR)
    try:
        status = int(payload.get("statusCode", 200))
    except (TypeError, ValueError):
        return Outcome(502, error=INTERNAL_SERVER_ERROR)
    body = payload.get("body")
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    headers = payload.get("headers") or {}
    if not isinstance(headers, dict):
        return Outcome(502, error=INTERNAL_SERVER_ERROR)
    # reference §3.4: on message routes the status code does not change delivery.
    return Outcome(status, body=body, headers={str(k): str(v) for k, v in headers.items()})


# Function lookups and permission checks cost ~0.1 ms, a fifth of an echo: each answer is
# reused for a second, so a changed function or permission is seen within a second (on AWS,
# too, a function update takes a moment to reach new invocations).
_FUNCTION_CACHE_SECONDS = 1.0


class FunctionLookup:
    """The functions routes invoke, each looked up at most once a second."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str, str, str], tuple[float, FunctionConfig | None]] = {}

    def get(
        self, deployed: DeployedApi, function_arn: str, route_key: str
    ) -> FunctionConfig | None:
        """The function's code and settings, if API Gateway may invoke it for this route."""
        key = (deployed.api_id, deployed.stage, route_key, function_arn)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < _FUNCTION_CACHE_SECONDS:
            return cached[1]
        function = _lookup_function(deployed, function_arn, route_key)
        if len(self._cache) >= _MAX_CACHED_FUNCTIONS:  # bounded: routes are few, keys are not
            self._cache.clear()
        self._cache[key] = (now, function)
        return function


_MAX_CACHED_FUNCTIONS = 1024


def _lookup_function(
    deployed: DeployedApi, function_arn: str, route_key: str
) -> FunctionConfig | None:
    """Read the function from moto (without the lock) and check its resource policy."""
    function = moto_function(function_arn, deployed.account_id, deployed.region)
    if function is None:
        logger.error("Lambda function %s does not exist", function_arn)
        return None
    parts = function_arn.split(":")
    partition = parts[1] if len(parts) > 5 else "aws"
    source_arn = (
        f"arn:{partition}:execute-api:{deployed.region}:{deployed.account_id}:"
        f"{deployed.api_id}/{deployed.stage}/{route_key}"
    )
    try:
        iam.check_invoke_allowed(function, source_arn, "apigateway.amazonaws.com")
    except iam.AccessDenied as denied:
        logger.warning("%s", denied)
        return None
    return function_config(function)


def _call_service(
    deployed: DeployedApi, integration: Integration, request: events.Request
) -> Outcome:
    """An `AWS` integration, from request template to integration response (blocking).

    Every step but `_execute` is a pure function of `integration_plan`.
    """
    target = integration_plan.service_target(integration.uri)
    if target is None:
        logger.error(
            "local_aws runs these AWS integrations: Lambda functions, and DynamoDB, SQS, SNS, "
            "EventBridge (events), Kinesis and Step Functions (states) actions; got %s",
            integration.uri,
        )
        return Outcome(500, error=INTERNAL_SERVER_ERROR)
    body = _service_request(integration, request, deployed)
    if body is None:  # no template matched and passthrough is not allowed
        return Outcome(415, error="Unsupported Media Type")
    role_arn = integration_plan.with_stage_variables(
        integration.credentials_arn, deployed.stage_variables
    )
    if not role_arn:
        logger.error("integration %s has no CredentialsArn", integration.integration_id)
        return Outcome(500, error=INTERNAL_SERVER_ERROR)
    mapped = request_parameters.map_parameters(
        integration.request_parameters, request, deployed.stage_variables
    )
    call = integration_plan.service_call(
        target, deployed.account_id, role_arn, body, mapped.headers
    )
    if call.refusal is not None:
        logger.warning("route %s: %s", request.route_key, call.refusal)
        return Outcome(500, error=INTERNAL_SERVER_ERROR)
    try:
        status, answer = _execute(call, integration.timeout_seconds)
    except iam.AccessDenied as denied:
        logger.warning("route %s: %s", request.route_key, denied)
        return Outcome(500, error=INTERNAL_SERVER_ERROR)
    if not 200 <= status < 300:
        logger.warning(
            "route %s: %s %s answered %s: %s",
            request.route_key,
            target.service,
            call.action,
            status,
            answer,
        )
    return _service_outcome(integration, request, deployed, status, answer)


def _service_request(
    integration: Integration, request: events.Request, deployed: DeployedApi
) -> str | None:
    """The integration request of an `AWS` or `HTTP` integration: the selected template
    rendered, or the body passed through (None: refused by PassthroughBehavior)."""
    template = integration_plan.request_template(integration, request.body)
    if template is None:
        return integration_plan.passthrough_body(integration, request.body)
    return integration_plan.render_request(
        template, request, deployed.stage_variables, integration.timeout_seconds
    )


def _execute(call: integration_plan.ServiceCall, time_limit: float) -> tuple[int, str]:
    """Check the role's permission, then call the service in process: (status, answer),
    within ``time_limit`` seconds for a call that runs (a synchronous Step Functions one).

    Raises `iam.AccessDenied`. A call without a resource (a body that is not a JSON object)
    goes to the service unchecked: the service refuses it before any authorization.
    """
    for resource_arn in call.resource_arns or ():
        iam.check_role_allows(call.account_id, call.role_arn, call.permission, resource_arn)
    target = call.target
    if target.service == "dynamodb":
        return services.call_dynamodb(call.action or "", call.body, call.account_id, target.region)
    headers = dict(call.headers)
    return moto_calls.call(
        target.service,
        target.region,
        call.account_id,
        target.path or "",
        call.body,
        headers,
        time_limit,
    )


def _call_mock(deployed: DeployedApi, integration: Integration, request: events.Request) -> Outcome:
    """A `MOCK` integration: the rendered request's `statusCode` picks the integration
    response, whose template is the answer (blocking: VTL)."""
    template = integration_plan.request_template(integration, request.body)
    if template is None:
        body = integration_plan.passthrough_body(integration, request.body)
        if body is None:
            return Outcome(415, error="Unsupported Media Type")
    else:
        body = integration_plan.render_request(
            template, request, deployed.stage_variables, integration.timeout_seconds
        )
    status = integration_plan.mock_status(body, from_template=template is not None)
    if status is None:
        logger.warning("route %s: %s", request.route_key, integration_plan.MOCK_STATUS_ERROR)
        return Outcome(500, error=INTERNAL_SERVER_ERROR)
    outcome = _service_outcome(integration, request, deployed, status, "")
    if outcome.body == "":  # nothing rendered: no frame to send (an empty one says nothing)
        outcome.body = None
    return outcome


def _service_outcome(
    integration: Integration,
    request: events.Request,
    deployed: DeployedApi,
    status: int,
    answer: str,
) -> Outcome:
    """What the client gets for the service's answer, its status picking the integration
    response."""
    return _integration_outcome(integration, request, deployed, status, answer, status)


def _integration_outcome(
    integration: Integration,
    request: events.Request,
    deployed: DeployedApi,
    status: int,
    answer: str,
    selection: int | str | None,
) -> Outcome:
    """What the client gets for the answer, through the integration responses.

    ``selection`` is what their keys are matched against: the status, or for Lambda the
    function's `errorMessage` (None: the function succeeded).
    """
    plan = integration_plan.response_plan(integration.responses, selection, status)
    if not plan.matched:
        # API Gateway never passes the service's raw answer on when no integration response
        # matches: it fails the request with this log line (REST APIs' documented behaviour;
        # docs/fidelity.md 8c), and the client gets `Internal server error`.
        logger.warning(
            "route %s: Execution failed due to configuration error: No match for output "
            "mapping and no default output mapping configured. Endpoint Response Status "
            "Code: %s",
            request.route_key,
            status,
        )
        return Outcome(500, error=INTERNAL_SERVER_ERROR)
    if plan.template is not None:
        answer = integration_plan.render_response(
            plan.template,
            request,
            deployed.stage_variables,
            status,
            answer,
            integration.timeout_seconds,
        )
    return Outcome(status, body=answer)


def reply_frame(body: str, request: events.Request, limit: int) -> str:
    """What the client receives for a two-way route's response.

    The body itself, unless it is over `limit` bytes (API Gateway's 128 KB message quota): it
    cannot be delivered, so the client gets the `Internal server error` frame for this
    message (its connection stays open) and the reason goes to local_aws's log.
    """
    if len(body) * 4 <= limit:  # fast path: 4 bytes per character at most in UTF-8
        return body
    size = len(body.encode("utf-8", "surrogatepass"))
    if size <= limit:
        return body
    logger.warning(
        "route %s: the route response is %d bytes, over the %d-byte message quota; "
        "not delivered to connection %s (request %s)",
        request.route_key,
        size,
        limit,
        request.client.connection_id,
        request.request_id,
    )
    return events.error_frame(
        INTERNAL_SERVER_ERROR, request.client.connection_id, request.request_id
    )
