"""Lesson text: why each resource of cfn/template.yaml exists, as the table in 01_deploy."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tutorial_helpers.template import TEMPLATE_PATH, load_template

RESOURCE_PURPOSES = {
    "SessionsTable": "one item per open connection; TTL deletes items whose `ttl` has passed",
    "SessionsTableAccessRole": "lets API Gateway call PutItem and DeleteItem on that table only",
    "WebSocketApi": "the WebSocket API; routes on the `action` field of JSON messages",
    "ConnectRoute": "$connect: runs during the handshake, before the connection exists",
    "ConnectIntegration": "writes the connection's item with PutItem (VTL template, no Lambda)",
    "ConnectIntegrationResponse": "accepts DynamoDB's 200 answer, so the handshake succeeds",
    "DisconnectRoute": "$disconnect: runs after a connection closed (best-effort)",
    "DisconnectIntegration": "deletes the connection's item with DeleteItem (VTL template)",
    "DisconnectIntegrationResponse": "accepts DynamoDB's 200 answer",
    "DefaultRoute": "$default: every message that no other route matches",
    "DefaultRouteResponse": "makes $default two-way: the Lambda's `body` goes back to the client",
    "DefaultIntegration": "hands the message to the echo Lambda as a proxy event",
    "DefaultRouteFunction": "the echo Lambda: returns the event it received",
    "DefaultRouteFunctionLogGroup": "the Lambda's logs, kept 7 days and deleted with the stack",
    "DefaultRouteFunctionRole": "lets the Lambda write its logs, nothing else",
    "DefaultRouteFunctionPermission": "lets this API (and only this API) invoke the Lambda",
    "Deployment": "a snapshot of the routes, taken after all of them exist",
    "Stage": "publishes the deployment at .../api, the URL clients connect to",
}


def template_resources(path: Path = TEMPLATE_PATH) -> pd.DataFrame:
    """One row per resource of the template: logical id, type and why it is there."""
    resources = load_template(path)["Resources"]
    rows = [
        {
            "logical id": logical_id,
            "type": resource["Type"],
            "why": RESOURCE_PURPOSES.get(logical_id, ""),
        }
        for logical_id, resource in resources.items()
    ]
    return pd.DataFrame(rows)
