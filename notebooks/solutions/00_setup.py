"""Solutions to the "Your turn" exercises of 00_setup.ipynb: try them yourself first.

Each function holds what replaces the `...` of its exercise cell (the notebook's variables are
its arguments). tests/unit/test_exercises.py runs each one through its checker.
"""

from typing import Any


def exercise_1(target: Any) -> Any:
    """A CloudFormation client on the workshop's target (not a plain boto3.client)."""
    cloudformation = target.client("cloudformation")
    return cloudformation


def exercise_2(target: Any) -> str:
    """The account id: the `Account` of get_caller_identity's answer."""
    account = target.client("sts").get_caller_identity()["Account"]
    return account
