"""Whether a change set's Modify replaces the resource (DescribeChangeSet `Replacement`)."""

from __future__ import annotations

from local_aws.change_sets import replacement

STAGE = {
    "Type": "AWS::ApiGatewayV2::Stage",
    "Properties": {"ApiId": {"Ref": "Api"}, "StageName": {"Ref": "StageName"}, "AutoDeploy": True},
}


def test_a_replacing_property_whose_parameter_changed_replaces_the_resource() -> None:
    # The text of StageName is the same; its value is not: a stage cannot be renamed.
    assert replacement(STAGE, STAGE, {"StageName": "prod"}) == "True"


def test_a_parameter_only_other_properties_use_does_not_replace_it() -> None:
    changed = {**STAGE, "Properties": {**STAGE["Properties"], "AutoDeploy": False}}
    assert replacement(STAGE, changed, {"Greeting": "bye"}) == "False"
    function = {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "FunctionName": "echo",
            "Environment": {"Variables": {"GREETING": {"Ref": "Greeting"}}},
        },
    }
    assert replacement(function, function, {"Greeting": "bye"}) == "False"


def test_a_type_whose_replacing_properties_are_not_listed_is_left_open() -> None:
    topic = {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Ref": "Name"}}}
    assert replacement(topic, topic, {"Name": "other"}) is None
