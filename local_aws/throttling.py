"""Throttling: API Gateway's token buckets, one per route of each deployed stage.

"API Gateway throttles requests to your API using the token bucket algorithm, where a token
counts for a request" [doc `websocket-api-protect`]: a bucket holds at most `burst` tokens,
refills at `rate` tokens a second, and a request that finds it empty is refused with 429.
A stage's `ThrottlingBurstLimit`/`ThrottlingRateLimit` (per route, else its default route
settings) set the bucket of each route; with neither, the account's limits apply (10,000
requests a second, a burst of 5,000 [doc: "Amazon API Gateway quotas"]). `@connections`
calls draw on one bucket per region (`Settings.connections_rate_limit`).

Pure: the clock is handed in, so the arithmetic is tested without sleeping. Memory is
bounded: one bucket per (API, stage, route) that received a request, dropped when the API
or stage is deleted, and never more than MAX_BUCKETS (the least recently used go first).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_BUCKETS = 10_000  # 300 routes × 10 stages per API is AWS's quota; this covers 3 such APIs


@dataclass(frozen=True)
class Limits:
    """A steady rate (tokens a second) and a burst (the bucket's capacity)."""

    rate: float
    burst: int


class TokenBucket:
    """Starts full; each request takes one token; tokens come back at `rate` a second."""

    def __init__(self, limits: Limits, now: float) -> None:
        self.limits = limits
        self._tokens = float(limits.burst)
        self._updated = now

    def take(self, now: float) -> bool:
        """Take one token at time `now` (seconds); False if the bucket is empty."""
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(float(self.limits.burst), self._tokens + elapsed * self.limits.rate)
        self._updated = max(self._updated, now)  # a clock that goes back adds nothing later
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def reconfigure(self, limits: Limits) -> None:
        """New limits (a stage update): the tokens held are kept, within the new burst."""
        self.limits = limits
        self._tokens = min(self._tokens, float(limits.burst))


BucketKey = tuple[str, ...]


class Throttles:
    """The buckets of every route and account; callable from any thread."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: OrderedDict[BucketKey, TokenBucket] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, key: BucketKey, limits: Limits) -> bool:
        """Whether one more request fits `key`'s bucket now (which it then takes)."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= MAX_BUCKETS:
                    self._buckets.popitem(last=False)
                bucket = self._buckets[key] = TokenBucket(limits, now)
            else:
                self._buckets.move_to_end(key)
                if bucket.limits != limits:
                    bucket.reconfigure(limits)
            return bucket.take(now)

    def forget(self, api_id: str, stage: str | None = None) -> None:
        """Drop the buckets of an API's routes (of one stage, if given): it was deleted."""
        with self._lock:
            for key in [k for k in self._buckets if _belongs(k, api_id, stage)]:
                del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)


def route_key(api_id: str, stage: str, route: str) -> BucketKey:
    """The bucket of one route of one stage."""
    return ("route", api_id, stage, route)


def connections_key(region: str) -> BucketKey:
    """The bucket of the `@connections` calls made in a region (by any of its APIs)."""
    return ("connections", region)


def route_limits(burst: int | None, rate: float | None, account: Limits) -> Limits:
    """A route's limits: its settings where set, the account's where not."""
    return Limits(
        rate=account.rate if rate is None else rate,
        burst=account.burst if burst is None else burst,
    )


def _belongs(key: BucketKey, api_id: str, stage: str | None) -> bool:
    return key[0] == "route" and key[1] == api_id and stage in (None, key[2])
