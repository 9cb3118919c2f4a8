"""The chat room of notebook 07: its stack (`cfn/chat.yaml`), handshakes, and its browser page.

The chat stack lives beside the workshop's stack, named `{workshop stack}-chat`, so deploying
or deleting one never touches the other. Clients connect with `?token=...`, which the stack's
REQUEST authorizer checks, then send `join`, `sendmessage` and `leave` messages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import websocket

from tutorial_helpers.target import Target
from tutorial_helpers.template import CHECKOUT_TEMPLATE, INSTALLED_TEMPLATE, find_template
from tutorial_helpers.websocket_client import USER_AGENT, connection_url

CHAT_TEMPLATE_PATH = find_template(
    CHECKOUT_TEMPLATE.with_name("chat.yaml"), INSTALLED_TEMPLATE.with_name("chat.yaml")
)
# Where JupyterLab serves the page: /files/ + its path from the directory JupyterLab runs in
# (`make lab` runs it in the checkout).
CHAT_PAGE = "/files/notebooks/chat/chat.html"
CHAT_PAGE_FILE = Path(__file__).resolve().parent.parent / "notebooks" / "chat" / "chat.html"


def chat_target(target: Target) -> Target:
    """The same target, with the chat stack's name: `{stack}-chat` (e.g. `ws-workshop-chat`)."""
    return replace(target, stack_name=f"{target.stack_name}-chat")


def handshake_status(
    websocket_url: str, query: dict[str, str] | None = None, timeout: float = 10.0
) -> int:
    """The HTTP status of a handshake: 101 if the API accepts it (then it is closed again),
    else the status of the refusal (401, 403, ...)."""
    try:
        ws = websocket.create_connection(
            connection_url(websocket_url, query), header={"User-Agent": USER_AGENT}, timeout=timeout
        )
    except websocket.WebSocketBadStatusException as error:
        return int(error.status_code)
    ws.close()
    return 101


def chat_page_url(
    websocket_url: str, token: str, room: str, name: str, page: str = CHAT_PAGE
) -> str:
    """The chat page's URL, with the WebSocket URL, token, room and name in its query string.

    `:` and `/` stay readable, so the URL shows which API the page connects to. The token is
    `chat_token`: Jupyter takes a `token` parameter for its own login token, and refuses the
    page when it is not.
    """
    query = {"url": websocket_url, "chat_token": token, "room": room, "name": name}
    return f"{page}?{urlencode(query, safe=':/')}"


@dataclass(frozen=True)
class ChatFrame:
    """The chat page in a frame: a notebook shows the page, plain text shows its URL."""

    url: str
    height: int = 360

    def _repr_html_(self) -> str:
        return f'<iframe src="{escape(self.url)}" width="100%" height="{self.height}"></iframe>'

    def __repr__(self) -> str:
        return f"(the chat page, in a frame: {self.url})"


def messages_within(ws: websocket.WebSocket, seconds: float = 0.5) -> list[Any]:
    """The messages that arrive on `ws` until none comes for `seconds`; [] if none.

    A JSON message is parsed (the chat function sends JSON objects); other text stays text.
    """
    ws.settimeout(seconds)
    found: list[Any] = []
    try:
        while True:
            message = ws.recv()
            try:
                found.append(json.loads(message))
            except ValueError:
                found.append(message)
    except (TimeoutError, websocket.WebSocketTimeoutException):
        return found
