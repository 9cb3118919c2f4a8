"""DynamoDB Time to Live on the workshop's table (reference §1.6 B1, B8).

The session's local_aws sweeps every 0.5 s (`--ttl-sweep-seconds 0.5`). As on AWS, only a
Number holding epoch seconds in the past (and no more than five years in the past) expires
an item; AWS does it within days, local_aws within a sweep.
"""

from __future__ import annotations

import time
import uuid

from tests.support import wait_for
from tests.support.clients import connect, get_item, whoami

YEAR = 365 * 24 * 3600


def put(local_aws, table: str, ttl: dict | None) -> str:
    key = f"ttl-{uuid.uuid4().hex[:12]}"
    item = {"connectionid": {"S": key}}
    if ttl is not None:
        item["ttl"] = ttl
    local_aws.client("dynamodb").put_item(TableName=table, Item=item)
    return key


def wait_for_a_later_sweep(local_aws, table: str) -> None:
    """Return once a whole sweep has run after this call.

    A sweep holds moto's lock and reads one clock for every table: the sweep that deletes
    this fresh, expired marker also saw everything written before it.
    """
    marker = put(local_aws, table, {"N": str(int(time.time()) - 60)})
    wait_for(lambda: get_item(local_aws, table, marker) is None, message="no sweep ran")


def test_sweep_deletes_only_items_whose_epoch_seconds_have_passed(local_aws, workshop) -> None:
    table = workshop["SessionsTableName"]
    now = time.time()
    now_ms = int(now * 1000)
    expired = put(local_aws, table, {"N": str(int(now) - 60)})
    expired_fraction = put(local_aws, table, {"N": f"{now - 30:.3f}"})
    kept = {
        "far future": put(local_aws, table, {"N": str(int(now) + 10 * YEAR)}),
        "24 h ahead": put(local_aws, table, {"N": str(int(now) + 86400)}),
        # B1, the seed pattern's bug: milliseconds + 86400, read as seconds ~ year 55000.
        "milliseconds + 86400": put(local_aws, table, {"N": str(now_ms + 86400)}),
        "milliseconds in the past": put(local_aws, table, {"N": str(now_ms - 60_000)}),
        "more than five years ago": put(local_aws, table, {"N": str(int(now) - 6 * YEAR)}),
        "a string": put(local_aws, table, {"S": str(int(now) - 60)}),
        "a number set": put(local_aws, table, {"NS": [str(int(now) - 60)]}),
        "a list": put(local_aws, table, {"L": [{"N": str(int(now) - 60)}]}),
        "no ttl": put(local_aws, table, None),
    }
    started = time.monotonic()
    wait_for(
        lambda: (
            get_item(local_aws, table, expired) is None
            and get_item(local_aws, table, expired_fraction) is None
        ),
        message="the expired items were not deleted",
    )
    print(f"expired items deleted after {time.monotonic() - started:.2f} s")
    wait_for_a_later_sweep(local_aws, table)
    wait_for_a_later_sweep(local_aws, table)
    survivors = {name: get_item(local_aws, table, key) is not None for name, key in kept.items()}
    assert survivors == dict.fromkeys(kept, True)


def test_sweep_ignores_tables_without_ttl(local_aws, lambda_api, workshop) -> None:
    """The Events table has no TimeToLiveSpecification: its `ttl` attribute means nothing."""
    table = lambda_api["EventsTableName"]
    key = {"connectionid": {"S": f"ttl-{uuid.uuid4().hex}"}, "eventType": {"S": "TTL"}}
    item = {**key, "ttl": {"N": str(int(time.time()) - 60)}}
    dynamodb = local_aws.client("dynamodb")
    dynamodb.put_item(TableName=table, Item=item)
    wait_for_a_later_sweep(local_aws, workshop["SessionsTableName"])
    assert dynamodb.get_item(TableName=table, Key=key).get("Item") == item


def test_items_written_by_connect_carry_a_ttl_one_day_ahead_in_seconds(local_aws, workshop):
    """The workshop template fixes B1: ttl = requestTimeEpoch / 1000 + 86400."""
    ws = connect(workshop["WebSocketURL"])
    try:
        item = wait_for(lambda: get_item(local_aws, workshop["SessionsTableName"], whoami(ws)))
    finally:
        ws.close()
    ttl = int(item["ttl"]["N"])
    assert abs(ttl - (time.time() + 86400)) < 60
    # Exact: local_aws's CONNECT requestTimeEpoch is connectedAt (AWS's may be 1 ms later).
    assert ttl == int(item["connectedAt"]["N"]) // 1000 + 86400
