"""Waiting with a deadline instead of sleeping for a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 10.0,
    message: str = "the condition never held",
    interval: float = 0.05,
) -> T:
    """Poll `predicate` until it returns something truthy, and return that.

    Fails the test with `message` if `timeout` seconds pass first. The default timeout is
    generous: it is only spent when something is wrong, and a loaded machine is slow.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} (within {timeout} s; last value {value!r})")
        time.sleep(interval)
