"""How local_aws's CloudFormation differs from moto's: templates checked as AWS checks them.

Every template moto reads goes through `local_aws.templates` (parsed as data, checked as AWS
checks it before creating anything); a failed CreateStack rolls back; DescribeStacks lists
every stack; updating inline Lambda code works. The functions below are that behaviour:
most take the moto function they change and return its replacement, and
`local_aws.patches.moto` puts them in place. The resource models moto lacks are in
`local_aws.cloudformation_models`.
"""

from __future__ import annotations

import base64
import functools
import logging
from collections.abc import Callable
from typing import Any

import moto.cloudformation.parsing as parsing
from moto.awslambda.models import LambdaFunction
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import CloudFormationBackend, Stack
from moto.cloudformation.responses import CloudFormationResponse

from local_aws import cloudformation_models, templates
from local_aws.deployments import Deployments
from local_aws.settings import Settings

logger = logging.getLogger(__name__)

# CloudFormationResponse's actions that read a TemplateBody parameter.
TEMPLATE_ACTIONS = (
    "create_stack",
    "update_stack",
    "create_change_set",
    "get_template_summary",
    "create_stack_set",
    "update_stack_set",
)


def register(settings: Settings, deployments: Deployments) -> None:
    """Bind the running local_aws's settings and deployments to the resource models.

    The models create APIs with endpoints on `settings.port` and record what they deploy in
    `deployments`.
    """
    cloudformation_models.bind(settings, deployments)


def unsupported_types(template: dict[str, Any]) -> list[str]:
    """Resource types in a parsed template that nothing here can create."""
    types = {
        resource.get("Type", "")
        for resource in (template.get("Resources") or {}).values()
        if isinstance(resource, dict)
    }
    return sorted(
        kind
        for kind in types
        if kind not in parsing.get_model_map()
        and kind not in parsing.NULL_MODELS
        and not kind.startswith("Custom::")
    )


def parse_template_strictly(template: str | dict[str, Any]) -> dict[str, Any]:
    """A template parsed safely and checked as AWS checks it, before anything is created.

    `templates.parse` reads the body as data only and refuses the template errors AWS
    refuses at CreateStack. On top of that, resource types moto would silently skip are
    refused: moto logs a warning and reports CREATE_COMPLETE for a resource it cannot create,
    where AWS refuses a template with an unknown type.
    """
    if isinstance(template, dict):  # moto's own placeholder ({}) for a change set's new stack
        return template
    if template is None:
        raise ValidationError(message="Either Template URL or Template Body must be specified.")
    parsed = templates.parse(template)
    unsupported = unsupported_types(parsed)
    if unsupported:
        raise ValidationError(
            message="Template format error: Unrecognized resource types: "
            f"[{', '.join(unsupported)}] (local_aws cannot create these types; "
            "deploy this template to AWS or remove them)"
        )
    return parsed


class SafeYaml:
    """Stands in for the `yaml` module inside moto's CloudFormation code.

    moto calls `yaml.load(body, Loader=yaml.Loader)` (which builds arbitrary Python objects)
    in four places: the stack's and the change set's parsers, GetTemplateSummary and
    ValidateTemplate. Replacing the name those modules see sends every one of them, and any
    such call a newer moto adds there, through the safe parser. moto's
    `yaml.add_multi_constructor("", ...)` registered its tag handler on PyYAML's unsafe
    loaders globally; here it does nothing, so moto no longer touches PyYAML's loaders.
    """

    Loader = templates.TemplateLoader

    @staticmethod
    def load(stream: str, Loader: Any = None) -> dict[str, Any]:  # noqa: N803 (yaml's name)
        return parse_template_strictly(stream)

    @staticmethod
    def add_multi_constructor(*args: Any, **kwargs: Any) -> None:
        """moto's short-form tag handler is not needed: TemplateLoader knows the tags."""


def template_body_bounded(action: Callable[..., Any]) -> Callable[..., Any]:
    """A request handler that first refuses a TemplateBody over AWS's 51,200-byte quota.

    The quota belongs to the request parameter (a template read from S3 may be 1 MB, which
    `templates.parse` enforces), so it is checked where the parameter is read.
    """

    @functools.wraps(action)
    def handler(self: CloudFormationResponse) -> Any:
        body = self._get_param("TemplateBody")
        if body and len(body.encode("utf-8")) > templates.MAX_BODY_BYTES:
            raise ValidationError(
                message="1 validation error detected: Value at 'templateBody' failed to "
                "satisfy constraint: Member must have length less than or equal to "
                f"{templates.MAX_BODY_BYTES}"
            )
        return action(self)

    return handler


def validate_template_safely(validate_template: Callable[..., Any]) -> Callable[..., Any]:
    """moto's ValidateTemplate, but the body is parsed safely before cfn-lint reads it."""

    @functools.wraps(validate_template)
    def handler(self: CloudFormationResponse) -> Any:
        body = self._get_param("TemplateBody")
        url = self._get_param("TemplateURL")
        parse_template_strictly(self._get_stack_from_s3_url(url) if url else body)
        return validate_template(self)

    return handler


def outputs_or_none(
    outputs: Callable[[Stack], list[dict[str, Any]]],
) -> Callable[[Stack], list[dict[str, Any]] | None]:
    """A stack's outputs, or none if they cannot be resolved.

    moto resolves outputs lazily, when DescribeStacks lists them: one stack whose output
    refers to something gone would otherwise fail DescribeStacks for every stack.
    """

    @functools.wraps(outputs)
    def resolved(self: Stack) -> list[dict[str, Any]] | None:
        try:
            return outputs(self)
        except Exception:
            logger.warning("outputs of stack %s cannot be resolved", self.name, exc_info=True)
            return None

    return resolved


def update_function_zipping_inline_code(
    update_from_cloudformation_json: Callable[..., LambdaFunction],
) -> Callable[..., LambdaFunction]:
    """moto's Lambda update from a template, with inline `Code: {ZipFile: ...}` zipped first.

    Takes and returns the function under moto's classmethod. On create moto turns a template's
    inline source into a zip; on update it passes the source on as if it were a base64 zip,
    so decoding fails (HTTP 500) or yields bytes that are not a zip. The zip made here is the
    one create makes.
    """

    @functools.wraps(update_from_cloudformation_json)
    def update(
        cls: type[LambdaFunction],
        original_resource: LambdaFunction,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> LambdaFunction:
        properties = cloudformation_json.get("Properties") or {}
        code = properties.get("Code") or {}
        if isinstance(code.get("ZipFile"), str):
            archive = LambdaFunction._create_zipfile_from_plaintext_code(code["ZipFile"])
            zipped = {**code, "ZipFile": base64.b64encode(archive).decode("ascii")}
            cloudformation_json = {
                **cloudformation_json,
                "Properties": {**properties, "Code": zipped},
            }
        return update_from_cloudformation_json(
            cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
        )

    return update


def create_stack_or_roll_back(create_stack: Callable[..., Stack]) -> Callable[..., Stack]:
    """moto's create_stack, but a failure does not leave a half-made stack behind.

    moto stores the stack before it creates the resources, so an error on the way leaves it in
    CREATE_IN_PROGRESS for ever. As on AWS, what was created is deleted again: a template
    error refuses the stack (ValidationError, nothing stored); any other failure ends the stack
    in ROLLBACK_COMPLETE with the reason, where it waits to be deleted.
    """

    @functools.wraps(create_stack)
    def create(self: CloudFormationBackend, name: str, *args: Any, **kwargs: Any) -> Stack:
        try:
            return create_stack(self, name, *args, **kwargs)
        except Exception as error:
            stack = next(
                (
                    s
                    for s in list(self.stacks.values())
                    if s.name == name and s.status == "CREATE_IN_PROGRESS"
                ),
                None,
            )
            if stack is None:  # refused before anything was created
                raise
            if isinstance(error, ValidationError):
                _delete_resources(stack)
                del self.stacks[stack.stack_id]
                raise
            roll_back(stack, error)
            return stack

    return create


def roll_back(stack: Stack, error: Exception) -> None:
    """A stack whose creation failed: its resources deleted, ROLLBACK_COMPLETE with the reason."""
    _delete_resources(stack)
    reason = f"{type(error).__name__}: {error}"
    stack._add_stack_event("CREATE_FAILED", resource_status_reason=reason)
    stack._add_stack_event("ROLLBACK_COMPLETE")
    stack.status = "ROLLBACK_COMPLETE"
    # moto's Stack has no such field and DescribeStacks does not show it (the CREATE_FAILED
    # event does): set for whoever inspects the stack object.
    stack.status_reason = reason  # type: ignore[attr-defined]


def _delete_resources(stack: Stack) -> None:
    try:
        stack.resource_map.delete()
    except Exception:  # best effort, as a rollback on AWS can fail too
        logger.exception("rolling back stack %s failed", stack.name)


def record_capabilities(stack: Stack, capabilities: list[str]) -> None:
    """The capabilities the stack was last created or updated with, for DescribeStacks.

    moto's Stack has no such field; its serializer reads `capabilities` when it is there.
    """
    stack.capabilities = list(capabilities)  # type: ignore[attr-defined]


def recording_capabilities(action: Callable[..., Any]) -> Callable[..., Any]:
    """A CreateStack or UpdateStack handler that records the request's Capabilities."""

    @functools.wraps(action)
    def handler(self: CloudFormationResponse) -> Any:
        result = action(self)
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        record_capabilities(stack, self._get_param("Capabilities", []))
        return result

    return handler
