"""The `@connections` management API: push to, inspect and close connections from the backend.

Its endpoint is the stage's WebSocket URL with `wss://` → `https://` (`ws://` → `http://`
locally). Unknown or closed connection ids raise `GoneException` (HTTP 410).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pandas as pd

from tutorial_helpers.tables import KEY, scan_items
from tutorial_helpers.target import Target


def management_endpoint(websocket_url: str) -> str:
    """`wss://x/api` → `https://x/api` and `ws://x/api` → `http://x/api`."""
    for websocket_scheme, http_scheme in (("wss://", "https://"), ("ws://", "http://")):
        if websocket_url.startswith(websocket_scheme):
            return http_scheme + websocket_url[len(websocket_scheme) :]
    raise ValueError(f"not a WebSocket URL: {websocket_url!r}")


def management_client(target: Target, websocket_url: str) -> Any:
    """A boto3 `apigatewaymanagementapi` client for the stage behind `websocket_url`."""
    return target.client("apigatewaymanagementapi", endpoint_url=management_endpoint(websocket_url))


def connection_info(client: Any, connection_id: str) -> dict[str, Any]:
    """`get_connection` as a flat dict, times in UTC (raises `GoneException` if closed)."""
    answer = client.get_connection(ConnectionId=connection_id)
    identity = answer.get("Identity", {})
    return {
        "connectedAt (UTC)": answer["ConnectedAt"].astimezone(UTC).replace(microsecond=0),
        "lastActiveAt (UTC)": answer["LastActiveAt"].astimezone(UTC).replace(microsecond=0),
        "sourceIp": identity.get("SourceIp"),
        "userAgent": identity.get("UserAgent"),
    }


def post(client: Any, connection_id: str, text: str) -> None:
    """Send `text` to one connection (raises `GoneException` if it is closed)."""
    client.post_to_connection(ConnectionId=connection_id, Data=text.encode("utf-8"))


def broadcast(target: Target, websocket_url: str, table_name: str, text: str) -> pd.DataFrame:
    """Send `text` to every connection in the table; delete the items of gone connections.

    The standard pattern: scan the ids, post to each, and on `GoneException` delete that
    (stale) item, because its connection closed without `$disconnect` removing it. Returns
    one row per id: `delivered` or `gone: item deleted`, sorted by id.
    """
    dynamodb = target.client("dynamodb")
    client = management_client(target, websocket_url)
    items = scan_items(dynamodb, table_name, ProjectionExpression=KEY)
    results = []
    for connection_id in sorted(item[KEY]["S"] for item in items):
        try:
            post(client, connection_id, text)
            result = "delivered"
        except client.exceptions.GoneException:
            dynamodb.delete_item(TableName=table_name, Key={KEY: {"S": connection_id}})
            result = "gone: item deleted"
        results.append({KEY: connection_id, "result": result})
    return pd.DataFrame(results, columns=[KEY, "result"])
