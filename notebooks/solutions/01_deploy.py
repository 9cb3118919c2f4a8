"""Solutions to the "Your turn" exercises of 01_deploy.ipynb: try them yourself first.

Each function holds what replaces the `...` of its exercise cell (the notebook's variables are
its arguments). tests/unit/test_exercises.py runs each one through its checker.
"""

import copy
from typing import Any


def exercise_1(template: dict[str, Any]) -> list[str]:
    """The logical ids of the IAM resources: they are why a deploy needs CAPABILITY_IAM."""
    iam_resources = [
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"].startswith("AWS::IAM::")
    ]
    return iam_resources


def exercise_2(template: dict[str, Any]) -> dict[str, Any]:
    """A copy of the template with a `sendmessage` route that an update would really serve."""
    new_template = copy.deepcopy(template)
    resources = new_template["Resources"]
    resources["SendMessageRoute"] = {
        "Type": "AWS::ApiGatewayV2::Route",
        "Properties": {
            "ApiId": {"Ref": "WebSocketApi"},
            "RouteKey": "sendmessage",
            "Target": {"Fn::Sub": "integrations/${DefaultIntegration}"},
        },
    }
    # A new logical id: CloudFormation creates a new deployment, after the new route.
    deployment = resources.pop("Deployment")
    deployment["DependsOn"] = [*deployment["DependsOn"], "SendMessageRoute"]
    resources["DeploymentV2"] = deployment
    resources["Stage"]["Properties"]["DeploymentId"] = {"Ref": "DeploymentV2"}
    return new_template
