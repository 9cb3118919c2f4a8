"""CloudFormation change sets as AWS runs them: the path `aws cloudformation deploy` takes.

`aws cloudformation deploy` and `sam deploy` never call CreateStack or UpdateStack: they
create a change set (CREATE when the stack does not exist, or exists only in
REVIEW_IN_PROGRESS; UPDATE otherwise, with `UsePreviousValue` for the parameters not given),
wait for it, and execute it. An UPDATE change set with nothing to change ends FAILED with the
reason the CLI turns into "No changes to deploy". moto 5.2.5's change sets differ from AWS
where that path notices: a stack made by one has no Outputs and ignores its parameters'
defaults, an unchanged update is refused instead of ending FAILED, change sets are found by
name across every stack, and executing one that FAILED still runs it.

UpdateStack is here too (`update_stack`): it shares the question "what would change?".

The request handlers here replace moto's five change-set actions (`local_aws.patches.moto`
puts them in place). A change set is kept in moto's `change_sets` dict; executing one makes or
updates the stack through moto's own `Stack`, so Outputs, Parameters, Tags and events are the
ones CreateStack and UpdateStack give.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import moto.cloudformation.models as moto_models
from moto.cloudformation.exceptions import (
    AlreadyExistsException,
    CloudFormationError,
    ValidationError,
)
from moto.cloudformation.models import CloudFormationBackend, Stack
from moto.cloudformation.responses import CloudFormationResponse
from moto.cloudformation.utils import (
    generate_changeset_id,
    generate_stack_id,
    validate_create_change_set,
)
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow

from local_aws import capabilities, cloudformation, templates

NO_CHANGES = (
    "The submitted information didn't contain changes. "
    "Submit different information to create a change set."
)
# AWS documents no quota on change sets per stack; each one keeps a template of up to 1 MB,
# so local_aws bounds them to keep what requests can make it hold small.
MAX_CHANGE_SETS_PER_STACK = 100

# Properties whose change replaces the resource (AWS's "Update requires: Replacement"), for
# the types workshop templates use; `"*"`: every property. Other types report no Replacement.
REPLACING_PROPERTIES: dict[str, frozenset[str]] = {
    "AWS::DynamoDB::Table": frozenset({"TableName", "KeySchema"}),
    "AWS::IAM::Role": frozenset({"RoleName", "Path"}),
    "AWS::Lambda::Function": frozenset({"FunctionName", "PackageType"}),
    "AWS::Lambda::Permission": frozenset({"*"}),
    "AWS::ApiGatewayV2::Api": frozenset({"ProtocolType"}),
    "AWS::ApiGatewayV2::Route": frozenset({"ApiId"}),
    "AWS::ApiGatewayV2::Integration": frozenset({"ApiId"}),
    "AWS::ApiGatewayV2::IntegrationResponse": frozenset({"ApiId", "IntegrationId"}),
    "AWS::ApiGatewayV2::RouteResponse": frozenset({"ApiId", "RouteId"}),
    "AWS::ApiGatewayV2::Deployment": frozenset({"ApiId"}),
    "AWS::ApiGatewayV2::Stage": frozenset({"ApiId", "StageName"}),
}


class ChangeSetNotFound(CloudFormationError):
    """DescribeChangeSet and friends for a change set that does not exist (HTTP 404)."""

    code = "ChangeSetNotFound"

    def __init__(self, name: str) -> None:
        super().__init__(f"ChangeSet [{name}] does not exist")


class InvalidChangeSetStatus(CloudFormationError):
    """ExecuteChangeSet for a change set that cannot run (FAILED, or already executed)."""

    code = "InvalidChangeSetStatus"


class LimitExceeded(CloudFormationError):
    code = "LimitExceededException"


class Change(moto_models.Change):
    """One row of DescribeChangeSet's Changes (moto wraps it as `ResourceChange`), with the
    physical id and Replacement moto's lacks."""

    def __init__(
        self,
        action: str,
        logical_resource_id: str,
        resource_type: str,
        physical_resource_id: str | None = None,
        replacement: str | None = None,
    ) -> None:
        super().__init__(action, logical_resource_id, resource_type)
        self.physical_resource_id = physical_resource_id
        self.replacement = replacement


class ChangeSet(moto_models.ChangeSet):
    """A change set: what DescribeChangeSet and ListChangeSets show, and what executing needs.

    Attribute names are the snake_case of AWS's response fields: moto's serializer reads them.
    A subclass of moto's so that it fits moto's `change_sets` dict; moto's constructor is not
    called (it parses the template unsafely and diffs against an empty stack), nor its methods.
    """

    def __init__(
        self,
        *,
        change_set_type: str,
        name: str,
        stack: Stack,
        template: str,
        template_dict: dict[str, Any],
        parameters: dict[str, str],
        request: dict[str, Any],
    ) -> None:
        self.change_set_type = change_set_type
        self.change_set_name = name
        self.change_set_id = generate_changeset_id(name, stack.region_name, stack.account_id)
        self.stack_id = stack.stack_id
        self.stack_name = stack.name
        self.template = template
        self.template_dict = template_dict
        self.input_parameters = parameters
        self.parameters = shown_parameters(template_dict, parameters)
        self.description = request.get("Description")  # type: ignore[assignment]  # moto: str
        self.capabilities: list[str] = request.get("Capabilities") or []
        self.notification_arns: list[str] = request.get("NotificationARNs") or []
        # None: the request named no tags, and executing keeps the stack's.
        self.given_tags = _tag_map(request.get("Tags"))
        self.tags = dict(stack.tags or {}) if self.given_tags is None else self.given_tags
        self.role_arn: str | None = request.get("RoleARN")
        self.creation_time: datetime = utcnow()
        self.changes: list[moto_models.Change] = []
        self.status = "CREATE_COMPLETE"
        self.execution_status = "AVAILABLE"
        self.status_reason: str | None = None


def _tag_map(tags: list[dict[str, str]] | None) -> dict[str, str] | None:
    """Request tags as moto's Stack keeps them, or None if the request named none."""
    if tags is None:
        return None
    return {tag["Key"]: tag["Value"] for tag in tags}


# ------------------------------------------------------------------------------ parameters


def effective_parameters(template: dict[str, Any], given: dict[str, str]) -> dict[str, str]:
    """Every parameter of the template: the value given, else its default (None if neither)."""
    declared = template.get("Parameters") or {}
    return {
        name: given[name] if name in given else _default(spec) for name, spec in declared.items()
    }


def _default(spec: Any) -> Any:
    default = spec.get("Default") if isinstance(spec, dict) else None
    return None if default is None else str(default)


def shown_parameters(template: dict[str, Any], given: dict[str, str]) -> dict[str, str]:
    """The parameters as DescribeChangeSet lists them: NoEcho values masked."""
    declared = template.get("Parameters") or {}
    return {
        name: "****" if (declared.get(name) or {}).get("NoEcho") in (True, "true") else value
        for name, value in effective_parameters(template, given).items()
    }


def stack_effective_parameters(stack: Stack) -> dict[str, str]:
    """The stack's parameters as they stand: the values it was given, else the defaults."""
    return effective_parameters(stack.template_dict or {}, stack.parameters or {})


def resolve_parameters(
    request: list[dict[str, Any]], template: dict[str, Any], stack: Stack | None
) -> dict[str, str]:
    """The parameters a CreateChangeSet request gives, `UsePreviousValue` read from `stack`.

    Refused with AWS's messages: a parameter the template does not declare, and one with no
    value and no default.
    """
    previous = stack_effective_parameters(stack) if stack is not None else {}
    given: dict[str, str] = {}
    for parameter in request:
        key = parameter.get("ParameterKey", "")
        if parameter.get("UsePreviousValue") in (True, "true"):
            if previous.get(key) is None:
                raise ValidationError(
                    message=f"Invalid input for parameter key {key}. "
                    "Cannot specify usePreviousValue as true for a parameter key not in the "
                    "previous template"
                )
            given[key] = previous[key]
        else:
            given[key] = str(parameter.get("ParameterValue", ""))
    declared = template.get("Parameters") or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ValidationError(
            message=f"Parameters: [{', '.join(unknown)}] do not exist in the template"
        )
    missing = sorted(k for k, v in effective_parameters(template, given).items() if v is None)
    if missing:
        raise ValidationError(message=f"Parameters: [{', '.join(missing)}] must have values")
    return given


# ------------------------------------------------------------------------------ changes


def changes_between(
    stack: Stack | None,
    new_template: dict[str, Any],
    new_parameters: dict[str, str],
) -> list[moto_models.Change]:
    """The resource changes from what the stack has (nothing, for a new stack) to the new one.

    A resource is modified when its own definition changed, or when a parameter it refers to
    changed value (AWS re-evaluates such resources too).
    """
    new = new_template.get("Resources") or {}
    if stack is None or not stack.template_dict:
        return [Change("Add", name, resource.get("Type", "")) for name, resource in new.items()]
    old = stack.template_dict.get("Resources") or {}
    before = stack_effective_parameters(stack)
    after = effective_parameters(new_template, new_parameters)
    changed_parameters = {k: v for k, v in after.items() if before.get(k) != v}
    physical = {
        getattr(r, "logical_resource_id", None): getattr(r, "physical_resource_id", None)
        for r in stack.stack_resources
    }
    changes: list[moto_models.Change] = []
    for name, resource in new.items():
        if name not in old:
            changes.append(Change("Add", name, resource.get("Type", "")))
        elif resource != old[name] or templates.referenced_resources(resource, changed_parameters):
            changes.append(
                Change(
                    "Modify",
                    name,
                    resource.get("Type", ""),
                    physical_resource_id=_text_or_none(physical.get(name)),
                    replacement=replacement(old[name], resource, changed_parameters),
                )
            )
    for name, resource in old.items():
        if name not in new:
            changes.append(
                Change(
                    "Remove",
                    name,
                    resource.get("Type", ""),
                    physical_resource_id=_text_or_none(physical.get(name)),
                )
            )
    return changes


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def replacement(
    old: dict[str, Any], new: dict[str, Any], changed_parameters: dict[str, Any] | None = None
) -> str | None:
    """ "True" if a property that replaces the resource changed, "False" if only others did;
    None for a type whose replacing properties are not listed here. A property that refers
    to a parameter in `changed_parameters` has changed, though its text has not."""
    kind = new.get("Type", "")
    replacing = REPLACING_PROPERTIES.get(kind)
    if replacing is None or old.get("Type") != kind:
        return None if replacing is None else "True"
    old_properties, new_properties = old.get("Properties") or {}, new.get("Properties") or {}
    changed = {
        key
        for key in set(old_properties) | set(new_properties)
        if old_properties.get(key) != new_properties.get(key)
        or templates.referenced_resources(new_properties.get(key), changed_parameters or {})
    }
    if changed and ("*" in replacing or changed & replacing):
        return "True"
    return "False"


# ------------------------------------------------------------------------------ lookups


def find_stack(backend: CloudFormationBackend, name_or_id: str) -> Stack | None:
    """The live stack with this name or id, or None."""
    for stack in backend.stacks.values():
        if name_or_id in (stack.name, stack.stack_id):
            return stack
    return None


def stack_change_sets(backend: CloudFormationBackend, stack: Stack) -> list[ChangeSet]:
    return [
        change_set
        for change_set in backend.change_sets.values()
        if isinstance(change_set, ChangeSet) and change_set.stack_id == stack.stack_id
    ]


def find_change_set(
    backend: CloudFormationBackend, name_or_arn: str, stack_name: str | None
) -> ChangeSet:
    """The change set named by ARN, or by name within the stack `stack_name` names."""
    if not name_or_arn:
        raise ValidationError(message="ChangeSetName must be specified.")
    found = backend.change_sets.get(name_or_arn)
    if isinstance(found, ChangeSet):
        return found
    if name_or_arn.startswith("arn:"):
        raise ChangeSetNotFound(name_or_arn)
    if not stack_name:
        raise ValidationError(
            message="StackName must be specified if ChangeSetName is not specified as an ARN."
        )
    stack = find_stack(backend, stack_name)
    if stack is None:
        raise ValidationError(message=f"Stack [{stack_name}] does not exist")
    for change_set in stack_change_sets(backend, stack):
        if change_set.change_set_name == name_or_arn:
            return change_set
    raise ChangeSetNotFound(name_or_arn)


# ------------------------------------------------------------------------------ handlers


def create_change_set(self: CloudFormationResponse) -> ActionResult:
    """CreateChangeSet: the change set is computed at once (AWS does it in the background)."""
    backend = self.cloudformation_backend
    stack_name = self._get_param("StackName")
    name = self._get_param("ChangeSetName")
    validate_create_change_set(name)
    change_set_type = self._get_param("ChangeSetType") or "CREATE"
    if change_set_type not in ("CREATE", "UPDATE"):
        raise ValidationError(
            message=f"ChangeSetType {change_set_type} is not supported by local_aws "
            "(use CREATE or UPDATE)"
        )
    stack = find_stack(backend, stack_name)
    if change_set_type == "CREATE" and stack is not None and stack.status != "REVIEW_IN_PROGRESS":
        raise AlreadyExistsException(
            f"Stack [{stack_name}] already exists and cannot be created again with the "
            f"changeSet [{name}]."
        )
    if change_set_type == "UPDATE" and (stack is None or stack.status == "REVIEW_IN_PROGRESS"):
        raise ValidationError(message=f"Stack [{stack_name}] does not exist")
    body = _template_body(self, stack if change_set_type == "UPDATE" else None)
    template_dict = cloudformation.parse_template_strictly(body)
    capabilities.check_iam(template_dict, self._get_param("Capabilities", []))
    existing = stack if change_set_type == "UPDATE" else None
    parameters = resolve_parameters(self._get_param("Parameters", []), template_dict, existing)
    if stack is not None and len(stack_change_sets(backend, stack)) >= MAX_CHANGE_SETS_PER_STACK:
        raise LimitExceeded(
            f"Stack [{stack_name}] has {MAX_CHANGE_SETS_PER_STACK} change sets, the most "
            "local_aws keeps: delete some with DeleteChangeSet"
        )
    if stack is None:
        stack = _review_stack(backend, stack_name, self)
    change_set = ChangeSet(
        change_set_type=change_set_type,
        name=name,
        stack=stack,
        template=body,
        template_dict=template_dict,
        parameters=parameters,
        request={
            "Description": self._get_param("Description"),
            "Capabilities": self._get_param("Capabilities", []),
            "NotificationARNs": self._get_param("NotificationARNs", []),
            "Tags": self._get_param("Tags") if self._get_param("Tags") is not None else None,
            "RoleARN": self._get_param("RoleARN"),
        },
    )
    change_set.changes = changes_between(existing, template_dict, parameters)
    if existing is not None and not _changes_anything(existing, change_set):
        change_set.status = "FAILED"
        change_set.execution_status = "UNAVAILABLE"
        change_set.status_reason = NO_CHANGES
    backend.change_sets[change_set.change_set_id] = change_set
    return ActionResult({"Id": change_set.change_set_id, "StackId": stack.stack_id})


def _template_body(self: CloudFormationResponse, stack: Stack | None) -> str:
    body = self._get_param("TemplateBody")
    url = self._get_param("TemplateURL")
    use_previous = self._get_bool_param("UsePreviousTemplate", False)
    if use_previous and (body or url):
        raise ValidationError(
            message="You cannot specify both usePreviousTemplate and Template Body/Template URL."
        )
    if use_previous:
        if stack is None:
            raise ValidationError(message="usePreviousTemplate needs an existing stack (UPDATE)")
        return str(stack.template)
    if url:
        return self._get_stack_from_s3_url(url)
    if not body:
        raise ValidationError(message="Either Template URL or Template Body must be specified.")
    return str(body)


def _review_stack(backend: CloudFormationBackend, name: str, self: CloudFormationResponse) -> Stack:
    """The empty stack a CREATE change set makes: REVIEW_IN_PROGRESS until it is executed."""
    stack = Stack(  # type: ignore[abstract]  # moto's own, made as moto makes it
        stack_id=generate_stack_id(name, backend.region_name, backend.account_id),
        name=name,
        template={},
        parameters={},
        account_id=backend.account_id,
        region_name=backend.region_name,
    )
    stack.status = "REVIEW_IN_PROGRESS"
    stack._add_stack_event("REVIEW_IN_PROGRESS", resource_status_reason="User Initiated")
    backend.stacks[stack.stack_id] = stack
    return stack


def _changes_anything(stack: Stack, change_set: ChangeSet) -> bool:
    """Whether executing would change the stack: template, parameter values or tags."""
    if change_set.changes:
        return True
    if change_set.template_dict != (stack.template_dict or {}):
        return True
    after = effective_parameters(change_set.template_dict, change_set.input_parameters)
    if after != stack_effective_parameters(stack):
        return True
    tags = change_set.given_tags
    return tags is not None and tags != (stack.tags or {})


def update_stack(self: CloudFormationResponse) -> ActionResult:
    """UpdateStack as AWS runs it.

    An update that changes nothing (template, parameter values, tags) is refused with AWS's
    ValidationError "No updates are to be performed."; moto checks this only when the request
    names parameters, and compares the template's text, not what it says. A parameter the
    request leaves out takes its default, as on AWS (moto keeps the old value, leaves the
    resources that use it unchanged, and fails on `UsePreviousValue` for a defaulted one).
    """
    backend = self.cloudformation_backend
    stack = backend.get_stack(self._get_param("StackName"))
    if stack.status in ("ROLLBACK_COMPLETE", "REVIEW_IN_PROGRESS"):
        raise ValidationError(
            message=f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated."
        )
    if self._get_bool_param("UsePreviousTemplate", False):
        body = str(stack.template)
    else:
        body = self._get_param("TemplateBody")
        url = self._get_param("TemplateURL")
        if not body and url:
            body = self._get_stack_from_s3_url(url)
        if not body:
            raise ValidationError(message="Either Template URL or Template Body must be specified.")
    new_template = cloudformation.parse_template_strictly(body)
    request_parameters = self._get_param("Parameters", [])
    for parameter in request_parameters:
        if parameter.get("UsePreviousValue") in (True, "true") and parameter.get("ParameterValue"):
            raise ValidationError(
                message=f"Invalid input for parameter key {parameter['ParameterKey']}. Cannot "
                "specify usePreviousValue as true and non empty value for a parameter"
            )
    given = resolve_parameters(request_parameters, new_template, stack)
    parameters = effective_parameters(new_template, given)
    tags = _tag_map(self._get_param("Tags")) or None  # none given: the stack keeps its tags
    unchanged = (
        new_template == (stack.template_dict or {})
        and parameters == stack_effective_parameters(stack)
        and (tags is None or tags == (stack.tags or {}))
    )
    if unchanged:
        raise ValidationError(message="No updates are to be performed.")
    _update(stack, body, self._get_param("RoleARN"), parameters, tags)
    return ActionResult({"StackId": stack.stack_id})


def _update(
    stack: Stack,
    body: str,
    role_arn: str | None,
    parameters: dict[str, str],
    tags: dict[str, str] | None,
) -> None:
    """moto's stack update, given every parameter's value so that none is left stale.

    moto marks a resource modified when a parameter it uses differs from the value the stack
    was given; a parameter that had its default was given none, so it is filled in first.
    """
    stack.resource_map.input_parameters = stack_effective_parameters(stack)
    stack.update(body, role_arn, parameters=parameters, tags=tags)
    stack.parameters = parameters


def describe_change_set(self: CloudFormationResponse) -> ActionResult:
    """DescribeChangeSet, by ARN or by name and stack."""
    return ActionResult(
        find_change_set(
            self.cloudformation_backend,
            self._get_param("ChangeSetName"),
            self._get_param("StackName"),
        )
    )


def list_change_sets(self: CloudFormationResponse) -> ActionResult:
    """ListChangeSets: the change sets of one stack."""
    backend = self.cloudformation_backend
    stack_name = self._get_param("StackName")
    stack = find_stack(backend, stack_name or "")
    if stack is None:
        raise ValidationError(message=f"Stack [{stack_name}] does not exist")
    return ActionResult({"Summaries": summaries(stack_change_sets(backend, stack))})


def delete_change_set(self: CloudFormationResponse) -> EmptyResult:
    """DeleteChangeSet. The stack a CREATE change set made stays, REVIEW_IN_PROGRESS, as on AWS."""
    backend = self.cloudformation_backend
    change_set = find_change_set(
        backend, self._get_param("ChangeSetName"), self._get_param("StackName")
    )
    del backend.change_sets[change_set.change_set_id]
    return EmptyResult()


def execute_change_set(self: CloudFormationResponse) -> EmptyResult:
    """ExecuteChangeSet: create or update the stack as CreateStack and UpdateStack do.

    As on AWS, the stack's other change sets are deleted: they no longer describe it.
    """
    backend = self.cloudformation_backend
    change_set = find_change_set(
        backend, self._get_param("ChangeSetName"), self._get_param("StackName")
    )
    if change_set.execution_status != "AVAILABLE":
        raise InvalidChangeSetStatus(
            f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current "
            f"status of [{change_set.status}]"
        )
    stack = backend.stacks[change_set.stack_id]
    if change_set.change_set_type == "CREATE":
        stack = _create_stack(backend, stack, change_set)
    else:
        _update(
            stack,
            change_set.template,
            change_set.role_arn,
            effective_parameters(change_set.template_dict, change_set.input_parameters),
            change_set.given_tags,
        )
    cloudformation.record_capabilities(stack, change_set.capabilities)
    change_set.execution_status = "EXECUTE_COMPLETE"
    for other in stack_change_sets(backend, stack):
        if other is not change_set:
            del backend.change_sets[other.change_set_id]
    return EmptyResult()


def _create_stack(backend: CloudFormationBackend, review: Stack, change_set: ChangeSet) -> Stack:
    """The REVIEW_IN_PROGRESS stack replaced by one made from the change set, then created.

    moto's `Stack` reads its template when it is made, so the stack is made anew with the
    change set's template, parameters and tags, keeping the review stack's id and events.
    """
    stack = Stack(  # type: ignore[abstract]  # moto's own, made as moto makes it
        stack_id=review.stack_id,
        name=review.name,
        template=change_set.template,
        parameters=change_set.input_parameters,
        account_id=review.account_id,
        region_name=review.region_name,
        notification_arns=change_set.notification_arns,
        tags=change_set.given_tags,
        role_arn=change_set.role_arn,
        cross_stack_resources=backend.exports,
    )
    stack.events = review.events
    stack.creation_time = review.creation_time
    backend.stacks[stack.stack_id] = stack
    backend._validate_export_uniqueness(stack)
    for export in stack.exports:
        backend.exports[export.name] = export
    stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
    try:
        stack.create_resources()
    except Exception as error:  # as on AWS, a failed creation rolls back
        cloudformation.roll_back(stack, error)
    return stack


def summaries(change_sets: Iterable[ChangeSet]) -> list[ChangeSet]:
    """Change sets in the order they were made (ListChangeSets' order)."""
    return sorted(change_sets, key=lambda change_set: change_set.creation_time)
