"""DynamoDB items as pandas tables, and the reads the lessons make on the sessions table.

Low-level DynamoDB calls return typed values (`{"S": "x"}`, `{"N": "42"}`, `{"M": {...}}`);
`items_to_dataframe` turns them into plain Python with boto3's `TypeDeserializer` and flattens
maps into columns named like `querystring.name`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pandas as pd
from boto3.dynamodb.types import TypeDeserializer

_DESERIALIZER = TypeDeserializer()
KEY = "connectionid"


def plain(value: Any) -> Any:
    """A deserialised value made plain: whole Decimals become int, others float, sets lists."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: plain(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [plain(inner) for inner in value]
    if isinstance(value, set | frozenset):
        return sorted(plain(inner) for inner in value)
    return value


def deserialize(item: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A DynamoDB item (`{"ttl": {"N": "1"}}`) as plain Python (`{"ttl": 1}`)."""
    return {name: plain(_DESERIALIZER.deserialize(value)) for name, value in item.items()}


def flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested maps as dotted columns: `{"querystring": {"name": "Ada"}}` → `querystring.name`."""
    flat: dict[str, Any] = {}
    for name, value in record.items():
        column = f"{prefix}{name}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{column}."))
        else:
            flat[column] = value
    return flat


def items_to_dataframe(
    items: list[dict[str, dict[str, Any]]], *, readable_times: bool = True
) -> pd.DataFrame:
    """Low-level DynamoDB items as a DataFrame: one row per item, maps flattened to columns.

    With `readable_times`, a `ttl` column (epoch seconds) gets a neighbour `ttl (UTC)` and a
    `connectedAt` column (epoch milliseconds) a neighbour `connectedAt (UTC)`. Rows are sorted
    by `connectionid` when present, so the order does not depend on the scan.
    """
    frame = pd.DataFrame([flatten(deserialize(item)) for item in items])
    if KEY in frame.columns:
        frame = frame.sort_values(KEY, ignore_index=True)
        frame = frame[[KEY, *[column for column in frame.columns if column != KEY]]]
    if readable_times:
        for column, unit in (("ttl", "s"), ("connectedAt", "ms")):
            if column in frame.columns:
                readable = pd.to_datetime(frame[column], unit=unit, utc=True, errors="coerce")
                readable = readable.dt.floor("s")
                frame.insert(frame.columns.get_loc(column) + 1, f"{column} (UTC)", readable)
    return frame


def get_item(dynamodb: Any, table_name: str, connection_id: str) -> dict[str, Any] | None:
    """The item of one connection (low-level form), or None if there is none."""
    key = {KEY: {"S": connection_id}}
    return dynamodb.get_item(TableName=table_name, Key=key, ConsistentRead=True).get("Item")


def scan_items(dynamodb: Any, table_name: str, **scan_arguments: Any) -> list[dict[str, Any]]:
    """Every item of the table (all pages of `scan`), low-level form."""
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table_name, **scan_arguments):
        items.extend(page["Items"])
    return items


def wait_until(condition: Callable[[], bool], timeout: float = 10.0, interval: float = 0.1) -> bool:
    """Call `condition` until it is true or `timeout` seconds passed; return its last answer.

    Useful because `$disconnect` runs asynchronously after a connection closes.
    """
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def wait_until_item_gone(
    dynamodb: Any, table_name: str, connection_id: str, timeout: float = 10.0
) -> bool:
    """True once the connection's item is gone (within `timeout` seconds), else False."""
    return wait_until(lambda: get_item(dynamodb, table_name, connection_id) is None, timeout)
