"""The bound on AWS API request bodies (local_aws.request_bodies), on ASGI messages."""

from __future__ import annotations

import asyncio
from typing import Any

from local_aws import request_bodies


def _receiving(*messages: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
    """A `receive` giving these messages, and the list of those not yet taken."""
    left = list(messages)

    async def receive() -> dict[str, Any]:
        return left.pop(0)

    return receive, left


def _chunk(body: bytes, more: bool = True) -> dict[str, Any]:
    return {"type": "http.request", "body": body, "more_body": more}


def test_a_declared_length_over_the_bound_is_refused_without_reading_the_body() -> None:
    receive, left = _receiving(_chunk(b"x" * 10, more=False))
    bounded = asyncio.run(request_bodies.within(receive, {"content-length": "11"}, 10))
    assert bounded is None
    assert len(left) == 1  # nothing was read


def test_a_declared_length_within_the_bound_is_passed_on_as_it_comes() -> None:
    receive, left = _receiving(_chunk(b"x" * 10, more=False))
    bounded = asyncio.run(request_bodies.within(receive, {"content-length": "10"}, 10))
    assert bounded is receive
    assert len(left) == 1


def test_a_chunked_body_within_the_bound_is_handed_on_whole_in_one_message() -> None:
    receive, _ = _receiving(_chunk(b"abc"), _chunk(b"def"), _chunk(b"", more=False))

    async def run() -> list[dict[str, Any]]:
        bounded = await request_bodies.within(receive, {}, 6)
        assert bounded is not None
        return [await bounded()]

    assert asyncio.run(run()) == [_chunk(b"abcdef", more=False)]


def test_a_chunked_body_over_the_bound_is_refused_once_the_bound_is_passed() -> None:
    receive, left = _receiving(_chunk(b"abc"), _chunk(b"defg"), _chunk(b"h", more=False))
    assert asyncio.run(request_bodies.within(receive, {}, 6)) is None
    assert left == [_chunk(b"h", more=False)]  # not read on once over


def test_a_client_gone_mid_body_is_told_to_moto_not_a_cut_body() -> None:
    receive, _ = _receiving(_chunk(b"abc"), {"type": "http.disconnect"})

    async def run() -> dict[str, Any]:
        bounded = await request_bodies.within(receive, {}, 100)
        assert bounded is not None
        return await bounded()

    assert asyncio.run(run()) == {"type": "http.disconnect"}


def test_a_length_that_is_not_a_number_is_refused() -> None:
    receive, _ = _receiving()
    assert asyncio.run(request_bodies.within(receive, {"content-length": "-1"}, 10)) is None
