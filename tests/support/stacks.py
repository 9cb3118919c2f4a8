"""Deploying CloudFormation stacks on a test's local_aws."""

from __future__ import annotations

from pathlib import Path

from tests.support.launcher import ROOT, LocalAwsProcess

# The workshop's own template, the one the notebooks deploy.
TEMPLATE = ROOT / "cfn" / "template.yaml"


def deploy(
    server: LocalAwsProcess, stack_name: str, template: str | Path = TEMPLATE, **parameters: str
) -> dict[str, str]:
    """Create a stack, wait until it is complete, and return its outputs.

    `template` is a template file or a template body; `parameters` are its parameters. The
    stack is created acknowledging IAM resources and transforms (SAM templates), as
    `sam deploy` does.
    """
    body = template.read_text() if isinstance(template, Path) else template
    cloudformation = server.client("cloudformation")
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=body,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    # Generous: a loaded 2-core machine may take a while to start the functions.
    cloudformation.get_waiter("stack_create_complete").wait(
        StackName=stack_name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
