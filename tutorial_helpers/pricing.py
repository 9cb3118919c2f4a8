"""What a WebSocket API costs: connection minutes and messages, metered in 32 KB increments.

API Gateway bills a WebSocket API for two things (Lambda, DynamoDB and data transfer are
billed apart): the minutes clients stay connected, and the messages sent and received, each
counted once per started 32 KB. The prices are parameters (`Prices`): the defaults are
us-east-1's, with the date they are from; check them on the pricing page before relying on
them, and pass your own for another region or a later price list.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

PRICING_PAGE = "https://aws.amazon.com/api-gateway/pricing/"
METERING_BYTES = 32 * 1024  # a message is billed once per started 32 KB
FIRST_TIER_MESSAGES = 1_000_000_000  # messages a month at the first-tier price


@dataclass(frozen=True)
class Prices:
    """WebSocket API prices in USD, and where and when they were read."""

    per_million_messages: float = 1.00  # the first billion messages of a month
    per_million_messages_after_first_billion: float = 0.80
    per_million_connection_minutes: float = 0.25
    region: str = "us-east-1"
    as_of: str = "2024 (check the page: prices change)"
    source: str = PRICING_PAGE


US_EAST_1 = Prices()


def billed_messages(size_bytes: int) -> int:
    """How many messages one message of `size_bytes` is billed as: one per started 32 KB.

    An empty message still counts as one.
    """
    if size_bytes < 0:
        raise ValueError(f"a message cannot have {size_bytes} bytes")
    return max(1, math.ceil(size_bytes / METERING_BYTES))


@dataclass(frozen=True)
class Workload:
    """A month of use: how many clients, how long each stays connected, what they send.

    `messages` counts both directions (client to API and API, or `@connections`, to client),
    each of `message_bytes` bytes.
    """

    name: str
    connections: int
    minutes_per_connection: float
    messages: int
    message_bytes: int = 1024


def monthly_cost(workload: Workload, prices: Prices = US_EAST_1) -> dict[str, float | str]:
    """The workload's API Gateway bill for a month: its metered units and their cost in USD.

    Lambda, DynamoDB, data transfer and the free tier are left out.
    """
    connection_minutes = workload.connections * workload.minutes_per_connection
    billed = workload.messages * billed_messages(workload.message_bytes)
    first_tier = min(billed, FIRST_TIER_MESSAGES)
    message_cost = (
        first_tier * prices.per_million_messages
        + (billed - first_tier) * prices.per_million_messages_after_first_billion
    ) / 1e6
    minutes_cost = connection_minutes * prices.per_million_connection_minutes / 1e6
    return {
        "workload": workload.name,
        "connection minutes": connection_minutes,
        "billed messages": billed,
        "connection cost ($)": round(minutes_cost, 6),
        "message cost ($)": round(message_cost, 6),
        "total ($)": round(minutes_cost + message_cost, 6),
    }


def cost_table(workloads: Iterable[Workload], prices: Prices = US_EAST_1) -> pd.DataFrame:
    """One row per workload: `monthly_cost` of each, indexed by its name."""
    return pd.DataFrame([monthly_cost(workload, prices) for workload in workloads]).set_index(
        "workload"
    )
