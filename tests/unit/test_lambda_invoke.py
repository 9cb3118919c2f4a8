"""lambda_invoke: moto's Invoke handed to the runtime on the event loop, bounded."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from moto.core.exceptions import JsonRESTError

from local_aws import lambda_invoke
from local_aws.lambda_worker_process import InvocationResult

FUNCTION = SimpleNamespace(
    function_name="fn",
    function_arn="arn:aws:lambda:us-east-1:123456789012:function:fn",
    handler="index.handler",
    run_time="python3.12",
    code_bytes=b"",
    code_sha_256="sha",
    environment_vars={},
    timeout=3,
    memory_size=128,
)


class Backend:
    def get_function(self, name: str, qualifier: str | None) -> Any:
        return FUNCTION


class HeldRuntime:
    """A runtime whose invocations end only when the test says so."""

    def __init__(self) -> None:
        self.release: asyncio.Event | None = None
        self.events: list[Any] = []

    async def invoke(self, function: Any, event: Any) -> InvocationResult:
        self.events.append(event)
        assert self.release is not None
        await self.release.wait()
        return InvocationResult("id", {"ok": event}, None, "START\nEND\n", 1.0)


@pytest.fixture
def bound() -> Iterator[tuple[HeldRuntime, asyncio.AbstractEventLoop]]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runtime = HeldRuntime()

    async def make_event() -> None:
        runtime.release = asyncio.Event()

    asyncio.run_coroutine_threadsafe(make_event(), loop).result()
    lambda_invoke.bind(runtime, loop, executor=None)  # type: ignore[arg-type]
    try:
        yield runtime, loop
    finally:
        lambda_invoke.unbind()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def invoke(kind: str, body: bytes = b"{}") -> tuple[Any, dict[str, str]]:
    headers: dict[str, str] = {"X-Amz-Invocation-Type": kind}
    response_headers: dict[str, str] = {}
    replacement = lambda_invoke.invoke_running_the_function(lambda *args: "moto's")
    payload = replacement(Backend(), "fn", None, body, headers, response_headers)
    return payload, response_headers


def test_unbound_it_is_motos_own_invoke() -> None:
    assert invoke("RequestResponse")[0] == "moto's"


def test_event_invocations_past_the_bound_are_refused_with_429(bound, monkeypatch) -> None:
    runtime, loop = bound
    monkeypatch.setattr(lambda_invoke, "MAX_PENDING_EVENTS", 3)
    for n in range(3):
        assert invoke("Event", json.dumps(n).encode())[0] == b""
    with pytest.raises(JsonRESTError) as raised:
        invoke("Event")
    assert raised.value.code == 429
    assert raised.value.error_type == "TooManyRequestsException"
    loop.call_soon_threadsafe(runtime.release.set)  # type: ignore[union-attr]
    # Once they are done, there is room again.
    assert wait_until_no_event_is_pending()
    assert invoke("Event")[0] == b""
    assert sorted(e for e in runtime.events if isinstance(e, int)) == [0, 1, 2]
    assert wait_until_no_event_is_pending()  # ends before the loop does


def wait_until_no_event_is_pending() -> bool:
    for _ in range(200):
        if lambda_invoke._binding.pending_events == 0:  # type: ignore[union-attr]
            return True
        threading.Event().wait(0.01)
    return False
