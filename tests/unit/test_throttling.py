"""Token buckets with a fake clock, and how a stage's route settings choose their limits."""

from __future__ import annotations

from local_aws import throttling
from local_aws.stage_settings import StageSettings
from local_aws.throttling import Limits, Throttles, TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


ACCOUNT = Limits(rate=10_000.0, burst=5_000)


def test_a_full_bucket_allows_its_burst_then_refuses() -> None:
    bucket = TokenBucket(Limits(rate=1.0, burst=3), now=0.0)
    assert [bucket.take(0.0) for _ in range(5)] == [True, True, True, False, False]


def test_tokens_come_back_at_the_rate_and_never_beyond_the_burst() -> None:
    bucket = TokenBucket(Limits(rate=2.0, burst=2), now=0.0)
    assert bucket.take(0.0) and bucket.take(0.0) and not bucket.take(0.0)
    assert not bucket.take(0.4)  # 0.8 of a token
    assert bucket.take(0.5)  # one token after half a second at 2 a second
    assert not bucket.take(0.5)
    # an hour idle refills to the burst only
    assert [bucket.take(3600.0) for _ in range(3)] == [True, True, False]


def test_a_burst_of_zero_refuses_everything() -> None:
    bucket = TokenBucket(Limits(rate=1000.0, burst=0), now=0.0)
    assert not bucket.take(0.0)
    assert not bucket.take(10.0)


def test_a_rate_of_zero_allows_the_burst_once() -> None:
    bucket = TokenBucket(Limits(rate=0.0, burst=1), now=0.0)
    assert bucket.take(0.0)
    assert not bucket.take(1_000_000.0)


def test_a_clock_that_goes_back_adds_no_tokens() -> None:
    bucket = TokenBucket(Limits(rate=1.0, burst=1), now=10.0)
    assert bucket.take(10.0)
    assert not bucket.take(5.0)
    assert not bucket.take(10.5)
    assert bucket.take(11.0)


def test_routes_have_buckets_of_their_own() -> None:
    clock = FakeClock()
    throttles = Throttles(clock)
    one = Limits(rate=1.0, burst=1)
    a = throttling.route_key("api", "dev", "a")
    b = throttling.route_key("api", "dev", "b")
    other_stage = throttling.route_key("api", "prod", "a")
    assert throttles.allow(a, one) and not throttles.allow(a, one)
    assert throttles.allow(b, one)
    assert throttles.allow(other_stage, one)
    clock.now += 1.0
    assert throttles.allow(a, one)


def test_a_stage_update_applies_to_the_existing_bucket() -> None:
    clock = FakeClock()
    throttles = Throttles(clock)
    key = throttling.route_key("api", "dev", "a")
    assert throttles.allow(key, Limits(rate=0.0, burst=5))
    assert not throttles.allow(key, Limits(rate=0.0, burst=0))  # lowered: nothing left
    assert len(throttles) == 1


def test_deleting_an_api_or_a_stage_drops_its_buckets_only() -> None:
    throttles = Throttles(FakeClock())
    for api, stage in [("a", "dev"), ("a", "prod"), ("b", "dev")]:
        throttles.allow(throttling.route_key(api, stage, "$default"), ACCOUNT)
    throttles.allow(throttling.connections_key("us-east-1"), ACCOUNT)
    throttles.forget("a", "dev")
    assert len(throttles) == 3
    throttles.forget("a")
    assert len(throttles) == 2  # b's route and the @connections bucket
    throttles.forget("b")
    assert len(throttles) == 1


def test_the_number_of_buckets_is_bounded(monkeypatch) -> None:
    monkeypatch.setattr(throttling, "MAX_BUCKETS", 3)
    clock = FakeClock()
    throttles = Throttles(clock)
    one = Limits(rate=0.0, burst=1)
    keys = [throttling.route_key("api", "dev", f"r{i}") for i in range(5)]
    for key in keys:
        assert throttles.allow(key, one)
    assert len(throttles) == 3
    # the oldest were dropped (a new, full bucket); the newest still remember their request
    assert throttles.allow(keys[0], one)
    assert not throttles.allow(keys[4], one)


def test_a_route_s_own_settings_win_over_the_default_field_by_field() -> None:
    stage = StageSettings(
        default={"throttlingBurstLimit": 10, "throttlingRateLimit": 5.0, "loggingLevel": "INFO"},
        by_route={"limited": {"throttlingBurstLimit": 1}},
    )
    limited = stage.route("limited")
    assert (limited.burst_limit, limited.rate_limit, limited.logging_level) == (1, 5.0, "INFO")
    other = stage.route("$default")
    assert (other.burst_limit, other.rate_limit) == (10, 5.0)


def test_unset_limits_are_the_account_s() -> None:
    settings = StageSettings().route("$default")
    assert throttling.route_limits(settings.burst_limit, settings.rate_limit, ACCOUNT) == ACCOUNT
    assert throttling.route_limits(2, None, ACCOUNT) == Limits(rate=10_000.0, burst=2)


def test_limits_written_as_text_are_read_and_nonsense_is_ignored() -> None:
    stage = StageSettings(
        default={"throttlingBurstLimit": "7", "throttlingRateLimit": "2.5"},
        by_route={"bad": {"throttlingBurstLimit": "many", "throttlingRateLimit": -1}},
    )
    assert (stage.route("x").burst_limit, stage.route("x").rate_limit) == (7, 2.5)
    # a value that is not a limit falls back to the default, as if unset
    assert (stage.route("bad").burst_limit, stage.route("bad").rate_limit) == (7, 2.5)
