"""The HTTP requests of HTTP and HTTP_PROXY integrations: only loopback backends (or hosts
the user allowed), never local_aws's own port, no redirects, a bounded answer, cancellable.

Every request goes to a backend on 127.0.0.1 the test starts; the refused targets are never
connected to (TEST-NET addresses, which reach nothing).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator

import pytest

from local_aws import http_calls
from local_aws.http_calls import Failed, HttpClient, HttpRequest, Refused
from tests.support.backends import Backend
from tests.support.waiting import wait_for

OWN_PORT = 4566


@pytest.fixture
def backend() -> Iterator[Backend]:
    with Backend() as running:
        yield running


def send(client: HttpClient, request: HttpRequest, timeout: float = 10.0) -> http_calls.HttpAnswer:
    async def call() -> http_calls.HttpAnswer:
        async with asyncio.timeout(timeout):
            return await client.send(request)

    return asyncio.run(call())


def test_a_loopback_backend_gets_the_method_path_headers_and_body(backend: Backend) -> None:
    client = HttpClient((), OWN_PORT)
    request = HttpRequest(
        "PUT", backend.url("/echo?a=1"), (("X-Conn", "abc"), ("Host", "evil")), b'{"x": 1}'
    )
    answer = send(client, request)
    assert answer.status == 200
    received = json.loads(answer.text)
    assert (received["method"], received["path"], received["query"]) == ("PUT", "/echo", {"a": "1"})
    assert received["body"] == '{"x": 1}'
    assert received["headers"]["X-Conn"] == "abc"
    # local_aws writes Host itself: a header mapped from a template cannot change it.
    assert received["headers"]["Host"] == f"127.0.0.1:{backend.port}"


def test_localhost_is_loopback(backend: Backend) -> None:
    answer = send(
        HttpClient((), OWN_PORT), HttpRequest("GET", f"http://localhost:{backend.port}/status/201")
    )
    assert answer.status == 201


@pytest.mark.parametrize(
    "url",
    [
        "http://192.0.2.10/hook",  # TEST-NET-1
        "https://198.51.100.7:8443/x",
        "http://[2001:db8::1]/x",
    ],
)
def test_a_host_off_this_machine_is_refused_without_the_flag(url: str) -> None:
    with pytest.raises(Refused, match="--http-integration-host"):
        send(HttpClient((), OWN_PORT), HttpRequest("POST", url))


def test_a_host_the_user_allowed_may_be_called() -> None:
    client = HttpClient(("192.0.2.10",), OWN_PORT)
    target = asyncio.run(client.resolve("http://192.0.2.10:8080/hook?x=1"))
    assert (target.addresses, target.port, target.target) == (("192.0.2.10",), 8080, "/hook?x=1")
    with pytest.raises(Refused):  # another host is still refused
        asyncio.run(client.resolve("http://192.0.2.11/hook"))


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "127.1.2.3", "[::1]", "0.0.0.0", "[::ffff:127.0.0.1]", "LOCALHOST"],
)
def test_local_aws_own_port_is_refused_on_every_loopback_spelling(host: str) -> None:
    client = HttpClient(("localhost",), OWN_PORT)  # allowing a name does not allow the loop
    with pytest.raises(Refused, match="local_aws itself"):
        send(client, HttpRequest("POST", f"http://{host}:{OWN_PORT}/"))


@pytest.mark.parametrize(
    "url", ["file:///etc/hosts", "ftp://127.0.0.1/x", "gopher://127.0.0.1:70/", "127.0.0.1:80", ""]
)
def test_only_http_and_https_urls_are_called(url: str) -> None:
    with pytest.raises(Refused, match="http:// or https://"):
        send(HttpClient((), OWN_PORT), HttpRequest("GET", url))


def test_a_redirect_is_not_followed(backend: Backend) -> None:
    with Backend() as other:
        url = backend.url(f"/redirect?to={other.url('/echo')}")
        answer = send(HttpClient((), OWN_PORT), HttpRequest("POST", url))
        assert answer.status == 302
        assert dict(answer.headers)[
            "location"
        ]  # h11 gives names in lower case == other.url("/echo")
        assert other.received == []


def test_an_answer_over_10_mb_fails_and_is_not_read_further(backend: Backend) -> None:
    with pytest.raises(Failed, match="over 10485760 bytes"):
        send(HttpClient((), OWN_PORT), HttpRequest("GET", backend.url("/huge?mb=64")))
    # local_aws closed the connection: the backend could not write its 64 MiB.
    wait_for(lambda: backend.broken_writes == 1, 10, "the backend wrote its whole answer")


def test_a_slow_backend_is_cut_off_at_the_timeout(backend: Backend) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        send(HttpClient((), OWN_PORT), HttpRequest("GET", backend.url("/slow?s=30")), timeout=0.5)
    assert time.monotonic() - started < 5


def test_a_header_value_holding_a_line_break_is_not_sent(backend: Backend) -> None:
    request = HttpRequest("POST", backend.url("/echo"), (("X-A", "v\r\nX-Injected: 1"),))
    with pytest.raises(Failed, match="not valid HTTP"):
        send(HttpClient((), OWN_PORT), request)
    assert backend.received == []


def test_nothing_listening_is_a_failure_not_a_hang() -> None:
    with Backend() as gone:
        url = gone.url("/echo")
    with pytest.raises(Failed, match="cannot connect"):
        send(HttpClient((), OWN_PORT), HttpRequest("POST", url))


def test_the_command_line_flag_allows_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m local_aws --http-integration-host H` (repeatable) reaches the settings."""
    from local_aws import __main__, server

    started = []
    monkeypatch.setattr(server, "serve", started.append)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        # main() sets defaults for these: restored after the test, as they were.
        monkeypatch.setenv(name, os.environ.get(name, "testing"))
    argv = ["local_aws", "--http-integration-host", "api.example.com"]
    monkeypatch.setattr("sys.argv", [*argv, "--http-integration-host", "192.0.2.10"])
    __main__.main()
    assert started[0].http_integration_hosts == ("api.example.com", "192.0.2.10")
    monkeypatch.setattr("sys.argv", ["local_aws"])
    __main__.main()
    assert started[1].http_integration_hosts == ()  # off by default


def test_backend_connections_open_at_once_are_bounded(backend: Backend) -> None:
    """Past the bound a call waits (within its timeout) instead of opening a descriptor."""
    client = HttpClient((), OWN_PORT, max_open=1)

    async def scenario() -> None:
        slow = asyncio.ensure_future(client.send(HttpRequest("GET", backend.url("/slow?s=30"))))
        await asyncio.sleep(0.3)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await client.send(HttpRequest("POST", backend.url("/echo")))
        assert [r["path"] for r in backend.received] == ["/slow"]
        slow.cancel()
        await asyncio.sleep(0)  # the slow call's connection is closed: the next one runs
        answer = await client.send(HttpRequest("POST", backend.url("/echo")))
        assert answer.status == 200

    asyncio.run(scenario())
