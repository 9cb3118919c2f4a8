"""The bounds on AWS API request bodies: what calls may make local_aws hold in memory.

moto reads a request's whole body into memory before it looks at it (werkzeug's
`request.data`), and neither uvicorn nor a2wsgi limits a body's size. So:

- a body longer than `Settings.max_api_body_bytes` is refused with 413 before moto sees any
  of it: at once when its `Content-Length` says so, or, for a body sent without one
  (`Transfer-Encoding: chunked`, as the SDKs stream S3 uploads over HTTPS), once that many
  bytes have come. Such a body is read here, up to the bound, and handed on whole: cutting it
  off midway would have moto store the part that came (an S3 object cut short);
- the bodies of every request at once are bounded too (`Settings.api_bodies_total_bytes`):
  a chunked body is held here whole, on the event loop, before moto's eight threads take
  any, so without it every open connection could hold one (a few hundred times the bound).
  A body that would take the total past it is refused with 503, which the SDKs retry; its
  bytes, and those of a declared length, count until moto has answered.

Hand-written: no ASGI library at hand bounds a request body.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

Receive = Callable[[], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Refused:
    """A body local_aws does not take: the status and the JSON answer saying why."""

    status: int
    body: bytes


@dataclass(frozen=True)
class Admitted:
    """A body within the bounds: the `receive` moto reads it from, and the bytes it holds
    of the total until `Bodies.release`."""

    receive: Receive
    held: int


class Bodies:
    """The request bodies of one local_aws: each within `limit`, all at once within `total`.

    Used on the event loop only (no lock): `admit` and `release` are never called from
    moto's threads.
    """

    def __init__(self, limit: int, total: int) -> None:
        self.limit = limit
        self.total = total
        self.held = 0  # bytes of the bodies admitted and not yet released

    async def admit(self, receive: Receive, headers: dict[str, str]) -> Admitted | Refused:
        """The body of a request, admitted or refused. ``headers``: names lower-cased
        (`trust.headers_of`)."""
        declared = headers.get("content-length")
        if declared is not None:
            # uvicorn has refused a Content-Length that is not a number (400) before this.
            if not declared.isdigit() or int(declared) > self.limit:
                return self._too_large()
            size = int(declared)
            if not self._take(size):
                return self._busy()
            return Admitted(receive, size)
        return await self._read_chunked(receive)

    def release(self, admitted: Admitted) -> None:
        """moto has answered: the body's bytes no longer count."""
        self.held -= admitted.held

    async def _read_chunked(self, receive: Receive) -> Admitted | Refused:
        parts: list[bytes] = []
        size = 0
        while True:
            try:
                message = await receive()
            except BaseException:  # cancelled while the body came: its bytes count no more
                self.held -= size
                raise
            if message["type"] != "http.request":  # the client went away: moto is told so
                return Admitted(_replay(message, receive), size)
            chunk = message.get("body", b"")
            if size + len(chunk) > self.limit:
                self.held -= size
                return self._too_large()
            if not self._take(len(chunk)):
                self.held -= size
                return self._busy()
            size += len(chunk)
            parts.append(chunk)
            if not message.get("more_body", False):
                whole = {"type": "http.request", "body": b"".join(parts), "more_body": False}
                return Admitted(_replay(whole, receive), size)

    def _take(self, size: int) -> bool:
        if self.held + size > self.total:
            return False
        self.held += size
        return True

    def _too_large(self) -> Refused:
        """413: what the bound is and what to do (AWS names no error for it)."""
        return _refused(
            413,
            "RequestEntityTooLargeException",
            f"local_aws accepts AWS API request bodies of up to {self.limit:,} bytes, and this "
            "one is larger. Upload a large file in parts (boto3's upload_file and the AWS CLI "
            "do so above 8 MB), or start local_aws with a larger --max-api-body-mb.",
        )

    def _busy(self) -> Refused:
        """503 SlowDown, which the SDKs retry: other requests' bodies hold the total."""
        return _refused(
            503,
            "SlowDown",
            f"local_aws holds at most {self.total:,} bytes of AWS API request bodies at once "
            "(twice --max-api-body-mb), and other requests' bodies hold most of it now. Retry "
            "when they are done (the SDKs retry this by themselves).",
        )


def _refused(status: int, error_type: str, message: str) -> Refused:
    return Refused(status, json.dumps({"__type": error_type, "message": message}).encode())


def _replay(first: dict[str, Any], receive: Receive) -> Receive:
    """A `receive` that gives `first`, then what `receive` gives."""
    pending = [first]

    async def replay() -> dict[str, Any]:
        return pending.pop() if pending else await receive()

    return replay
