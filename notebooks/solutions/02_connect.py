"""Solutions to the "Your turn" exercises of 02_connect.ipynb: try them yourself first.

Each function holds what replaces the `...` of its exercise cell (the notebook's variables are
its arguments). tests/unit/test_exercises.py runs each one through its checker.
"""

from typing import Any
from urllib.parse import urlencode

from tutorial_helpers import connect, get_item, my_connection_id


def exercise_1(websocket_url: str, dynamodb: Any, table_name: str) -> tuple[str, Any, Any]:
    """The connect URL with a query string, the connection, and the item $connect wrote."""
    my_url = websocket_url + "?" + urlencode({"name": "Lin", "room": "kitchen"})
    my_ws = connect(my_url)
    my_item = get_item(dynamodb, table_name, my_connection_id(my_ws))
    return my_url, my_ws, my_item


def exercise_2(item: dict[str, Any]) -> str:
    """The X-Workshop-Client header as a plain string: a map ('M') of strings ('S')."""
    client_header = item["headers"]["M"]["X-Workshop-Client"]["S"]
    return client_header
