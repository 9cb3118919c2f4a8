"""Solutions to the "Your turn" exercises of 04_disconnect_and_ttl.ipynb: try them first.

Each function holds what replaces the `...` of its exercise cell (the notebook's variables are
its arguments). tests/unit/test_exercises.py runs each one through its checker.
"""


def exercise_1(connected_at_ms: int) -> int:
    """Epoch seconds two hours after the connection opened: milliseconds / 1000, + 7200."""
    ttl_in_two_hours = connected_at_ms // 1000 + 2 * 3600
    return ttl_in_two_hours


def exercise_2() -> str:
    """TTL reads epoch seconds; milliseconds read as seconds lie ~50,000 years ahead."""
    why = "b"
    return why
