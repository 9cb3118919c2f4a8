"""The bound on an AWS API request's body: what one call may make local_aws hold in memory.

moto reads a request's whole body into memory before it looks at it (werkzeug's
`request.data`), and neither uvicorn nor a2wsgi limits a body's size. So a body longer than
`Settings.max_api_body_bytes` is refused with 413 before moto sees any of it: at once when its
`Content-Length` says so, or, for a body sent without one (`Transfer-Encoding: chunked`, as
the SDKs stream S3 uploads over HTTPS), once that many bytes have come. Such a body is read
here, up to the bound, and handed on whole: cutting it off midway would have moto store the
part that came (an S3 object cut short).

Hand-written: no ASGI library at hand bounds a request body.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

Receive = Callable[[], Awaitable[dict[str, Any]]]


async def within(receive: Receive, headers: dict[str, str], limit: int) -> Receive | None:
    """`receive`, or one that hands on the body read here, or None: the body is over `limit`.

    ``headers``: the request's, names lower-cased (`trust.headers_of`).
    """
    declared = headers.get("content-length")
    if declared is not None:
        # uvicorn has refused a Content-Length that is not a number (400) before this.
        return receive if declared.isdigit() and int(declared) <= limit else None
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: moto is told so
            return _replay(message, receive)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
        if not message.get("more_body", False):
            whole = {"type": "http.request", "body": b"".join(parts), "more_body": False}
            return _replay(whole, receive)


def too_large(limit: int) -> bytes:
    """The 413 answer: what the bound is and what to do (AWS names no error for it)."""
    return json.dumps(
        {
            "__type": "RequestEntityTooLargeException",
            "message": f"local_aws accepts AWS API request bodies of up to {limit:,} bytes, "
            "and this one is larger. Upload a large file in parts (boto3's upload_file and the "
            "AWS CLI do so above 8 MB), or start local_aws with a larger --max-api-body-mb.",
        }
    ).encode()


def _replay(first: dict[str, Any], receive: Receive) -> Receive:
    """A `receive` that gives `first`, then what `receive` gives."""
    pending = [first]

    async def replay() -> dict[str, Any]:
        return pending.pop() if pending else await receive()

    return replay
