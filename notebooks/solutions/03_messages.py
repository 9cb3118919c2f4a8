"""Solutions to the "Your turn" exercises of 03_messages.ipynb: try them yourself first.

Each function holds what replaces the `...` of its exercise cell (the notebook's variables are
its arguments). tests/unit/test_exercises.py runs each one through its checker.
"""

import json
from typing import Any


def exercise_1() -> str:
    """A message that `$request.body.action` sends to the route `sendmessage`."""
    message = json.dumps({"action": "sendmessage", "text": "hi"})
    return message


def exercise_2(candidates: list[str], connections: Any) -> list[str]:
    """The ids @connections says are gone: get_connection raises GoneException for them."""
    gone_ids = []
    for connection_id in candidates:
        try:
            connections.get_connection(ConnectionId=connection_id)
        except connections.exceptions.GoneException:
            gone_ids.append(connection_id)
    return gone_ids
