"""Parsing a CloudFormation template body safely, and the checks AWS makes before creating.

moto parses templates with PyYAML's unsafe `yaml.Loader`: a `!!python/object/apply` tag runs
code, and an alias bomb ("billion laughs") eats memory while moto's lock is held. Here a
template is read as data only: YAML through a loader built on `yaml.SafeLoader` that knows
CloudFormation's short-form tags and refuses every other tag, every anchor and every alias;
JSON through `json`. Sizes, counts and nesting are bounded by AWS's quotas.

The checks after parsing are pure functions on the parsed dict. They refuse, with AWS's
messages, the template errors AWS refuses at CreateStack before it creates anything: dangling
references, circular dependencies, unknown conditions, malformed sections.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import yaml
from moto.cloudformation.exceptions import ValidationError

MAX_BODY_BYTES = 51_200  # AWS's quota for TemplateBody
MAX_URL_BYTES = 1_000_000  # AWS's quota for a template read from S3 (TemplateURL)
MAX_RESOURCES = 500
MAX_OUTPUTS = 200
MAX_PARAMETERS = 200
MAX_MAPPINGS = 200
MAX_DEPTH = 100  # far deeper than any real template, shallow enough for Python's stack

SECTIONS = frozenset(
    {
        "AWSTemplateFormatVersion",
        "Description",
        "Metadata",
        "Parameters",
        "Rules",
        "Mappings",
        "Conditions",
        "Transform",
        "Resources",
        "Outputs",
    }
)
PSEUDO_PARAMETERS = frozenset(
    {
        "AWS::AccountId",
        "AWS::NoValue",
        "AWS::NotificationARNs",
        "AWS::Partition",
        "AWS::Region",
        "AWS::StackId",
        "AWS::StackName",
        "AWS::URLSuffix",
    }
)
# Short form -> long form. `!Ref` and `!Condition` are not `Fn::` functions.
SHORT_FORMS = {
    "!Ref": "Ref",
    "!Condition": "Condition",
    **{
        f"!{name}": f"Fn::{name}"
        for name in [
            *("Sub", "GetAtt", "Join", "Select", "Split", "If", "Equals", "And", "Or", "Not"),
            *("FindInMap", "Base64", "Cidr", "GetAZs", "ImportValue", "Transform"),
            *("ToJsonString", "Length"),
        ]
    },
}
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def refuse(message: str) -> ValidationError:
    """The error CloudFormation answers for a template it will not take."""
    return ValidationError(message=message)


# ------------------------------------------------------------------------------ parsing


class TemplateLoader(yaml.SafeLoader):
    """SafeLoader with CloudFormation's short-form tags; no anchors, aliases or other tags.

    The pure-Python loader, not CSafeLoader: only its composer lets us see anchors and
    aliases (the C composer resolves them internally) and bound the nesting depth before
    anything is built.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            # Aliases are how a few hundred bytes expand to gigabytes; templates need none.
            raise refuse(
                "Template format error: YAML anchors and aliases are not supported "
                f"({_where(event)})"
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise refuse(_too_deep())
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _where(event: Any) -> str:
    mark = event.start_mark
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _too_deep() -> str:
    return f"Template format error: template is nested more than {MAX_DEPTH} levels deep"


def _construct_short_form(loader: TemplateLoader, node: yaml.Node) -> dict[str, Any]:
    """`!Sub x`, `!Join [a, b]`, `!Base64 {Fn::Sub: x}` -> their long forms."""
    long_form = SHORT_FORMS[node.tag]
    value: Any
    if isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        value = loader.construct_scalar(_scalar(node))
        if long_form == "Fn::GetAtt":  # `!GetAtt Api.ApiEndpoint`; the attribute may hold dots
            value = value.split(".", 1)
    return {long_form: value}


def _construct_as_string(loader: TemplateLoader, node: yaml.Node) -> str:
    # CloudFormation reads `2010-09-09` as text; YAML 1.1 would make it a date.
    return loader.construct_scalar(_scalar(node))


def _scalar(node: yaml.Node) -> yaml.ScalarNode:
    """The node itself, which the loader only hands these constructors for scalars."""
    if not isinstance(node, yaml.ScalarNode):
        raise yaml.constructor.ConstructorError(None, None, "expected a scalar", node.start_mark)
    return node


def _construct_refused(loader: TemplateLoader, node: yaml.Node) -> Any:
    tag = node.tag.replace("tag:yaml.org,2002:", "!!")  # as it was written
    raise refuse(
        f"Template format error: YAML not well-formed. Unsupported tag {tag} "
        f"(line {node.start_mark.line + 1}, column {node.start_mark.column + 1})"
    )


for _tag in SHORT_FORMS:
    TemplateLoader.add_constructor(_tag, _construct_short_form)
TemplateLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_as_string)
# Only JSON's types: no bytes, sets or ordered pairs; None is every tag not named anywhere.
for _tag in ("binary", "set", "omap", "pairs"):
    TemplateLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _construct_refused)
TemplateLoader.add_constructor(None, _construct_refused)


def _parse_yaml(body: str) -> Any:
    loader = TemplateLoader(body)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise refuse(f"Template format error: YAML not well-formed.{where}") from None
    except yaml.YAMLError:
        raise refuse("Template format error: YAML not well-formed.") from None
    except RecursionError:
        raise refuse(_too_deep()) from None
    finally:
        loader.dispose()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse_json(body: str) -> Any:
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise refuse(
            f"Template format error: JSON not well-formed. (line {error.lineno}, "
            f"column {error.colno})"
        ) from None
    except ValueError:
        raise refuse("Template format error: JSON not well-formed.") from None
    except RecursionError:
        raise refuse(_too_deep()) from None


def depth(value: Any) -> int:
    """How deeply lists and maps nest in a parsed value (iterative: the value may be deep)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if level <= MAX_DEPTH:  # no need to look further once it is too deep
            stack.extend((child, level + 1) for child in children)
    return deepest


def parse_body(body: str | bytes, max_bytes: int = MAX_URL_BYTES) -> Any:
    """A template body (JSON or YAML) as plain data: dicts, lists, strings, numbers.

    Raises `ValidationError` for a body that is too large, not well-formed, uses a tag
    CloudFormation does not know, an anchor or alias, or nests more than MAX_DEPTH levels.
    """
    size = len(body.encode("utf-8") if isinstance(body, str) else body)
    if size > max_bytes:
        raise refuse(f"Template may not exceed {max_bytes} bytes in size.")
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    return copy.deepcopy(_parsed_text(text))  # each caller may change its own


# CreateStack and UpdateStack read their body first for its Transform and capabilities, then
# for everything else: the last bodies' data are kept, so that the text is parsed once. Two
# entries of at most 1 MB each (MAX_URL_BYTES); errors are not kept.
@functools.lru_cache(maxsize=2)
def _parsed_text(text: str) -> Any:
    if text.lstrip().startswith("{"):
        try:
            parsed = _parse_json(text)
        except ValidationError as json_error:
            # `{Resources: {...}}` is a YAML flow mapping, not JSON.
            try:
                parsed = _parse_yaml(text)
            except ValidationError:
                raise json_error from None
    else:
        parsed = _parse_yaml(text)
    if depth(parsed) > MAX_DEPTH:
        raise refuse(_too_deep())
    return parsed


# ------------------------------------------------------------------------------ structure


def check_structure(template: Any) -> None:
    """Refuse a parsed template whose sections AWS would not accept."""
    if not isinstance(template, dict):
        raise refuse("Template format error: unsupported structure.")
    # `Globals` belongs to SAM templates, which the SAM transform expands away.
    sections = SECTIONS | {"Globals"} if _declares_sam(template) else SECTIONS
    unknown = sorted(str(key) for key in template if key not in sections)
    if unknown:
        raise refuse(
            f"Template format error: Invalid template property or properties [{', '.join(unknown)}]"
        )
    for section in ("Metadata", "Parameters", "Rules", "Mappings", "Conditions", "Outputs"):
        if section in template and not isinstance(template[section], dict):
            raise refuse(f"Template format error: {section} must be an object (a map)")
    resources = template.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise refuse("Template format error: At least one Resources member must be defined.")
    _check_count("resources", resources, MAX_RESOURCES)
    _check_count("outputs", template.get("Outputs") or {}, MAX_OUTPUTS)
    _check_count("parameters", template.get("Parameters") or {}, MAX_PARAMETERS)
    _check_count("mappings", template.get("Mappings") or {}, MAX_MAPPINGS)
    for name in resources:
        if not (isinstance(name, str) and name.isascii() and name.isalnum()):
            raise refuse(f"Template format error: Resource name {name} is non alphanumeric.")
    for resource in resources.values():
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise refuse(
                "Template format error: Every Resources object must contain a Type member."
            )
        if "Properties" in resource and not isinstance(resource["Properties"], dict):
            raise refuse("Template format error: Every Properties member must be an object.")
        depends_on = resource.get("DependsOn", [])
        names = depends_on if isinstance(depends_on, list) else [depends_on]
        if not all(isinstance(name, str) for name in names):
            raise refuse(
                "Template format error: DependsOn must be a resource name or a list of them"
            )
    for parameter in (template.get("Parameters") or {}).values():
        if not isinstance(parameter, dict) or "Type" not in parameter:
            raise refuse(
                "Template format error: Every Parameters object must contain a Type member."
            )
    for output in (template.get("Outputs") or {}).values():
        if not isinstance(output, dict) or "Value" not in output:
            raise refuse("Template format error: Every Outputs member must contain a Value object")
    for entry in [*resources.values(), *(template.get("Outputs") or {}).values()]:
        if not isinstance(entry.get("Condition", ""), str):
            raise refuse("Template format error: a Condition member must be a condition name")


def _declares_sam(template: dict[str, Any]) -> bool:
    declared = template.get("Transform")
    names = declared if isinstance(declared, list) else [declared]
    return "AWS::Serverless-2016-10-31" in names


def _check_count(kind: str, section: dict[str, Any], maximum: int) -> None:
    if len(section) > maximum:
        raise refuse(
            f"Template format error: Number of {kind}, {len(section)}, is greater than "
            f"maximum allowed, {maximum}"
        )


# ------------------------------------------------------------------------------ references


def intrinsics(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (function name, argument) in a value: `Ref`, `Fn::*` and `Condition` keys."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, argument in item.items():
                if key == "Ref" or key == "Condition" or str(key).startswith("Fn::"):
                    yield key, argument
                stack.append(argument)
        elif isinstance(item, list):
            stack.extend(item)


def sub_variables(argument: Any) -> list[str]:
    """The `${Name}` and `${Resource.Attribute}` names of an Fn::Sub its own map does not set."""
    if isinstance(argument, list) and argument:
        text, variables = argument[0], argument[1] if len(argument) > 1 else {}
    else:
        text, variables = argument, {}
    if not isinstance(text, str):
        return []
    own = variables if isinstance(variables, dict) else {}
    return [
        name.strip()
        for name in _SUB_VARIABLE.findall(text)
        if not name.startswith("!") and name.strip() not in own  # `${!Literal}` is text
    ]


def referenced_resources(value: Any, resources: dict[str, Any]) -> set[str]:
    """Resources a value depends on through Ref, Fn::GetAtt or Fn::Sub."""
    found: set[str] = set()
    for function, argument in intrinsics(value):
        if function == "Ref" and isinstance(argument, str) and argument in resources:
            found.add(argument)
        elif function == "Fn::GetAtt":
            target = _get_att_target(argument)
            if target in resources:
                found.add(target)
        elif function == "Fn::Sub":
            found.update(
                name.split(".", 1)[0]
                for name in sub_variables(argument)
                if name.split(".", 1)[0] in resources
            )
    return found


def _get_att_target(argument: Any) -> str | None:
    """The resource of `Fn::GetAtt: A.B` or `Fn::GetAtt: [A, B]`; None if malformed."""
    if isinstance(argument, str):
        return argument.split(".", 1)[0]
    if isinstance(argument, list) and argument and isinstance(argument[0], str):
        return argument[0]
    return None


def _depends_on(resource: dict[str, Any]) -> list[str]:
    depends_on = resource.get("DependsOn") or []
    return depends_on if isinstance(depends_on, list) else [depends_on]


def check_references(template: dict[str, Any]) -> None:
    """Refuse Ref, GetAtt, Sub, DependsOn and condition names that point at nothing."""
    resources: dict[str, Any] = template["Resources"]
    parameters = set(template.get("Parameters") or {})
    conditions = set(template.get("Conditions") or {})
    names = set(resources) | parameters | PSEUDO_PARAMETERS

    for condition in (template.get("Conditions") or {}).values():
        _check_conditions(condition, conditions, "Conditions")
        dangling = _dangling(condition, parameters | PSEUDO_PARAMETERS, resources={})
        if dangling:
            raise refuse(
                f"Template format error: Unresolved dependencies [{', '.join(dangling)}]. "
                "Cannot reference resources in the Conditions block of the template"
            )
    for block, section in (("Resources", resources), ("Outputs", template.get("Outputs") or {})):
        for entry in section.values():
            if not isinstance(entry, dict):
                continue
            condition = entry.get("Condition")
            if condition is not None and condition not in conditions:
                raise refuse(
                    f"Template format error: Unresolved condition dependency {condition} "
                    f"in the {block} block of the template"
                )
            _check_conditions(entry, conditions, block)
            missing = sorted({name for name in _depends_on(entry) if name not in resources})
            missing += [name for name in _dangling(entry, names, resources) if name not in missing]
            if missing:
                raise refuse(
                    f"Template format error: Unresolved resource dependencies "
                    f"[{', '.join(missing)}] in the {block} block of the template"
                )


def _check_conditions(value: Any, conditions: set[str], block: str) -> None:
    for function, argument in intrinsics(value):
        if function == "Fn::If":
            name = argument[0] if isinstance(argument, list) and argument else None
            if not isinstance(name, str) or name not in conditions:
                raise refuse(f"Template error: unresolved condition dependency {name} in Fn::If")
        elif (
            function == "Condition"
            and block == "Conditions"  # `{Condition: Name}` inside Fn::And/Or/Not
            and isinstance(argument, str)
            and argument not in conditions
        ):
            raise refuse(
                f"Template format error: Unresolved condition dependency {argument} "
                "in the Conditions block of the template"
            )


def _dangling(value: Any, names: set[str], resources: dict[str, Any]) -> list[str]:
    """Names a value's Ref and Fn::Sub use that are not defined (GetAtt raises on its own)."""
    missing: list[str] = []
    for function, argument in intrinsics(value):
        if function == "Ref" and not isinstance(argument, str):
            raise refuse("Template error: every Ref object must have a single String value.")
        if function == "Ref" and argument not in names:
            missing.append(argument)
        elif function == "Fn::GetAtt":
            target = _get_att_target(argument)
            if target is None:
                raise refuse(
                    "Template error: every Fn::GetAtt object requires two non-empty parameters"
                )
            if target not in resources:
                raise refuse(
                    f"Template error: instance of Fn::GetAtt references undefined resource {target}"
                )
        elif function == "Fn::Sub":
            for name in sub_variables(argument):
                target = name.split(".", 1)[0] if "." in name else name
                if target not in (resources if "." in name else names):
                    missing.append(target)
    return sorted(set(missing))


def dependencies(resources: dict[str, Any]) -> dict[str, set[str]]:
    """For each resource, the resources it needs first: DependsOn, and Ref/GetAtt/Sub uses."""
    return {
        name: (
            {str(target) for target in _depends_on(resource) if target in resources}
            | referenced_resources(resource.get("Properties"), resources)
        )
        if isinstance(resource, dict)
        else set()
        for name, resource in resources.items()
    }


def creation_order(resources: dict[str, Any]) -> list[str]:
    """The resources in an order CloudFormation may create them: each after what it needs.

    Template order is kept where dependencies allow. Templates with cycles are refused before
    this is used; a cycle here still ends (its members come in template order).
    """
    edges = dependencies(resources)
    order: list[str] = []
    placed: set[str] = set()
    for start in resources:
        # Depth first without recursion: a deep chain of resources cannot exhaust the stack.
        path: list[tuple[str, list[str]]] = [(start, sorted(edges[start]))]
        visiting = {start}
        while path:
            name, pending = path[-1]
            if name in placed:
                path.pop()
                continue
            while pending and (pending[-1] in placed or pending[-1] in visiting):
                pending.pop()
            if pending:
                target = pending.pop()
                visiting.add(target)
                path.append((target, sorted(edges[target])))
                continue
            path.pop()
            placed.add(name)
            order.append(name)
    return order


def check_cycles(template: dict[str, Any]) -> None:
    """Refuse resources that depend on each other, directly or through others."""
    edges = dependencies(template["Resources"])
    cyclic = in_cycles(edges)
    if cyclic:
        raise refuse(f"Circular dependency between resources: [{', '.join(sorted(cyclic))}]")


def in_cycles(edges: dict[str, set[str]]) -> set[str]:
    """Nodes on a cycle or between cycles: what is left after peeling off sinks and sources."""
    remaining = {node: set(targets) for node, targets in edges.items()}
    changed = True
    while changed:
        changed = False
        incoming = {target for targets in remaining.values() for target in targets}
        for node in list(remaining):
            if not remaining[node] or node not in incoming:
                del remaining[node]
                changed = True
        for targets in remaining.values():
            targets.intersection_update(remaining)
    return set(remaining)


def parse(
    body: str | bytes,
    max_bytes: int = MAX_URL_BYTES,
    expand: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A template body parsed safely and checked as AWS checks it before CreateStack.

    `expand` runs the template's transforms between the structure checks and the reference
    checks, as CloudFormation does: a SAM template may refer to resources only its expansion
    makes (a function's implicit role), and the expansion is checked again.
    """
    template = parse_body(body, max_bytes)
    check_structure(template)
    if expand is not None and "Transform" in template:
        template = expand(template)
        check_structure(template)
    check_references(template)
    check_cycles(template)
    return template
