"""The pure steps of an integration call: from a route's integration and a request to what
is called, and from the service's answer to what the client gets.

Each function here depends only on its arguments (plain data: `Integration`, `Request`,
strings), so each is tested with plain values. Running the call (the IAM check, moto, a
Lambda worker) is `local_aws.integrations`' job, the one step with effects.

    service_target(uri)                      which service action (AWS integrations)
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

from local_aws import events, routing, services, vtl
from local_aws.deployments import Integration, IntegrationResponse

logger = logging.getLogger(__name__)

# DynamoDB's own limit on a table name: a longer one cannot exist, so it is not looked up
# against the role's policies (wildcard matching costs grow with the name's length).
_MAX_TABLE_NAME = 255

_SERVICE_URI = re.compile(
    r"^arn:[\w-]+:apigateway:(?P<region>[\w-]+):(?P<service>[\w-]+):action/(?P<action>\w+)$"
)
_LAMBDA_URI = re.compile(
    r"^arn:[\w-]+:apigateway:[\w-]+:lambda:path/[^/]+/functions/(?P<function>.+)/invocations$"
)


# --------------------------------------------------------------------------------------
# Which target the integration URI names
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceTarget:
    """The service action an `AWS` integration URI names, e.g. dynamodb PutItem."""

    service: str
    action: str
    region: str


def service_target(uri: str | None) -> ServiceTarget | None:
    """The action `uri` names, if local_aws runs that service; else None."""
    match = _SERVICE_URI.match(uri or "")
    if not match or not services.supports(match["service"]):
        return None
    return ServiceTarget(match["service"], match["action"], match["region"])


def lambda_function_arn(uri: str | None) -> str | None:
    """The function an `AWS_PROXY` invocation URI names; None if it is not one."""
    match = _LAMBDA_URI.match(uri or "")
    return match["function"] if match else None


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
    """The ARN the IAM check is made against (DynamoDB: the table named in the request).

    None for a body that is not a JSON object: it names nothing, and DynamoDB refuses it.
    """
    try:
        request = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(request, dict):
        return None
    table = request.get("TableName", "*")
    if not isinstance(table, str) or len(table) > _MAX_TABLE_NAME:
        table = "*"  # no such table: the call fails in DynamoDB, not in a slow match
    return f"arn:aws:{service}:{region}:{account_id}:table/{table}"  # local_aws is partition aws


@dataclass(frozen=True)
class ServiceCall:
    """Everything one service call needs: who calls what, with which request."""

    target: ServiceTarget
    account_id: str
    role_arn: str  # the integration's CredentialsArn
    body: str  # the service request, rendered
    # What the IAM check is made against. None: a body that is not a JSON object, which
    # DynamoDB refuses (400 SerializationException) before any authorization.
    resource_arn: str | None

    @property
    def permission(self) -> str:
        """The IAM action the role must allow, e.g. `dynamodb:PutItem`."""
        return f"{self.target.service}:{self.target.action}"


def service_call(target: ServiceTarget, account_id: str, role_arn: str, body: str) -> ServiceCall:
    """The call an `AWS` integration makes with the rendered request ``body``."""
    resource = resource_arn(target.service, target.region, account_id, body)
    return ServiceCall(target, account_id, role_arn, body, resource)


# --------------------------------------------------------------------------------------
# The answer: which integration response, which response template
# --------------------------------------------------------------------------------------


def select_integration_response(
    responses: tuple[IntegrationResponse, ...], status: int
) -> IntegrationResponse | None:
    """The integration response whose key matches the status (reference §3.3).

    Keys are `/regex/` matched against the whole status code, e.g. `/2\\d\\d/`; `$default`
    is the catch-all when no regex matches.
    """
    for response in responses:
        key = response.key
        if len(key) > 2 and key.startswith("/") and key.endswith("/"):
            try:
                if re.fullmatch(key[1:-1], str(status)):
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


def response_plan(responses: tuple[IntegrationResponse, ...], status: int) -> ResponsePlan:
    """Pick the integration response for ``status`` and its response template."""
    if not responses:
        return ResponsePlan(matched=True)
    selected = select_integration_response(responses, status)
    if selected is None:
        return ResponsePlan(matched=False)
    key = routing.static_key(selected.template_selection_expression) or "$default"
    return ResponsePlan(matched=True, template=selected.response_templates.get(key))


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
