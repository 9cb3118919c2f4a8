"""Who may call local_aws: the trust boundary of docs/security.md, as pure checks on a request.

local_aws runs next to the learner's browser, and its AWS APIs can deploy and run code. So
they answer only local, non-browser callers:

- the `Host` must be a loopback name (127.0.0.1, localhost, [::1]) or a host name local_aws
  hands out (`{apiId}.execute-api.localhost`): a page whose own domain re-resolves to
  127.0.0.1 (DNS rebinding) sends its own domain as `Host` and is refused;
- a request a browser made is refused: browsers send `Origin` on every cross-origin fetch and
  form post, and `Sec-Fetch-*` on every request (an `<img>` or `<form>` too), unless the
  origin was allowed with `--allow-origin`;
- an AWS API call must carry an `Authorization` header, as every SDK and the CLI send: a page
  cannot add one to a request it is not allowed to read (it is not a CORS-safelisted header),
  which also covers old browsers that send neither `Origin` nor `Sec-Fetch-*` on a GET.

The WebSocket data plane accepts any `Origin`, as AWS does (reference apigw-websocket.md
§3.1), so a browser client page can connect; its `Host` is checked the same way.

On the TLS listener, whose certificates chain to a CA only Lambda workers trust
(`local_tls`), AWS's own host names are accepted too (`dynamodb.us-east-1.amazonaws.com`):
a browser cannot finish a handshake with it, so no page reaches it, rebinding or not
(docs/security.md). On the plain port they stay foreign.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from local_aws import aws_hosts

_LOOPBACK_HOST = re.compile(
    r"^(?:127\.0\.0\.1|localhost|\[::1\]|[a-z0-9]+\.execute-api\.localhost)(?::(?P<port>\d+))?$"
)
HEALTH_PATH = "/_local_aws/health"


@dataclass(frozen=True)
class Refusal:
    """A request refused at the boundary: HTTP status and a message saying what to do."""

    status: int
    message: str


FOREIGN_HOST = Refusal(
    403,
    "local_aws answers only requests addressed to 127.0.0.1, localhost or [::1] on its own "
    "port (the Host header named another host: a DNS rebinding attempt, or a proxy). Use "
    "http://127.0.0.1:<port> as the endpoint.",
)
BROWSER = Refusal(
    403,
    "local_aws does not answer web pages: this request came from a browser (it has an Origin "
    "or Sec-Fetch header). Call local_aws from boto3, the AWS CLI or an SDK; to let one page "
    "of yours in, start local_aws with --allow-origin <origin> (see docs/security.md).",
)
UNSIGNED = Refusal(
    403,
    "local_aws answers AWS API calls only with an Authorization header (SigV4, as every SDK "
    "and the AWS CLI sign; any credentials do, e.g. testing/testing). Presigned URLs and "
    "unsigned requests are refused (see docs/security.md).",
)
AWS_NAME_OVER_HTTP = Refusal(
    403,
    "local_aws answers AWS host names (*.amazonaws.com) only over HTTPS, on the TLS port its "
    "Lambda functions' connections to https://… AWS URLs are sent to; over plain HTTP they "
    "are foreign hosts. Use an https:// URL, or AWS_ENDPOINT_URL (see docs/aws-host-names.md).",
)
DASHBOARD_OFF = Refusal(
    404,
    "moto's /moto-api admin endpoints are off. Start local_aws with --dashboard to serve them "
    "(any local program may then reset or record local_aws).",
)


def headers_of(scope: dict[str, Any]) -> dict[str, str]:
    """The request's headers, names lower-cased (a repeated header keeps its first value)."""
    headers: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return headers


def host_allowed(host: str | None, port: int, over_tls: bool = False) -> bool:
    """A loopback name, with the listener's `port` or none; over TLS also an AWS name, with
    port 443 or none (what a client that connected to AWS sends). No `Host` at all is no
    browser's request."""
    if host is None:
        return True
    match = _LOOPBACK_HOST.match(host.lower())
    if match is not None:
        return match["port"] in (None, str(port))
    return over_tls and _is_aws_host(host, (None, 443))


def _is_aws_host(host: str, ports: tuple[int | None, ...]) -> bool:
    split = aws_hosts.split_host(host)
    return split is not None and split[1] in ports and aws_hosts.is_aws_name(split[0])


def _foreign_host(host: str | None) -> Refusal:
    """Why `host` is refused: an AWS name over plain HTTP has a message of its own."""
    return AWS_NAME_OVER_HTTP if host and _is_aws_host(host, (None, 80)) else FOREIGN_HOST


def _from_browser(headers: dict[str, str]) -> bool:
    return "origin" in headers or any(name.startswith("sec-fetch-") for name in headers)


def allowed_origin(headers: dict[str, str], allowed_origins: tuple[str, ...]) -> str | None:
    """The request's `Origin` if the user allowed it with --allow-origin, else None."""
    origin = headers.get("origin")
    return origin if origin is not None and origin in allowed_origins else None


def check_websocket(headers: dict[str, str], port: int, over_tls: bool = False) -> Refusal | None:
    """A WebSocket handshake: any Origin (as on AWS), but a loopback Host (or over TLS an AWS
    one)."""
    host = headers.get("host")
    return None if host_allowed(host, port, over_tls) else _foreign_host(host)


def check_http(
    path: str,
    headers: dict[str, str],
    port: int,
    allowed_origins: tuple[str, ...],
    dashboard: bool,
    needs_signature: bool,
    over_tls: bool = False,
) -> Refusal | None:
    """An HTTP request for the AWS APIs, `@connections` or the health check: None if served.

    `port` is the port of the listener it came to, `over_tls` whether that is the TLS one.
    `needs_signature` is False where the handler checks signatures itself (`@connections`)
    or none is needed (the health check).
    """
    host = headers.get("host")
    if not host_allowed(host, port, over_tls):
        return _foreign_host(host)
    if _from_browser(headers) and allowed_origin(headers, allowed_origins) is None:
        return BROWSER
    if path.startswith("/moto-api") and not dashboard:
        return DASHBOARD_OFF
    if needs_signature and not path.startswith("/moto-api") and "authorization" not in headers:
        return UNSIGNED
    return None
