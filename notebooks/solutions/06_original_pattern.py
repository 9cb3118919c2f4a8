"""Solutions to the "Your turn" exercises of 06_original_pattern.ipynb: try them yourself first.

Each function holds what replaces the `...` of its exercise cell (the notebook's variables are
its arguments). tests/unit/test_exercises.py runs each one through its checker.
"""

import json
from typing import Any


def exercise_1(pattern_template: dict[str, Any]) -> list[str]:
    """The routes the Deployment does not wait for: every Route not in its DependsOn."""
    resources = pattern_template["Resources"]
    deployment = resources["Deployment"]
    routes = [name for name, r in resources.items() if r["Type"] == "AWS::ApiGatewayV2::Route"]
    forgotten_routes = [name for name in routes if name not in deployment.get("DependsOn", [])]
    return forgotten_routes


def exercise_2(candidates: list[str]) -> list[str]:
    """Render each value as the pattern does, unescaped, and keep those that break the JSON."""
    refused = []
    for value in candidates:
        body = '{"S": "{q=' + value + '}"}'  # what "$input.params().get('querystring')" writes
        try:
            json.loads(body)
        except json.JSONDecodeError:
            refused.append(value)
    return refused
