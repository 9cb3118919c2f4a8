"""DynamoDB Time to Live: delete items whose TTL attribute (epoch seconds) has passed.

moto stores the TTL setting but never expires anything (reference local-aws-building-blocks.md
§2.6). AWS deletes expired items lazily, typically within days; here a sweep runs every
`ttl_sweep_seconds`, so a lesson can show it happen.
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal, InvalidOperation
from typing import Any

from moto.dynamodb.models import dynamodb_backends

from local_aws import services

logger = logging.getLogger(__name__)

_FIVE_YEARS = 5 * 365 * 24 * 3600


def sweep(now: float | None = None) -> int:
    """Delete every expired item in every table with TTL enabled; return how many (blocking)."""
    now = time.time() if now is None else now
    deleted = 0
    with services.LOCK:
        for account_backends in list(dynamodb_backends.values()):
            for backend in list(account_backends.values()):
                for table in list(backend.tables.values()):
                    deleted += _sweep_table(backend, table, now)
    return deleted


def _sweep_table(backend: Any, table: Any, now: float) -> int:
    ttl = getattr(table, "ttl", {}) or {}
    if ttl.get("TimeToLiveStatus") != "ENABLED":
        return 0
    attribute = ttl["AttributeName"]
    key_names = [name for name in (table.hash_key_attr, table.range_key_attr) if name]
    expired = []
    for item in list(table.all_items()):
        value = item.attrs.get(attribute)
        # As on AWS, only a Number holding epoch seconds in the past expires an item.
        if value is None or value.type != "N":
            continue
        try:
            expires_at = Decimal(value.value)
        except InvalidOperation:
            continue
        # AWS also skips values more than five years in the past (likely not seconds).
        if Decimal(str(now - _FIVE_YEARS)) <= expires_at < Decimal(str(now)):
            expired.append({name: item.attrs[name].to_json() for name in key_names})
    for key in expired:
        backend.delete_item(table.name, key)
    if expired:
        logger.info("TTL deleted %d expired item(s) from %s", len(expired), table.name)
    return len(expired)
