"""websockets: API Gateway's limit on the size of a handshake's header lines."""

from __future__ import annotations

from websockets import http11

PINNED = {"websockets": "17.4"}
RELIES_ON: tuple[tuple[object, str], ...] = ((http11, "MAX_LINE_LENGTH"),)

# API Gateway accepts request lines and headers up to 10 KB in all (reference §5.1 has the
# related quotas); websockets' default limit for one header line is 8 KB.
MAX_LINE_LENGTH = 10 * 1024


def install() -> None:
    """Let one header line of a WebSocket handshake be as long as API Gateway allows."""
    http11.MAX_LINE_LENGTH = MAX_LINE_LENGTH
