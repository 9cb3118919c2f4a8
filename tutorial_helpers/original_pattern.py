"""The seed pattern, bugs kept, deployed next to ours (notebook 06).

`cfn/original_pattern.yaml` is a teaching copy of `apigw-websocket-api-connection-dynamodb`
in its own style: SAM transform, inline Node.js echo, `Map.toString()` text, a TTL in
milliseconds. It gets its own stack, `<your stack>-pattern`, tagged like ours so
`make clean-aws` finds it too.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import websocket

from tutorial_helpers.errors import WorkshopError
from tutorial_helpers.stack import ensure_stack
from tutorial_helpers.tables import get_item
from tutorial_helpers.target import Target
from tutorial_helpers.template import CHECKOUT_TEMPLATE, INSTALLED_TEMPLATE, find_template
from tutorial_helpers.websocket_client import USER_AGENT, connection_url, my_connection_id

PATTERN_TEMPLATE_PATH = find_template(
    CHECKOUT_TEMPLATE.with_name("original_pattern.yaml"),
    INSTALLED_TEMPLATE.with_name("original_pattern.yaml"),
)
# The SAM transform makes CloudFormation expand the template: it needs AUTO_EXPAND too.
PATTERN_CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]


def pattern_target(target: Target) -> Target:
    """`target` with the pattern's stack name: `<stack>-pattern` (same region, same clients)."""
    return dataclasses.replace(target, stack_name=f"{target.stack_name}-pattern")


def ensure_pattern_stack(target: Target, *, out: TextIO | None = None) -> dict[str, str]:
    """Deploy the pattern's stack if it is missing; return its outputs.

    `target` is the workshop's target: the stack is `pattern_target(target).stack_name`.
    Locally the deploy is silent (a second); on AWS it shows its progress.
    """
    return ensure_stack(
        pattern_target(target),
        template_path=PATTERN_TEMPLATE_PATH,
        capabilities=PATTERN_CAPABILITIES,
        out=out,
    )


def served_url(target: Target, api_endpoint: str) -> str:
    """The URL to connect to for the pattern's output `wss://{api}.execute-api.…/{stage}`.

    On AWS that is the output itself. local_aws serves the same API and stage at
    `ws://127.0.0.1:{port}/{api}/{stage}` (the form our template's `WebSocketURL` has).
    """
    if not target.is_local:
        return api_endpoint
    parts = urlsplit(api_endpoint)
    api_id = parts.hostname.split(".", 1)[0] if parts.hostname else ""
    local = urlsplit(target.endpoint_url or "")
    return f"ws://{local.netloc}/{api_id}{parts.path}"


@dataclass
class Handshake:
    """What a client saw when it asked to connect: the HTTP status, and the socket if 101."""

    status: int
    ws: websocket.WebSocket | None

    @property
    def connected(self) -> bool:
        return self.status == 101


def try_connect(
    websocket_url: str,
    *,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> Handshake:
    """Ask to connect and report the handshake's HTTP status instead of raising.

    101 (Switching Protocols) is a connection; anything else is a refusal, whose status the
    client sees (`connect` turns it into a `WorkshopError`).
    """
    url = connection_url(websocket_url, query)
    all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    try:
        ws = websocket.create_connection(url, header=all_headers, timeout=timeout)
    except websocket.WebSocketBadStatusException as error:
        return Handshake(error.status_code, None)
    return Handshake(101, ws)


def map_text_breaks_json(value: str, name: str = "q") -> bool:
    """True if `{name=value}`, pasted into a JSON string unescaped, is no longer valid JSON.

    That is what the pattern's `$input.params().get('querystring')` does: a `"` ends the
    string early, a `\\` starts an escape JSON may not allow. DynamoDB then refuses the
    PutItem and API Gateway refuses the connection.
    """
    try:
        json.loads('{"S": "{' + name + "=" + value + '}"}')
    except json.JSONDecodeError:
        return True
    return False


def routes_the_deployment_misses(template: Mapping[str, Any]) -> list[str]:
    """Logical ids of the routes a template's `AWS::ApiGatewayV2::Deployment` does not wait for.

    A deployment is a snapshot of the routes that exist when it is created; a route it does
    not depend on (`DependsOn`) may be created after it, and then it is not in the stage.
    """
    resources = template["Resources"]
    routes = {name for name, r in resources.items() if r["Type"] == "AWS::ApiGatewayV2::Route"}
    missing: set[str] = set()
    for resource in resources.values():
        if resource["Type"] == "AWS::ApiGatewayV2::Deployment":
            depends = resource.get("DependsOn", [])
            waits_for = {depends} if isinstance(depends, str) else set(depends)
            missing |= routes - waits_for
    return sorted(missing)


def permissions_without_source_arn(template: Mapping[str, Any]) -> list[str]:
    """Logical ids of `AWS::Lambda::Permission`s that name no `SourceArn` (any caller allowed)."""
    return sorted(
        name
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Permission"
        and "SourceArn" not in resource.get("Properties", {})
    )


def template_lines(path: Path, *needles: str) -> list[str]:
    """The lines of a file that contain any of `needles`, as `line number: text`."""
    text = path.read_text()
    return [
        f"{number:>4}: {line.strip()}"
        for number, line in enumerate(text.splitlines(), start=1)
        if any(needle in line for needle in needles)
    ]


def lost_race(api_endpoint: str) -> WorkshopError:
    """The error for a pattern stage deployed before its routes existed (its deployment race)."""
    api_id = (urlsplit(api_endpoint).hostname or "").split(".", 1)[0]
    stage = urlsplit(api_endpoint).path.strip("/")
    return WorkshopError(
        "The pattern's stage lacks a route: CloudFormation created its Deployment before "
        "$connect (or $default's route response) existed, the deployment race of bug 4. "
        f"Deploy the API again, `aws apigatewayv2 create-deployment --api-id {api_id} "
        f"--stage-name {stage}` (or Deploy API in the console), then run this cell again."
    )


def pattern_item_of(
    dynamodb: Any, table_name: str, ws: websocket.WebSocket, api_endpoint: str
) -> dict[str, Any]:
    """The item the pattern's `$connect` wrote for `ws` (its echo tells the connection id).

    Raises `lost_race(api_endpoint)` when the echo does not answer or no item was written:
    what the pattern's deployment race looks like from a client.
    """
    try:
        connection_id = my_connection_id(ws)
    except WorkshopError:
        raise lost_race(api_endpoint) from None
    item = get_item(dynamodb, table_name, connection_id)
    if item is None:
        raise lost_race(api_endpoint)
    return item
