"""The pure steps of an integration call: from a route's integration and a request to what
is called, and from the service's answer to what the client gets.

Each function here depends only on its arguments (plain data: `Integration`, `Request`,
strings), so each is tested with plain values. Running the call (the IAM check, moto, a
Lambda worker) is `local_aws.integrations`' job, the one step with effects.

    service_target(uri)                      which service action (AWS integrations)
    lambda_function_arn(uri, stage_vars)     which function (AWS and AWS_PROXY Lambda)
    http_url(uri, ...)                       which URL (HTTP and HTTP_PROXY)
    mock_status(rendered)                    the status a MOCK integration answers with
    lambda_event(rendered)                   the event of a non-proxy Lambda integration
    request_template / passthrough_body      how the request becomes the service request
    render_request                           the request template, rendered
    service_call(...)                        everything the call needs, IAM resource included
    response_plan(responses, status)         which integration response, which template
    render_response                          the response template, rendered
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from local_aws import events, routing, services, vtl
from local_aws.deployments import Integration, IntegrationResponse
from local_aws.service_calls import protocols

logger = logging.getLogger(__name__)

_SERVICE_URI = re.compile(
    r"^arn:[\w-]+:apigateway:(?P<region>[\w-]+):(?P<service>[\w-]+):"
    r"(?:action/(?P<action>\w+)|path/(?P<path>[\w.-]+/[\w.-]+))$"
)
_LAMBDA_URI = re.compile(
    r"^arn:[\w-]+:apigateway:[\w-]+:lambda:path/[^/]+/functions/(?P<function>.+)/invocations$"
)
_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.(?P<name>[A-Za-z0-9_]+)\}")


# --------------------------------------------------------------------------------------
# Which target the integration URI names
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceTarget:
    """The service action an `AWS` integration URI names, e.g. dynamodb PutItem.

    A `path/` URI (SQS: `sqs:path/{account}/{queue}`) names a resource instead; the action
    is then the request's own `Action` parameter.
    """

    service: str
    action: str | None
    region: str
    path: str | None = None


def service_target(uri: str | None) -> ServiceTarget | None:
    """The action `uri` names, if local_aws runs that service; else None."""
    match = _SERVICE_URI.match(uri or "")
    if not match or not services.supports(match["service"]):
        return None
    protocol = protocols.PROTOCOLS[match["service"]]
    if match["path"] is not None and not protocol.path_uris:
        return None
    return ServiceTarget(match["service"], match["action"], match["region"], match["path"])


def with_stage_variables(text: str | None, stage_variables: dict[str, str]) -> str | None:
    """`${stageVariables.name}` replaced by the stage's value (an unset one by nothing), as
    API Gateway does in a Lambda function's ARN and in the credentials' role ARN."""
    if not text or "${" not in text:
        return text
    return _STAGE_VARIABLE.sub(lambda match: stage_variables.get(match["name"], ""), text)


def lambda_function_arn(
    uri: str | None, stage_variables: dict[str, str] | None = None
) -> str | None:
    """The function a Lambda invocation URI (`AWS` or `AWS_PROXY`) names; None if it is not
    one. Stage variables in it are replaced first."""
    match = _LAMBDA_URI.match(with_stage_variables(uri, stage_variables or {}) or "")
    return match["function"] if match else None


_PATH_PARAMETER = re.compile(r"\{(?P<name>[A-Za-z0-9._$-]+)\}")


def http_url(
    uri: str | None,
    stage_variables: dict[str, str],
    path: dict[str, str],
    querystring: dict[str, str],
) -> str:
    """The URL an `HTTP`/`HTTP_PROXY` integration calls: its URI with stage variables,
    `{name}` path parameters (percent-encoded; an unmapped one is left empty) and the
    mapped query string added to the URI's own."""
    url = with_stage_variables(uri, stage_variables) or ""
    url = _PATH_PARAMETER.sub(lambda match: quote(path.get(match["name"], ""), safe=""), url)
    if querystring:
        url += ("&" if "?" in url else "?") + urlencode(querystring)
    return url


# --------------------------------------------------------------------------------------
# The request: a template to render, or the body passed through
# --------------------------------------------------------------------------------------


def request_template(integration: Integration, body: str | None) -> str | None:
    """The request template the body selects, else `$default`'s; None if there is neither."""
    templates = integration.request_templates
    parsed = routing.parse_body(body) if body is not None else routing.NOT_JSON
    key = routing.evaluate(integration.template_selection_expression or "", parsed)
    template = templates.get(key or "") if key else None
    if template is None:
        template = templates.get("$default")
    return template


def passthrough_body(integration: Integration, body: str | None) -> str | None:
    """When no template applies: the body as it is, or None to refuse it (415).

    PassthroughBehavior: `WHEN_NO_MATCH` (the default) passes it; `WHEN_NO_TEMPLATES` only
    if the integration has no templates at all; `NEVER` never.
    """
    behaviour = integration.passthrough_behavior or "WHEN_NO_MATCH"
    if behaviour == "NEVER" or (behaviour == "WHEN_NO_TEMPLATES" and integration.request_templates):
        return None
    return body or ""


MOCK_STATUS_ERROR = (
    "Execution failed due to configuration error: statusCode should be an integer which "
    "defined in request template"
)


def mock_status(rendered: str, from_template: bool) -> int | None:
    """The status a `MOCK` integration answers with: the request's `statusCode`.

    API Gateway reads it from the rendered request template; a template that gives no
    integer `statusCode` is a configuration error (None, logged as `MOCK_STATUS_ERROR`).
    A body passed through without a template answers 200 unless it names a status.
    """
    request = protocols.json_object(rendered) if rendered else None
    status = request.get("statusCode") if request is not None else None
    if isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599:
        return status
    return None if from_template else 200


class NotAnEvent(ValueError):
    """A rendered Lambda request template that is not JSON: Lambda refuses such a payload
    (InvalidRequestContentException)."""


def lambda_event(rendered: str) -> object:
    """The event a non-proxy Lambda integration invokes the function with: the rendered
    template as JSON (an empty rendering is `{}`). Raises `NotAnEvent`."""
    if not rendered.strip():
        return {}
    try:
        return json.loads(rendered)
    except (ValueError, RecursionError) as error:
        raise NotAnEvent(f"the request template did not render JSON: {error}") from error


def request_params(request: events.Request) -> dict[str, dict[str, str]]:
    """`$input.params()`: query string and headers, which only `$connect` has (reference
    §3.1); WebSocket routes have no path parameters."""
    if request.event_type != "CONNECT":
        return {"path": {}, "querystring": {}, "header": {}}
    client = request.client
    return {"path": {}, "querystring": client.query, "header": client.headers}


def render_request(
    template: str, request: events.Request, stage_variables: dict[str, str], time_limit: float
) -> str:
    """The request template rendered for this request. Raises `vtl.TemplateError`."""
    return vtl.render(
        template,
        context=events.request_context(request),
        body=request.body,
        params=request_params(request),
        stage_variables=stage_variables,
        time_limit=time_limit,
    )


# --------------------------------------------------------------------------------------
# The call, as data
# --------------------------------------------------------------------------------------


def resource_arn(service: str, region: str, account_id: str, body: str) -> str | None:
    """The first ARN the IAM check is made against (DynamoDB: the table named in the
    request); None for a request the service cannot read (it names nothing)."""
    arns = protocols.resource_arns(service, region, account_id, None, body)
    return arns[0] if arns else None


@dataclass(frozen=True)
class ServiceCall:
    """Everything one service call needs: who calls what, with which request."""

    target: ServiceTarget
    account_id: str
    role_arn: str  # the integration's CredentialsArn
    body: str  # the service request, rendered
    # What the IAM check is made against. None: a request the service cannot read (a body
    # that is not a JSON object), which it refuses before any authorization.
    resource_arns: tuple[str, ...] | None
    action: str | None = None  # the action run: the URI's, or the request's own
    headers: tuple[tuple[str, str], ...] = ()  # Content-Type, X-Amz-Target
    # Why local_aws does not send this request (the client gets `Internal server error`,
    # the log this reason); None: it is sent.
    refusal: str | None = None

    @property
    def resource_arn(self) -> str | None:
        return self.resource_arns[0] if self.resource_arns else None

    @property
    def permission(self) -> str:
        """The IAM action the role must allow, e.g. `dynamodb:PutItem`."""
        return f"{self.target.service}:{self.action or self.target.action}"


_FORM = "application/x-www-form-urlencoded"


def service_call(
    target: ServiceTarget,
    account_id: str,
    role_arn: str,
    body: str,
    headers: dict[str, str] | None = None,
) -> ServiceCall:
    """The call an `AWS` integration makes with the rendered request ``body``.

    ``headers`` are those the integration's `RequestParameters` map
    (`request_parameters.map_parameters`); only `Content-Type` and `X-Amz-Target` are read,
    the services local_aws runs reading no other.

    The action run is the one the service will read: a query-protocol request's `Action`
    parameter, a JSON request's `X-Amz-Target` if the integration sets one, else the URI's.
    """
    protocol = protocols.PROTOCOLS[target.service]
    given = {name.lower(): value for name, value in (headers or {}).items()}
    sent = {"Content-Type": given.get("content-type", protocol.content_type)}
    action = target.action
    refusal = None
    if protocol.query:
        action = protocols.form_action(body) or action
        repeated = protocols.repeated_params(body)
        if not sent["Content-Type"].startswith(_FORM) or "content-type" not in given:
            refusal = (
                f"{target.service} reads form-encoded requests only: add RequestParameters "
                f"integration.request.header.Content-Type: \"'{_FORM}'\" to the integration"
            )
        elif repeated:
            refusal = f"the request gives these parameters more than once: {repeated}"
    else:
        amz_target = given.get("x-amz-target") or f"{protocol.target_prefix}.{action}"
        sent["X-Amz-Target"] = amz_target
        action = amz_target.rpartition(".")[2] or action
    if refusal is None and protocol.actions is not None and action not in protocol.actions:
        refusal = (
            f"local_aws runs only these {target.service} actions in AWS integrations: "
            f"{sorted(protocol.actions)}; got {action}"
        )
    resources = protocols.resource_arns(
        target.service, target.region, account_id, target.path, body
    )
    return ServiceCall(
        target,
        account_id,
        role_arn,
        body,
        resources,
        action,
        tuple(sorted(sent.items())),
        refusal,
    )


# --------------------------------------------------------------------------------------
# The answer: which integration response, which response template
# --------------------------------------------------------------------------------------


def select_integration_response(
    responses: tuple[IntegrationResponse, ...], value: int | str | None
) -> IntegrationResponse | None:
    """The integration response whose key matches the selection value (reference §3.3).

    The value is the status code (`$integration.response.statuscode`: service and `MOCK`
    integrations) or a Lambda function's `errorMessage` (`AWS` Lambda integrations; None when
    the function succeeded, which only `$default` matches). Keys are `/regex/` matched
    against the whole value, e.g. `/2\\d\\d/`; `$default` is the catch-all.
    """
    for response in responses if value is not None else ():
        key = response.key
        if len(key) > 2 and key.startswith("/") and key.endswith("/"):
            try:
                if re.fullmatch(key[1:-1], str(value)):
                    return response
            except re.error:  # a configuration mistake worth a line in the log
                logger.error("integration response key %s is not a valid regex", key)
    return next((response for response in responses if response.key == "$default"), None)


@dataclass(frozen=True)
class ResponsePlan:
    """What becomes of the service's answer."""

    # False when the integration has responses and none matches the status: API Gateway
    # then fails the request (`Internal server error`), never passing the raw answer on.
    matched: bool
    template: str | None = None  # the response template to render; None: the answer as is


# `IntegrationResponse.TemplateSelectionExpression` may name the status (reference §3.3).
_STATUS_SELECTION = re.compile(r"^\$\{?integration\.response\.statuscode\}?$")


def response_plan(
    responses: tuple[IntegrationResponse, ...], value: int | str | None, status: int | None = None
) -> ResponsePlan:
    """Pick the integration response for the selection ``value`` and its response template.

    The template is the one the response's own selection expression names: a static key,
    or ``status`` for `${integration.response.statuscode}`; else its `$default` template.
    """
    if not responses:
        return ResponsePlan(matched=True)
    selected = select_integration_response(responses, value)
    if selected is None:
        return ResponsePlan(matched=False)
    expression = selected.template_selection_expression
    if expression and status is not None and _STATUS_SELECTION.match(expression):
        key = str(status)
    else:
        key = routing.static_key(expression) or "$default"
    templates = selected.response_templates
    return ResponsePlan(matched=True, template=templates.get(key, templates.get("$default")))


def render_response(
    template: str,
    request: events.Request,
    stage_variables: dict[str, str],
    status: int,
    answer: str,
    time_limit: float,
) -> str:
    """The response template rendered over the service's answer. Raises `vtl.TemplateError`."""
    return vtl.render(
        template,
        context=dict(events.request_context(request), status=status),
        body=answer,
        stage_variables=stage_variables,
        time_limit=time_limit,
    )
