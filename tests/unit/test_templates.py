"""Template parsing and the checks AWS makes before CreateStack, without a server."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
import yaml
from moto.cloudformation.exceptions import ValidationError

from local_aws import cloudformation, templates

TOPIC = "  {name}:\n    Type: AWS::SNS::Topic\n"


def refused(body: str) -> str:
    """The message a template is refused with (fails the test if it is accepted)."""
    with pytest.raises(ValidationError) as error:
        templates.parse(body)
    return error.value.message


def test_short_forms_become_long_forms() -> None:
    template = templates.parse(
        "Parameters: {Stage: {Type: String}}\n"
        "Resources:\n"
        "  Topic:\n"
        "    Type: AWS::SNS::Topic\n"
        "    Properties:\n"
        "      TopicName: !Join ['-', [!Ref Stage, !Select [0, !Split [',', 'a,b']]]]\n"
        "      DisplayName: !Sub '${Stage}-${!Literal}'\n"
        "      Tags: [{Key: k, Value: !Base64 {'Fn::Sub': x}}]\n"
        "Outputs:\n"
        "  Endpoint: {Value: !GetAtt Topic.TopicArn}\n"
        "  Dotted: {Value: !GetAtt Topic.Some.Attribute}\n"
        "  Listed: {Value: !GetAtt [Topic, TopicArn]}\n"
    )
    properties = template["Resources"]["Topic"]["Properties"]
    assert properties["TopicName"] == {
        "Fn::Join": ["-", [{"Ref": "Stage"}, {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}]]
    }
    assert properties["DisplayName"] == {"Fn::Sub": "${Stage}-${!Literal}"}
    assert properties["Tags"][0]["Value"] == {"Fn::Base64": {"Fn::Sub": "x"}}
    outputs = template["Outputs"]
    assert outputs["Endpoint"]["Value"] == {"Fn::GetAtt": ["Topic", "TopicArn"]}
    assert outputs["Dotted"]["Value"] == {"Fn::GetAtt": ["Topic", "Some.Attribute"]}
    assert outputs["Listed"]["Value"] == {"Fn::GetAtt": ["Topic", "TopicArn"]}


def test_every_documented_short_form_is_known() -> None:
    names = "Ref Sub GetAtt Join Select Split If Equals And Or Not FindInMap Base64 Cidr GetAZs"
    names += " ImportValue Condition Transform ToJsonString Length"
    assert set(templates.SHORT_FORMS) == {f"!{name}" for name in names.split()}


def test_version_date_stays_text() -> None:
    template = templates.parse(
        "AWSTemplateFormatVersion: 2010-09-09\nResources:\n" + TOPIC.format(name="T")
    )
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"


@pytest.mark.parametrize(
    "tag",
    [
        '!!python/object/apply:os.system ["true"]',
        "!!python/name:os.system",
        "!!binary aGVsbG8=",
        "!!set {a: null}",
        "!Unknown x",
    ],
)
def test_other_tags_are_refused(tag: str) -> None:
    message = refused(
        f"Resources:\n  T:\n    Type: AWS::SNS::Topic\n    Properties:\n      X: {tag}\n"
    )
    assert message.startswith("Template format error: YAML not well-formed. Unsupported tag")


def test_unsafe_tag_is_named_as_written() -> None:
    assert "!!python/object/apply:os.system" in refused('!!python/object/apply:os.system ["x"]')


def test_anchors_and_aliases_are_refused() -> None:
    assert "anchors and aliases" in refused("a: &x [1]\nResources: {}\n")
    assert "anchors and aliases" in refused("Resources: {A: {Type: AWS::SNS::Topic}}\nb: *x\n")


def test_deep_nesting_is_refused_in_yaml_and_json() -> None:
    assert "nested more than 100" in refused("Resources: " + "[" * 500 + "]" * 500)
    assert "nested more than 100" in refused('{"Resources": ' + "[" * 5000 + "]" * 5000 + "}")


def test_json_templates_are_read_as_json() -> None:
    body = json.dumps({"Resources": {"T": {"Type": "AWS::SNS::Topic"}}})
    assert templates.parse(body)["Resources"]["T"]["Type"] == "AWS::SNS::Topic"
    assert refused('{"Resources": ').startswith(
        "Template format error: JSON not well-formed. (line"
    )


def test_yaml_flow_mapping_is_not_mistaken_for_json() -> None:
    assert templates.parse("{Resources: {T: {Type: AWS::SNS::Topic}}}")["Resources"]["T"]


def test_malformed_yaml_names_the_line() -> None:
    message = refused("Resources:\n  T: [\n")
    assert message.startswith("Template format error: YAML not well-formed. (line")


def test_size_is_bounded() -> None:
    body = "Resources:\n" + TOPIC.format(name="T") + "# " + "x" * templates.MAX_URL_BYTES
    assert refused(body) == f"Template may not exceed {templates.MAX_URL_BYTES} bytes in size."


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "Template format error: unsupported structure."),
        ("[1, 2]", "Template format error: unsupported structure."),
        ("just text", "Template format error: unsupported structure."),
        ("Description: x", "Template format error: At least one Resources member must be defined."),
        ("Resources: [a]", "Template format error: At least one Resources member must be defined."),
        ("Resources: {}", "Template format error: At least one Resources member must be defined."),
        (
            "Resources: {T: {Properties: {}}}",
            "Template format error: Every Resources object must contain a Type member.",
        ),
        (
            "Resources: {T: text}",
            "Template format error: Every Resources object must contain a Type member.",
        ),
        (
            "Resources: {T: {Type: AWS::SNS::Topic}}\nOutputs: [a]",
            "Template format error: Outputs must be an object (a map)",
        ),
        (
            "Resources: {T: {Type: AWS::SNS::Topic}}\nOutputs: {O: {Description: d}}",
            "Template format error: Every Outputs member must contain a Value object",
        ),
        (
            "Parameters: {P: {Default: x}}\nResources: {T: {Type: AWS::SNS::Topic}}",
            "Template format error: Every Parameters object must contain a Type member.",
        ),
        (
            "Resource: {T: {Type: AWS::SNS::Topic}}\nResources: {T: {Type: AWS::SNS::Topic}}",
            "Template format error: Invalid template property or properties [Resource]",
        ),
    ],
)
def test_malformed_sections_are_refused(body: str, message: str) -> None:
    assert refused(body) == message


@pytest.mark.parametrize(
    ("section", "maximum"),
    [("Resources", 500), ("Outputs", 200), ("Parameters", 200), ("Mappings", 200)],
)
def test_section_sizes_are_bounded(section: str, maximum: int) -> None:
    entries = {
        "Resources": {"Type": "AWS::SNS::Topic"},
        "Outputs": {"Value": "x"},
        "Parameters": {"Type": "String"},
        "Mappings": {"k": {"v": "x"}},
    }[section]
    template = {"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}
    template[section] = {f"E{index}": entries for index in range(maximum + 1)}
    message = refused(json.dumps(template))
    assert message == (
        f"Template format error: Number of {section.lower()}, {maximum + 1}, "
        f"is greater than maximum allowed, {maximum}"
    )
    template[section] = {f"E{index}": entries for index in range(maximum)}
    templates.parse(json.dumps(template))  # at the quota is fine


def test_circular_dependencies_are_refused() -> None:
    body = "Resources:\n" + TOPIC.format(name="A") + "    DependsOn: B\n"
    body += TOPIC.format(name="B") + "    Properties: {TopicName: !GetAtt C.TopicName}\n"
    body += TOPIC.format(name="C") + "    Properties: {TopicName: !Sub '${A}'}\n"
    body += TOPIC.format(name="Outside") + "    DependsOn: A\n"
    assert refused(body) == "Circular dependency between resources: [A, B, C]"


def test_unknown_depends_on_is_refused() -> None:
    body = "Resources:\n" + TOPIC.format(name="A") + "    DependsOn: [Missing]\n"
    assert refused(body) == (
        "Template format error: Unresolved resource dependencies [Missing] "
        "in the Resources block of the template"
    )


@pytest.mark.parametrize(
    ("value", "missing"),
    [
        ("!Ref Missing", "Missing"),
        ("!Sub '${Missing}'", "Missing"),
        ("!Sub '${Missing.Arn}'", "Missing"),
        ("!Sub ['${Other}', {Own: x}]", "Other"),
    ],
)
def test_unknown_references_are_refused(value: str, missing: str) -> None:
    body = "Resources:\n" + TOPIC.format(name="A") + f"    Properties: {{TopicName: {value}}}\n"
    assert refused(body) == (
        f"Template format error: Unresolved resource dependencies [{missing}] "
        "in the Resources block of the template"
    )


def test_ref_of_a_list_is_refused() -> None:
    body = "Resources:\n" + TOPIC.format(name="A") + "    Properties: {TopicName: !Ref [A]}\n"
    assert refused(body) == "Template error: every Ref object must have a single String value."


def test_unknown_get_att_is_refused_as_aws_does() -> None:
    body = "Resources:\n" + TOPIC.format(name="A") + "    Properties: {TopicName: !GetAtt B.Arn}\n"
    assert refused(body) == (
        "Template error: instance of Fn::GetAtt references undefined resource B"
    )


def test_unknown_output_reference_is_refused() -> None:
    body = "Resources:\n" + TOPIC.format(name="A") + "Outputs: {O: {Value: !Ref Gone}}\n"
    assert refused(body) == (
        "Template format error: Unresolved resource dependencies [Gone] "
        "in the Outputs block of the template"
    )


def test_known_references_are_accepted() -> None:
    body = "Parameters: {Stage: {Type: String}}\nConditions:\n"
    body += "  Prod: !Equals [!Ref Stage, prod]\n  NotProd: !Not [{Condition: Prod}]\n"
    body += "Resources:\n" + TOPIC.format(name="A")
    body += TOPIC.format(name="B") + "    Condition: Prod\n    DependsOn: A\n"
    body += "    Properties:\n"
    body += (
        "      TopicName: !Sub '${Stage}-${A}-${A.TopicName}-${Own}-${!Literal}-${AWS::Region}'\n"
    )
    body += "      DisplayName: !If [NotProd, !Ref 'AWS::NoValue', !Ref 'AWS::StackName']\n"
    body += "      Extra: !Sub ['${Own}', {Own: !Ref 'AWS::AccountId'}]\n"
    body += "Outputs: {O: {Value: !GetAtt B.TopicName, Condition: Prod}}\n"
    body = body.replace("-${Own}", "")
    template = templates.parse(body)
    assert template["Resources"]["B"]["Condition"] == "Prod"
    for pseudo in templates.PSEUDO_PARAMETERS:
        templates.parse(
            "Resources:\n" + TOPIC.format(name="A") + f"    Properties: {{X: !Ref '{pseudo}'}}\n"
        )


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("    Condition: Nope\n", "Unresolved condition dependency Nope in the Resources block"),
        (
            "    Properties: {X: !If [Nope, a, b]}\n",
            "Template error: unresolved condition dependency Nope in Fn::If",
        ),
    ],
)
def test_unknown_conditions_are_refused(where: str, message: str) -> None:
    assert message in refused("Resources:\n" + TOPIC.format(name="A") + where)


def test_conditions_may_not_reference_resources() -> None:
    body = "Conditions: {C: !Equals [!Ref A, x]}\nResources:\n" + TOPIC.format(name="A")
    assert refused(body) == (
        "Template format error: Unresolved dependencies [A]. "
        "Cannot reference resources in the Conditions block of the template"
    )


MALFORMED_ARGUMENTS = [
    [],
    {},
    [1],
    [{}],
    {"a": 1},
    1,
    None,
    "",
    ["A", "B", "C"],
    "${",
    ["${X}", []],
]


@pytest.mark.parametrize("argument", MALFORMED_ARGUMENTS)
@pytest.mark.parametrize("function", ["Ref", "Fn::GetAtt", "Fn::Sub", "Fn::If", "Condition"])
def test_malformed_intrinsics_are_refused_not_crashed_on(function: str, argument: object) -> None:
    # Anything but a ValidationError would be an HTTP 500 with Python's error text.
    for place in ("Properties", "Output", "Condition"):
        template: dict = {
            "Conditions": {"C": {"Fn::Equals": ["a", "b"]}},
            "Resources": {"A": {"Type": "AWS::SNS::Topic"}},
        }
        if place == "Properties":
            template["Resources"]["A"]["Properties"] = {"X": {function: argument}}
        elif place == "Output":
            template["Outputs"] = {"O": {"Value": {function: argument}}}
        else:
            template["Conditions"]["D"] = {function: argument}
        with contextlib.suppress(ValidationError):
            templates.parse(json.dumps(template))


@pytest.mark.parametrize("value", MALFORMED_ARGUMENTS)
def test_malformed_depends_on_and_condition_are_refused(value: object) -> None:
    for attribute in ("DependsOn", "Condition"):
        resource = {"Type": "AWS::SNS::Topic", attribute: value}
        with contextlib.suppress(ValidationError):
            templates.parse(json.dumps({"Resources": {"A": resource}}))


def test_resource_names_must_be_alphanumeric() -> None:
    assert refused("Resources: {my-topic: {Type: AWS::SNS::Topic}}") == (
        "Template format error: Resource name my-topic is non alphanumeric."
    )
    assert "non alphanumeric" in refused("Resources: {1: {Type: AWS::SNS::Topic}}")


def test_in_cycles_keeps_only_what_cannot_be_ordered() -> None:
    edges = {"A": {"B"}, "B": {"A"}, "C": {"A"}, "D": set(), "E": {"D"}}
    assert templates.in_cycles(edges) == {"A", "B"}
    assert templates.in_cycles({"A": {"B"}, "B": set()}) == set()


def test_loader_leaves_pyyaml_loaders_alone() -> None:
    # The safe loader's tags are its own; PyYAML's SafeLoader must not learn them.
    assert "!Ref" not in yaml.SafeLoader.yaml_constructors
    assert "!Ref" in templates.TemplateLoader.yaml_constructors


def test_creation_order_puts_each_resource_after_what_it_refers_to() -> None:
    resources = {
        "Function": {"Type": "T", "Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}}},
        "Stage": {"Type": "T", "Properties": {"DeploymentId": {"Ref": "Deployment"}}},
        "Deployment": {"Type": "T", "DependsOn": "Route"},
        "Route": {"Type": "T", "Properties": {"Target": {"Fn::Sub": "integrations/${Api}"}}},
        "Api": {"Type": "T"},
        "Role": {"Type": "T", "Properties": {"Name": {"Ref": "AWS::StackName"}}},
    }
    order = templates.creation_order(resources)
    assert sorted(order) == sorted(resources)
    for name, needs in templates.dependencies(resources).items():
        assert all(order.index(need) < order.index(name) for need in needs), name
    assert order.index("Role") < order.index("Function")
    assert order.index("Api") < order.index("Route") < order.index("Deployment")
    # Template order where nothing constrains it.
    assert templates.creation_order({"B": {"Type": "T"}, "A": {"Type": "T"}}) == ["B", "A"]


def test_creation_order_of_a_long_chain_needs_no_deep_recursion() -> None:
    chain = {f"R{i}": {"Type": "T", "DependsOn": f"R{i + 1}"} for i in range(5000)}
    chain["R5000"] = {"Type": "T"}
    order = templates.creation_order(chain)
    assert order[0] == "R5000" and order[-1] == "R0"


SAM_FUNCTION = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: index.handler
      InlineCode: "def handler(event, context):\\n    return 1\\n"
      Policies:
        - AmazonDynamoDBReadOnlyAccess
        - NotAPolicyLocalAwsKnows
Outputs:
  Role:
    Value: !Ref FnRole
"""


def test_sam_templates_are_expanded_offline_before_references_are_checked(monkeypatch) -> None:
    import socket

    from local_aws import sam

    def no_network(*args, **kwargs):
        raise AssertionError("the SAM transform tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    # `FnRole` exists only after the expansion: the reference check runs on the expansion.
    expanded = templates.parse(SAM_FUNCTION, expand=sam.expand)
    resources = expanded["Resources"]
    assert resources["Fn"]["Type"] == "AWS::Lambda::Function"
    assert resources["Fn"]["Properties"]["Code"]["ZipFile"].startswith("def handler")
    assert resources["Fn"]["Properties"]["Runtime"] == "python3.12"  # from Globals
    policies = resources["FnRole"]["Properties"]["ManagedPolicyArns"]
    assert "arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess" in policies
    assert "NotAPolicyLocalAwsKnows" in policies  # passed on as written, for IAM to judge
    assert "Globals" not in expanded


def test_globals_are_refused_without_the_sam_transform() -> None:
    body = SAM_FUNCTION.replace("Transform: AWS::Serverless-2016-10-31\n", "")
    with pytest.raises(
        ValidationError, match=r"Invalid template property or properties \[Globals\]"
    ):
        templates.parse(body)


@pytest.mark.parametrize("parse", [templates.parse_body, cloudformation.parse_template_strictly])
def test_a_body_parsed_again_is_not_changed_by_what_the_first_caller_did(parse: Any) -> None:
    # CreateStack reads its body more than once and moto changes the dicts it gets: a body
    # read again must read as written.
    body = TOPIC.format(name="Topic").join(["Resources:\n", ""])
    first = parse(body)
    first["Resources"]["Topic"]["Type"] = "AWS::SQS::Queue"
    first["Resources"].clear()
    assert parse(body) == {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
