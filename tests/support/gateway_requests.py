"""Requests through the gateway, as unit tests of integrations build them (no server)."""

from __future__ import annotations

from typing import Any

from local_aws import events

CONNECTION_ID = "Xk1bVd0JoAMCJQg="
REQUEST_ID = "Yk1bVd0JoAMCJQg="


def a_request(
    event_type: str = "MESSAGE",
    route_key: str = "$default",
    body: str | None = "{}",
    **client: Any,
) -> events.Request:
    """A request of API `abc`, stage `api`, from one connection; `client` sets its fields."""
    fields: dict[str, Any] = {
        "connection_id": CONNECTION_ID,
        "api_id": "abc",
        "stage": "api",
        "domain_name": "abc.execute-api.localhost",
        "source_ip": "127.0.0.1",
        "user_agent": None,
        "connected_at": 0,
        **client,
    }
    return events.Request(events.Client(**fields), event_type, route_key, REQUEST_ID, 0, body=body)
