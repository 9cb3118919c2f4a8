"""CloudFormation capabilities: what a template must be acknowledged with before it runs.

AWS refuses, with `InsufficientCapabilitiesException: Requires capabilities : [...]`
(CreateStack and UpdateStack, "Capabilities" in the CloudFormation API reference):
- a template with a transform, created or updated straight from the template, without
  `CAPABILITY_AUTO_EXPAND` (a change set shows the expansion first and does not need it);
- a template with IAM resources (`IAM_TYPES`) without `CAPABILITY_IAM` or
  `CAPABILITY_NAMED_IAM`, checked on the expanded template, so a SAM function's implicit role
  counts; this is the error `sam deploy` and `aws cloudformation deploy` users meet first;
- an IAM resource with a custom name (`CUSTOM_NAMES`) without `CAPABILITY_NAMED_IAM`.
The IAM checks apply to CreateStack, UpdateStack and CreateChangeSet alike.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from moto.cloudformation.exceptions import CloudFormationError
from moto.cloudformation.responses import CloudFormationResponse

from local_aws import cloudformation, sam, templates

AUTO_EXPAND = "CAPABILITY_AUTO_EXPAND"
IAM = "CAPABILITY_IAM"
NAMED_IAM = "CAPABILITY_NAMED_IAM"

# The resource types AWS lists under CAPABILITY_IAM, and the property that names each one.
IAM_TYPES = frozenset(
    {
        "AWS::IAM::AccessKey",
        "AWS::IAM::Group",
        "AWS::IAM::InstanceProfile",
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::Policy",
        "AWS::IAM::Role",
        "AWS::IAM::User",
        "AWS::IAM::UserToGroupAddition",
    }
)
CUSTOM_NAMES = {
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
}


class InsufficientCapabilities(CloudFormationError):
    code = "InsufficientCapabilitiesException"

    def __init__(self, capability: str) -> None:
        super().__init__(f"Requires capabilities : [{capability}]")


def iam_capability(template: dict[str, Any]) -> str | None:
    """The IAM capability an (expanded) template needs: NAMED_IAM, IAM or none."""
    resources = template.get("Resources")
    needed = None
    for resource in resources.values() if isinstance(resources, dict) else ():
        if not isinstance(resource, dict) or resource.get("Type") not in IAM_TYPES:
            continue
        properties = resource.get("Properties")
        name = CUSTOM_NAMES.get(resource["Type"])
        if name and isinstance(properties, dict) and name in properties:
            return NAMED_IAM
        needed = IAM
    return needed


def check_iam(template: dict[str, Any], given: Iterable[str]) -> None:
    """Refuse an (expanded) template whose IAM resources the request did not acknowledge."""
    needed = iam_capability(template)
    given = set(given)
    if needed == NAMED_IAM and NAMED_IAM not in given:
        raise InsufficientCapabilities(NAMED_IAM)
    if needed == IAM and not given & {IAM, NAMED_IAM}:
        raise InsufficientCapabilities(IAM)


def required_by_create_or_update(action: Callable[..., Any]) -> Callable[..., Any]:
    """A CreateStack or UpdateStack handler that first checks the request's Capabilities."""

    @functools.wraps(action)
    def handler(self: CloudFormationResponse) -> Any:
        body = self._get_param("TemplateBody")
        url = self._get_param("TemplateURL")
        if self._get_bool_param("UsePreviousTemplate", False):
            body = self.cloudformation_backend.get_stack(self._get_param("StackName")).template
        elif not body and url:
            body = self._get_stack_from_s3_url(url)
        if isinstance(body, str) and body:
            given = self._get_param("Capabilities", [])
            parsed = templates.parse_body(body)
            if isinstance(parsed, dict):
                if sam.transforms(parsed) and AUTO_EXPAND not in given:
                    raise InsufficientCapabilities(AUTO_EXPAND)
                check_iam(cloudformation.parse_template_strictly(body), given)
        return action(self)

    return handler
