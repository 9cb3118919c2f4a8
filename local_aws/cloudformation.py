"""How local_aws's CloudFormation differs from moto's: templates checked as AWS checks them.

Every template moto reads goes through `local_aws.templates` (parsed as data, checked as AWS
checks it before creating anything, its SAM transform expanded by `local_aws.sam`); a failed
CreateStack rolls back; DescribeStacks lists every stack and its Capabilities; updating inline
Lambda code works; every resource reports its stack events, in dependency order. The functions
below are that behaviour: most take the moto function they change and return its
replacement, and `local_aws.patches.moto` puts them in place. Change sets and UpdateStack are
in `local_aws.change_sets`; the resource models moto lacks in `local_aws.cloudformation_models`.
"""

from __future__ import annotations

import base64
import copy
import functools
import logging
from collections.abc import Callable
from typing import Any

import moto.cloudformation.parsing as parsing
from moto.awslambda.models import LambdaFunction
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import CloudFormationBackend, Event, Stack
from moto.cloudformation.parsing import ResourceMap
from moto.cloudformation.responses import CloudFormationResponse

from local_aws import cloudformation_models, deployments_api, lambda_runtime, sam, templates
from local_aws.deployments import Deployments
from local_aws.patches import moto_imports
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
    deployments_api.bind(deployments)


def unsupported_types(template: dict[str, Any]) -> list[str]:
    """Resource types in a parsed template that nothing here can create.

    The moto models of the template's services are imported first (moto's CloudFormation is
    imported without them, see `local_aws.patches.moto_imports`).
    """
    types = {
        str(resource.get("Type", ""))
        for resource in (template.get("Resources") or {}).values()
        if isinstance(resource, dict)
    }
    moto_imports.import_models_for(types)
    # moto builds its model map at its first lookup: models imported since (by the line above,
    # or by a request to their service) are missing from it until it is built again.
    if any(
        kind not in parsing.get_model_map() and moto_imports.models_module(kind) for kind in types
    ):
        for cache in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
            cache.cache_clear()
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
    return copy.deepcopy(_parsed_strictly(template))  # moto changes the dicts it is given


# CreateStack reads its body twice after the capabilities check (local_aws's checks, then
# moto's Stack): the last bodies' results are kept, so that a SAM template is expanded once.
# Two entries of at most 1 MB each (templates.MAX_URL_BYTES); errors are not kept.
@functools.lru_cache(maxsize=2)
def _parsed_strictly(template: str) -> dict[str, Any]:
    parsed = templates.parse(template, expand=sam.expand)
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
    one create makes (index.js for a Node.js runtime, index.py otherwise).
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
            runtime = str(properties.get("Runtime") or "")
            archive = lambda_runtime.inline_code_zip(code["ZipFile"], runtime)
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
    """A stack whose creation failed: its resources deleted, ROLLBACK_COMPLETE.

    As on AWS, the failed resource's CREATE_FAILED event says why (or, for a failure that is
    no resource's, the stack's ROLLBACK_IN_PROGRESS event does); the resources created are
    deleted, each reporting DELETE_*.
    """
    failed = [
        event.logical_resource_id
        for event in stack.events
        if event.resource_status == "CREATE_FAILED" and event.logical_resource_id != stack.name
    ]
    cause = f"{type(error).__name__}: {error}"
    if failed:
        summary = (
            f"The following resource(s) failed to create: [{', '.join(failed)}]. "
            "Rollback requested by user."
        )
    else:
        summary = cause
    stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=summary)
    _delete_resources(stack)
    stack._add_stack_event("ROLLBACK_COMPLETE")
    stack.status = "ROLLBACK_COMPLETE"
    # DescribeStacks shows it as StackStatusReason (moto's serializer reads the attribute).
    # AWS shows the summary there; the cause itself says what to fix, so local_aws shows it.
    stack.status_reason = cause  # type: ignore[attr-defined]


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


# ------------------------------------------------------------------------------ resource events
#
# AWS reports every resource's progress as stack events, in dependency order: CREATE_IN_PROGRESS
# then CREATE_COMPLETE (or CREATE_FAILED with the reason), the same for UPDATE_* and DELETE_*,
# and DELETE_SKIPPED for a retained resource. moto reports only the stack's own events. moto's
# resource map does not know its stack, so each map is given it when the stack makes it.


def resource_map_knowing_its_stack(
    create_resource_map: Callable[[Stack], ResourceMap],
) -> Callable[[Stack], ResourceMap]:
    """moto's `Stack._create_resource_map`, the map told which stack its events go to."""

    @functools.wraps(create_resource_map)
    def create(self: Stack) -> ResourceMap:
        resource_map = create_resource_map(self)
        resource_map.local_aws_stack = self  # type: ignore[attr-defined]
        return resource_map

    return create


def _stack_of(resource_map: ResourceMap) -> Stack | None:
    stack: Stack | None = getattr(resource_map, "local_aws_stack", None)
    return stack


def _event(
    stack: Stack,
    logical_id: str,
    resource_type: str,
    status: str,
    physical_id: Any = "",
    reason: str | None = None,
) -> Event:
    """A resource's event, timestamped now (moto's Event takes the time it is made)."""
    return Event(
        stack_id=stack.stack_id,
        stack_name=stack.name,
        logical_resource_id=logical_id,
        physical_resource_id=physical_id if isinstance(physical_id, str) else "",
        resource_type=resource_type,
        resource_status=status,
        resource_status_reason=reason,
        resource_properties=None,
    )


def _record(stack: Stack, *events: Event) -> None:
    for event in events:
        event.sendToSns(stack.account_id, stack.region_name, stack.notification_arns)
        stack.events.append(event)


def _reports_events(resource_json: dict[str, Any], resource_map: ResourceMap) -> bool:
    """Whether AWS would report this resource: it exists, by its condition and its type."""
    condition = resource_json.get("Condition")
    if condition and not resource_map.lazy_condition_map[condition]:
        return False
    return resource_json.get("Type") not in parsing.NULL_MODELS


def creating_with_events(create: Callable[..., Any]) -> Callable[..., Any]:
    """moto's `parse_and_create_resource`, reporting CREATE_IN_PROGRESS, then COMPLETE or FAILED."""

    @functools.wraps(create)
    def created(
        logical_id: str,
        resource_json: dict[str, Any],
        resources_map: ResourceMap,
        account_id: str,
        region_name: str,
    ) -> Any:
        stack = _stack_of(resources_map)
        if stack is None or not _reports_events(resource_json, resources_map):
            return create(logical_id, resource_json, resources_map, account_id, region_name)
        kind = resource_json.get("Type", "")
        _record(stack, _event(stack, logical_id, kind, "CREATE_IN_PROGRESS"))
        try:
            resource = create(logical_id, resource_json, resources_map, account_id, region_name)
        except Exception as error:
            reason = f"{type(error).__name__}: {error}"
            _record(stack, _event(stack, logical_id, kind, "CREATE_FAILED", reason=reason))
            raise
        physical_id = getattr(resource, "physical_resource_id", "")
        _record(stack, _event(stack, logical_id, kind, "CREATE_COMPLETE", physical_id))
        return resource

    return created


def updating_with_events(update: Callable[..., Any]) -> Callable[..., Any]:
    """moto's `parse_and_update_resource`, reporting UPDATE_IN_PROGRESS and UPDATE_COMPLETE.

    moto retries a resource whose update fails (another may have to change first), so only
    an update that went through is reported; one that keeps failing fails the stack's update.
    """

    @functools.wraps(update)
    def updated(
        logical_id: str,
        resource_json: dict[str, Any],
        resources_map: ResourceMap,
        account_id: str,
        region_name: str,
    ) -> Any:
        stack = _stack_of(resources_map)
        kind = resource_json.get("Type", "")
        started = None if stack is None else _event(stack, logical_id, kind, "UPDATE_IN_PROGRESS")
        resource = update(logical_id, resource_json, resources_map, account_id, region_name)
        if stack is not None and started is not None:
            started.physical_resource_id = getattr(resource, "physical_resource_id", "") or ""
            physical_id = started.physical_resource_id
            _record(stack, started, _event(stack, logical_id, kind, "UPDATE_COMPLETE", physical_id))
        return resource

    return updated


def deleting_with_events(delete_resource: Callable[..., None]) -> Callable[..., None]:
    """moto's `ResourceMap._delete_resource`, reporting DELETE_IN_PROGRESS and DELETE_COMPLETE.

    Reported once the deletion went through: moto retries one that fails (see above).
    """

    @functools.wraps(delete_resource)
    def deleted(self: ResourceMap, parsed_resource: Any, resource_json: dict[str, Any]) -> None:
        stack = _stack_of(self)
        logical_id = getattr(parsed_resource, "logical_resource_id", "")
        kind = resource_json.get("Type", "")
        physical_id = getattr(parsed_resource, "physical_resource_id", "")
        started = None
        if stack is not None:
            started = _event(stack, logical_id, kind, "DELETE_IN_PROGRESS", physical_id)
        delete_resource(self, parsed_resource, resource_json)
        if stack is not None and started is not None:
            _record(stack, started, _event(stack, logical_id, kind, "DELETE_COMPLETE", physical_id))

    return deleted


def resources_in_dependency_order(self: ResourceMap) -> list[str]:
    """Replaces moto's order (DependsOn only): Ref, GetAtt and Sub count too, as on AWS.

    moto created a resource that another refers to only when the other's properties were
    resolved, so the other's events would come first.
    """
    return templates.creation_order(self._resource_json_map)


def delete_in_reverse_dependency_order(self: ResourceMap) -> None:
    """Replaces moto's `ResourceMap.delete`: resources deleted after what depends on them.

    moto deletes in no particular order and retries what fails; the retries are kept (a
    deletion may still have to wait for another), the order is AWS's. A resource with
    `DeletionPolicy: Retain` is kept and reported DELETE_SKIPPED, as on AWS.
    """
    resources: dict[str, Any] = self._resource_json_map
    stack = _stack_of(self)
    remaining: list[str] = []
    for name in reversed(templates.creation_order(resources)):
        parsed = self._parsed_resources.get(name)
        if parsed is None or isinstance(parsed, str):  # never created (or a parameter)
            continue
        if resources[name].get("DeletionPolicy") == "Retain":
            if stack is not None:
                physical_id = getattr(parsed, "physical_resource_id", "")
                kind = resources[name].get("Type", "")
                _record(stack, _event(stack, name, kind, "DELETE_SKIPPED", physical_id))
            continue
        remaining.append(name)
    last_error: Exception | None = None
    while remaining:
        failed: list[str] = []
        for name in remaining:
            try:
                self._delete_resource(self._parsed_resources[name], resources[name])
            except Exception as error:  # wait for another deletion, and try again
                last_error = error
                failed.append(name)
            else:
                self._parsed_resources.pop(name)
        if len(failed) == len(remaining):
            break
        remaining = failed
    if remaining and last_error is not None:
        raise last_error
