"""The HTTP requests `HTTP` and `HTTP_PROXY` integrations send, and what keeps them safe.

local_aws runs next to the learner's browser, so a template must not turn it into a proxy
that reaches the network or local_aws itself (docs/security.md):

- a target must resolve to a loopback address (127.0.0.0/8, ::1: `localhost` too), unless
  its host is one the user allowed with `--http-integration-host`;
- local_aws's own port on this machine is always refused (a request loop, and a template
  calling the AWS APIs from inside the trust boundary);
- the name is resolved once and the connection made to the address that was checked, so a
  name cannot resolve to one address for the check and another for the connection;
- redirects are not followed (the 3xx is the answer), the answer is read up to
  `MAX_RESPONSE_BYTES`, and the caller bounds the whole call with the integration timeout.

The request runs on the event loop with asyncio streams and h11 (the HTTP/1.1 parser uvicorn
is built on, installed with it), not on a thread with urllib3: a cancelled asyncio call ends
at once and holds nothing, while a thread blocked in a slow backend cannot be stopped and
would hold one of the few integration threads (`integrations.THREADS_PER_API`) until then.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11

logger = logging.getLogger(__name__)

# AWS's answers are bounded by the reply quota (128 KB, `reply_frame`); this bounds the read
# itself, so a backend cannot make local_aws hold more than this per call.
MAX_RESPONSE_BYTES = 10 * 1024 * 1024
_READ_SIZE = 64 * 1024
# Backend connections open at once, for all APIs: each is a file descriptor, and the gateway
# budgets descriptors for its clients (`Settings.max_open_connections`). A call past this
# waits on the event loop, within its integration timeout.
MAX_OPEN_CALLS = 64
HOSTS_FLAG = "--http-integration-host"


class Refused(Exception):
    """The target is not one local_aws may call; the message says why and what to do."""


class Failed(Exception):
    """The call was made and did not give an answer (refused connection, bad or huge answer)."""


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str  # absolute http:// or https:// URL, query string included
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass(frozen=True)
class Target:
    """Where a URL's request goes: the checked address, and what the request names."""

    scheme: str
    host: str  # as written in the URL (the Host header, the TLS server name)
    addresses: tuple[str, ...]  # the resolved, checked addresses: the only ones connected to
    port: int
    target: str  # path and query, e.g. `/fetch?x=1`


def is_this_machine(address: str) -> bool:
    """A loopback address, the unspecified one (it reaches this machine too), or either
    written as an IPv4-mapped IPv6 address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


class HttpClient:
    """Sends integration requests to allowed targets only."""

    def __init__(
        self, allowed_hosts: tuple[str, ...], own_port: int, max_open: int = MAX_OPEN_CALLS
    ) -> None:
        self._allowed = {host.lower().strip("[]") for host in allowed_hosts}
        self._own_port = own_port
        self._max_open = max_open
        self._open: asyncio.Semaphore | None = None  # made on the loop that uses it

    async def resolve(self, url: str) -> Target:
        """The address `url`'s request may go to; raises `Refused`."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Refused(f"the integration URI must be an http:// or https:// URL, got {url!r}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as error:
            raise Refused(f"the integration URI {url!r} has a bad port: {error}") from None
        host = parts.hostname.lower()
        loop = asyncio.get_running_loop()
        try:
            found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as error:
            raise Refused(f"cannot resolve {host}: {error}") from None
        if not found:
            raise Refused(f"cannot resolve {host}")
        addresses = tuple(dict.fromkeys(str(entry[4][0]) for entry in found))
        # Every address the name has must be allowed: the connection may go to any of them.
        for address in addresses:
            if is_this_machine(address):
                if port == self._own_port:
                    raise Refused(
                        f"{url} is local_aws itself (port {port}): an integration may not "
                        "call local_aws's own endpoint; serve the backend on another port"
                    )
            elif host not in self._allowed:
                raise Refused(
                    f"{host} ({address}) is not on this machine; local_aws calls only "
                    f"loopback backends unless you allow the host with `{HOSTS_FLAG} {host}`"
                )
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return Target(parts.scheme, host, addresses, port, target)

    async def send(self, request: HttpRequest) -> HttpAnswer:
        """Send the request and read the answer; raises `Refused` or `Failed`.

        The caller bounds the time (`asyncio.timeout`); the connection is closed however the
        call ends.
        """
        target = await self.resolve(request.url)
        if self._open is None:
            self._open = asyncio.Semaphore(self._max_open)
        async with self._open:
            return await self._send(target, request)

    async def _send(self, target: Target, request: HttpRequest) -> HttpAnswer:
        context = ssl.create_default_context() if target.scheme == "https" else None
        failure: OSError | None = None
        for address in target.addresses:  # e.g. ::1 then 127.0.0.1 for `localhost`
            try:
                reader, writer = await asyncio.open_connection(
                    address,
                    target.port,
                    ssl=context,
                    server_hostname=target.host if context is not None else None,
                )
                break
            except OSError as error:
                failure = error
        else:
            raise Failed(f"cannot connect to {target.host}:{target.port}: {failure}")
        try:
            return await _exchange(reader, writer, target, request)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                writer.transport.abort()


async def _exchange(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    target: Target,
    request: HttpRequest,
) -> HttpAnswer:
    """One request and its answer over an open connection (HTTP/1.1, `Connection: close`)."""
    default_port = 443 if target.scheme == "https" else 80
    host = target.host if ":" not in target.host else f"[{target.host}]"
    host_header = host if target.port == default_port else f"{host}:{target.port}"
    given = [(name, value) for name, value in request.headers if name.lower() not in _OURS]
    headers = [
        ("Host", host_header),
        *given,
        ("Content-Length", str(len(request.body))),
        ("Connection", "close"),
    ]
    connection = h11.Connection(h11.CLIENT)
    try:
        data = connection.send(
            h11.Request(method=request.method, target=target.target, headers=headers)
        )
        data = (data or b"") + (connection.send(h11.Data(data=request.body)) or b"")
        data += connection.send(h11.EndOfMessage()) or b""
    except h11.LocalProtocolError as error:  # e.g. a header value holding CR or LF
        raise Failed(f"the integration request is not valid HTTP: {error}") from None
    try:
        writer.write(data)
        await writer.drain()
        return await _read_answer(reader, connection)
    except OSError as error:
        raise Failed(f"{target.host}:{target.port} dropped the connection: {error}") from None
    except h11.RemoteProtocolError as error:
        raise Failed(f"{target.host}:{target.port} did not answer valid HTTP: {error}") from None


_OURS = {"host", "content-length", "connection", "transfer-encoding"}


async def _read_answer(reader: asyncio.StreamReader, connection: h11.Connection) -> HttpAnswer:
    status = 0
    headers: tuple[tuple[str, str], ...] = ()
    body = bytearray()
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            chunk = await reader.read(_READ_SIZE)
            connection.receive_data(chunk)  # b"": the peer closed
            continue
        if isinstance(event, h11.InformationalResponse):
            continue  # 100 Continue and the like: the answer is still to come
        if isinstance(event, h11.Response):
            status = event.status_code
            headers = tuple(
                (name.decode("latin-1"), value.decode("latin-1")) for name, value in event.headers
            )
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > MAX_RESPONSE_BYTES:
                raise Failed(f"the answer is over {MAX_RESPONSE_BYTES} bytes; not read further")
        elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
            if not status:
                raise Failed("the connection closed before an answer")
            return HttpAnswer(status, headers, bytes(body))
