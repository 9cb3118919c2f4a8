"""DynamoDB Time to Live: `sweep(now)` deletes exactly the items AWS would expire.

Tables live in an in-process moto; `now` is fixed so every item's fate is known.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_aws import ttl

NOW = 1_800_000_000.0  # a fixed "now", epoch seconds
FIVE_YEARS = 5 * 365 * 24 * 3600


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


def _table(
    client: Any, name: str, ttl_attribute: str | None = "expiresAt", range_key: bool = False
) -> None:
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attributes = [{"AttributeName": "pk", "AttributeType": "S"}]
    if range_key:
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
        attributes.append({"AttributeName": "sk", "AttributeType": "N"})
    client.create_table(
        TableName=name,
        KeySchema=keys,
        AttributeDefinitions=attributes,
        BillingMode="PAY_PER_REQUEST",
    )
    if ttl_attribute is not None:
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute},
        )


def _put(client: Any, table: str, pk: str, **attributes: dict[str, Any]) -> None:
    client.put_item(TableName=table, Item={"pk": {"S": pk}, **attributes})


def _keys(client: Any, table: str) -> set[str]:
    items = client.scan(TableName=table)["Items"]
    return {item["pk"]["S"] for item in items}


def _n(value: float) -> dict[str, str]:
    return {"N": repr(value) if isinstance(value, float) else str(value)}


def test_only_items_whose_time_has_passed_are_deleted(dynamodb: Any) -> None:
    _table(dynamodb, "Connections")
    _put(dynamodb, "Connections", "expired", expiresAt=_n(int(NOW) - 10))
    _put(dynamodb, "Connections", "just-expired", expiresAt=_n(NOW - 0.5))
    _put(dynamodb, "Connections", "future", expiresAt=_n(int(NOW) + 10))
    _put(dynamodb, "Connections", "right-now", expiresAt=_n(int(NOW)))  # not yet past
    _put(dynamodb, "Connections", "no-ttl", other=_n(0))
    assert ttl.sweep(now=NOW) == 2
    assert _keys(dynamodb, "Connections") == {"future", "right-now", "no-ttl"}


def test_only_numbers_expire_an_item(dynamodb: Any) -> None:
    _table(dynamodb, "Connections")
    past = str(int(NOW) - 10)
    _put(dynamodb, "Connections", "string", expiresAt={"S": past})
    _put(dynamodb, "Connections", "number-set", expiresAt={"NS": [past]})
    _put(dynamodb, "Connections", "list", expiresAt={"L": [{"N": past}]})
    _put(dynamodb, "Connections", "bool", expiresAt={"BOOL": True})
    _put(dynamodb, "Connections", "number", expiresAt={"N": past})
    assert ttl.sweep(now=NOW) == 1
    assert _keys(dynamodb, "Connections") == {"string", "number-set", "list", "bool"}


def test_values_more_than_five_years_old_are_not_expired(dynamodb: Any) -> None:
    """AWS skips them: they are likely not epoch seconds (e.g. days, or a small counter)."""
    _table(dynamodb, "Connections")
    _put(dynamodb, "Connections", "ancient", expiresAt=_n(int(NOW) - FIVE_YEARS - 1))
    _put(dynamodb, "Connections", "zero", expiresAt=_n(0))
    _put(dynamodb, "Connections", "negative", expiresAt=_n(-5))
    _put(dynamodb, "Connections", "five-years", expiresAt=_n(int(NOW) - FIVE_YEARS))
    _put(dynamodb, "Connections", "milliseconds", expiresAt=_n(int(NOW * 1000)))
    assert ttl.sweep(now=NOW) == 1
    assert _keys(dynamodb, "Connections") == {"ancient", "zero", "negative", "milliseconds"}


def test_tables_without_ttl_enabled_are_untouched(dynamodb: Any) -> None:
    _table(dynamodb, "NoTtl", ttl_attribute=None)
    _table(dynamodb, "Disabled")
    dynamodb.update_time_to_live(
        TableName="Disabled",
        TimeToLiveSpecification={"Enabled": False, "AttributeName": "expiresAt"},
    )
    for table in ("NoTtl", "Disabled"):
        _put(dynamodb, table, "expired", expiresAt=_n(int(NOW) - 10))
    assert ttl.sweep(now=NOW) == 0
    assert _keys(dynamodb, "NoTtl") == {"expired"}
    assert _keys(dynamodb, "Disabled") == {"expired"}


def test_the_tables_own_ttl_attribute_is_the_one_read(dynamodb: Any) -> None:
    _table(dynamodb, "Sessions", ttl_attribute="ttl")
    _put(dynamodb, "Sessions", "by-ttl", ttl=_n(int(NOW) - 10))
    _put(dynamodb, "Sessions", "by-other-name", expiresAt=_n(int(NOW) - 10))
    assert ttl.sweep(now=NOW) == 1
    assert _keys(dynamodb, "Sessions") == {"by-other-name"}


def test_items_of_a_table_with_a_sort_key_are_deleted_by_their_full_key(dynamodb: Any) -> None:
    _table(dynamodb, "Messages", range_key=True)
    for sort_key, expires_at in ((1, int(NOW) - 10), (2, int(NOW) + 10), (3, int(NOW) - 20)):
        _put(dynamodb, "Messages", "room", sk=_n(sort_key), expiresAt=_n(expires_at))
    assert ttl.sweep(now=NOW) == 2
    items = dynamodb.scan(TableName="Messages")["Items"]
    assert [item["sk"]["N"] for item in items] == ["2"]


def test_fractions_of_a_second_are_compared_exactly(dynamodb: Any) -> None:
    _table(dynamodb, "Connections")
    _put(dynamodb, "Connections", "half-past", expiresAt={"N": "1800000000.5"})
    _put(dynamodb, "Connections", "quarter-past", expiresAt={"N": "1800000000.25"})
    assert ttl.sweep(now=NOW + 0.3) == 1
    assert _keys(dynamodb, "Connections") == {"half-past"}


def test_every_table_in_every_region_and_account_is_swept(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _table(dynamodb, "East")
    west = boto3.client("dynamodb", region_name="eu-west-1")
    _table(west, "West")
    _put(dynamodb, "East", "expired", expiresAt=_n(int(NOW) - 10))
    _put(west, "West", "expired", expiresAt=_n(int(NOW) - 10))
    _put(west, "West", "kept", expiresAt=_n(int(NOW) + 10))
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "111111111111")
    _table(dynamodb, "OtherAccount")
    _put(dynamodb, "OtherAccount", "expired", expiresAt=_n(int(NOW) - 10))
    assert _keys(dynamodb, "OtherAccount") == {"expired"}
    assert ttl.sweep(now=NOW) == 3
    assert _keys(dynamodb, "OtherAccount") == set()
    monkeypatch.delenv("MOTO_ACCOUNT_ID")
    assert _keys(dynamodb, "East") == set()
    assert _keys(west, "West") == {"kept"}


def test_a_second_sweep_finds_nothing_left_and_a_later_one_finds_more(dynamodb: Any) -> None:
    _table(dynamodb, "Connections")
    _put(dynamodb, "Connections", "first", expiresAt=_n(int(NOW) - 10))
    _put(dynamodb, "Connections", "second", expiresAt=_n(int(NOW) + 10))
    assert ttl.sweep(now=NOW) == 1
    assert ttl.sweep(now=NOW) == 0
    assert ttl.sweep(now=NOW + 11) == 1
    assert _keys(dynamodb, "Connections") == set()


def test_without_now_the_clock_is_used(dynamodb: Any) -> None:
    now = int(time.time())
    _table(dynamodb, "Connections")
    _put(dynamodb, "Connections", "a-minute-ago", expiresAt=_n(now - 60))
    _put(dynamodb, "Connections", "in-an-hour", expiresAt=_n(now + 3600))
    _put(dynamodb, "Connections", "long-ago", expiresAt=_n(now - FIVE_YEARS - 3600))
    assert ttl.sweep() == 1
    assert _keys(dynamodb, "Connections") == {"in-an-hour", "long-ago"}
