"""Solutions to the "Your turn" exercises of 07_chat_room.ipynb: try them yourself first.

Each function holds what replaces the `...` of its exercise cell (the notebook's variables are
its arguments). tests/unit/test_exercises.py runs each one through its checker.
"""

from typing import Any


def exercise_1() -> dict[str, str]:
    """The message that joins the room `kitchen` under the name `erin`."""
    join_message = {"action": "join", "room": "kitchen", "name": "erin"}
    return join_message


def exercise_2(dynamodb: Any, members_table: str) -> list[str]:
    """The ids of the lobby's members: a Query on the ByRoom index, every page."""
    lobby_ids = []
    for page in dynamodb.get_paginator("query").paginate(
        TableName=members_table,
        IndexName="ByRoom",
        KeyConditionExpression="room = :room",
        ExpressionAttributeValues={":room": {"S": "lobby"}},
    ):
        lobby_ids.extend(item["connectionid"]["S"] for item in page["Items"])
    return lobby_ids
