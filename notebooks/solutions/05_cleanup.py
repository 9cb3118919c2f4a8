"""Solutions to the "Your turn" exercises of 05_cleanup.ipynb: try them yourself first.

Each function holds what replaces the `...` of its exercise cell (the notebook's variables are
its arguments). tests/unit/test_exercises.py runs each one through its checker.
"""

from typing import Any


def exercise_1(target: Any) -> list[str]:
    """Every table still named after the stack, whoever created it."""
    pages = target.client("dynamodb").get_paginator("list_tables").paginate()
    tables = [name for page in pages for name in page["TableNames"]]
    leftover_tables = [name for name in tables if name.startswith(f"{target.stack_name}-")]
    return leftover_tables


def exercise_2(variant: dict[str, Any]) -> list[str]:
    """The resources with DeletionPolicy Retain (or RetainExceptOnCreate): they stay."""
    retained = [
        logical_id
        for logical_id, resource in variant["Resources"].items()
        if resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate")
    ]
    return retained
