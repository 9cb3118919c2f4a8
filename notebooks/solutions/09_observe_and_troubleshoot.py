"""Solutions to the "Your turn" exercises of 09_observe_and_troubleshoot.ipynb: try them first.

Each function holds what replaces the `...` of its exercise cell (the notebook's variables are
its arguments). tests/unit/test_exercises.py runs each one through its checker.
"""


def exercise_1(access_lines: list[str]) -> set[str]:
    """The route key (third field) of every line whose status (fourth field) is 5XX."""
    failed_routes = set()
    for line in access_lines:
        fields = line.split(" ")
        if fields[3].startswith("5"):
            failed_routes.add(fields[2])
    return failed_routes


def exercise_2() -> str:
    """Acknowledge within the timeout; push the result later through @connections."""
    choice = "b"
    return choice
