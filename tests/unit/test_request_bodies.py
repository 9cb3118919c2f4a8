"""The bounds on AWS API request bodies (local_aws.request_bodies), on ASGI messages."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from local_aws.request_bodies import Admitted, Bodies, Refused


def _receiving(*messages: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
    """A `receive` giving these messages, and the list of those not yet taken."""
    left = list(messages)

    async def receive() -> dict[str, Any]:
        return left.pop(0)

    return receive, left


def _chunk(body: bytes, more: bool = True) -> dict[str, Any]:
    return {"type": "http.request", "body": body, "more_body": more}


def _admit(bodies: Bodies, receive: Any, headers: dict[str, str]) -> Admitted | Refused:
    return asyncio.run(bodies.admit(receive, headers))


def test_a_declared_length_over_the_bound_is_refused_without_reading_the_body() -> None:
    receive, left = _receiving(_chunk(b"x" * 10, more=False))
    refused = _admit(Bodies(10, 100), receive, {"content-length": "11"})
    assert isinstance(refused, Refused) and refused.status == 413
    assert b"RequestEntityTooLargeException" in refused.body
    assert len(left) == 1  # nothing was read


def test_a_declared_length_within_the_bound_is_passed_on_as_it_comes() -> None:
    receive, left = _receiving(_chunk(b"x" * 10, more=False))
    bodies = Bodies(10, 100)
    admitted = _admit(bodies, receive, {"content-length": "10"})
    assert isinstance(admitted, Admitted) and admitted.receive is receive
    assert len(left) == 1
    assert bodies.held == 10
    bodies.release(admitted)
    assert bodies.held == 0


def test_a_chunked_body_within_the_bound_is_handed_on_whole_in_one_message() -> None:
    receive, _ = _receiving(_chunk(b"abc"), _chunk(b"def"), _chunk(b"", more=False))

    async def run() -> list[dict[str, Any]]:
        admitted = await Bodies(6, 100).admit(receive, {})
        assert isinstance(admitted, Admitted)
        return [await admitted.receive()]

    assert asyncio.run(run()) == [_chunk(b"abcdef", more=False)]


def test_a_chunked_body_over_the_bound_is_refused_once_the_bound_is_passed() -> None:
    receive, left = _receiving(_chunk(b"abc"), _chunk(b"defg"), _chunk(b"h", more=False))
    bodies = Bodies(6, 100)
    refused = _admit(bodies, receive, {})
    assert isinstance(refused, Refused) and refused.status == 413
    assert left == [_chunk(b"h", more=False)]  # not read on once over
    assert bodies.held == 0


def test_a_client_gone_mid_body_is_told_to_moto_not_a_cut_body() -> None:
    receive, _ = _receiving(_chunk(b"abc"), {"type": "http.disconnect"})

    async def run() -> dict[str, Any]:
        admitted = await Bodies(100, 100).admit(receive, {})
        assert isinstance(admitted, Admitted)
        return await admitted.receive()

    assert asyncio.run(run()) == {"type": "http.disconnect"}


def test_a_length_that_is_not_a_number_is_refused() -> None:
    receive, _ = _receiving()
    refused = _admit(Bodies(10, 100), receive, {"content-length": "-1"})
    assert isinstance(refused, Refused) and refused.status == 413


def test_bodies_past_the_total_are_503_until_the_ones_held_are_released() -> None:
    # Each body within the bound of 6, but 10 bytes at once at most: a declared length and
    # a chunked body that would pass the total are refused with 503 (the SDKs retry it),
    # and taken once the body held is released; a refused chunked body holds nothing.
    bodies = Bodies(6, 10)
    first = _admit(bodies, _receiving()[0], {"content-length": "6"})
    assert isinstance(first, Admitted)
    busy = _admit(bodies, _receiving()[0], {"content-length": "5"})
    assert isinstance(busy, Refused) and busy.status == 503
    assert b"SlowDown" in busy.body and b"10 bytes" in busy.body
    chunked, left = _receiving(_chunk(b"abc"), _chunk(b"de"), _chunk(b"", more=False))
    busy = _admit(bodies, chunked, {})
    assert isinstance(busy, Refused) and busy.status == 503
    assert left == [_chunk(b"", more=False)]  # not read on once over
    assert bodies.held == 6
    bodies.release(first)
    again = _admit(bodies, _receiving()[0], {"content-length": "5"})
    assert isinstance(again, Admitted) and bodies.held == 5


def test_a_body_whose_reading_is_cancelled_holds_nothing_of_the_total() -> None:
    bodies = Bodies(limit=10, total=10)
    gate = asyncio.Event()
    first = [True]

    async def receive() -> dict[str, Any]:
        if first:
            first.pop()
            return {"type": "http.request", "body": b"abcdef", "more_body": True}
        await gate.wait()  # the rest never comes
        return {"type": "http.request", "body": b"", "more_body": False}

    async def run() -> int:
        reading = asyncio.create_task(bodies.admit(receive, {}))
        await asyncio.sleep(0.01)
        assert bodies.held == 6
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
        return bodies.held

    assert asyncio.run(run()) == 0
