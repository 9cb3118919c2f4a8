"""moto's CloudFormation imports a service's models when a template first names one of its
types, not at start-up; every type moto can create is still accepted and deploys.

Each test runs in a fresh process: in this one, other tests may have imported every service.
That a type no service models is still refused, with the same message, is
`tests/fidelity/test_bad_inputs.py::test_unsupported_resource_types_refuse_the_whole_stack`.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from local_aws.patches import moto_imports

ROOT = Path(__file__).resolve().parents[2]


def run_fresh(program: str) -> Any:
    """Run `program` in a new Python process (cwd: the checkout); the JSON it prints."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(program)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


@functools.cache
def every_model() -> dict[str, str]:
    """Each type moto can create → the module of its model, once every service is imported."""
    found: dict[str, str] = run_fresh(
        """
        import importlib, json
        import local_aws
        from local_aws.patches import moto_imports
        from moto.cloudformation import parsing
        for module in moto_imports.MODEL_MODULES.values():
            importlib.import_module(module)
        parsing.get_model_map.cache_clear()
        print(json.dumps({t: m.__module__ for t, m in parsing.get_model_map().items()}))
        """
    )
    return found


def test_the_server_starts_without_the_models_no_template_needs_yet() -> None:
    loaded = run_fresh("import json, sys, local_aws.server; print(json.dumps(list(sys.modules)))")
    # EC2's region and instance data, API Gateway v1's OpenAPI validator, the SAM translator.
    for heavy in ("moto.ec2", "moto.ec2.models", "moto.apigateway", "moto.ssm", "samtranslator"):
        assert heavy not in loaded


def test_each_type_s_service_names_the_module_of_its_model() -> None:
    for resource_type, module in every_model().items():
        if module.startswith(("local_aws.", "moto.cloudformation.")):
            continue  # local_aws's own models, and CloudFormation's (loaded with it)
        if resource_type == "AWS::SERVICE::RESOURCE":
            continue  # moto's default: a model that names no type (Step Functions' alias)
        service_module = moto_imports.models_module(resource_type)
        assert service_module is not None, resource_type
        assert module.startswith(service_module.rpartition(".")[0] + "."), resource_type


def test_local_aws_s_models_still_win_once_every_service_is_imported() -> None:
    models = every_model()
    changed = ("AWS::DynamoDB::Table", "AWS::Lambda::Permission", "AWS::S3::BucketPolicy")
    for resource_type in changed:
        assert models[resource_type] == "local_aws.cloudformation_models"


def test_every_type_moto_can_create_is_accepted_by_a_fresh_local_aws() -> None:
    kinds = sorted(kind for kind in every_model() if kind.startswith("AWS::"))
    before, unsupported = run_fresh(
        f"""
        import json, sys
        import local_aws
        from local_aws import cloudformation
        before = "moto.ec2" in sys.modules
        template = {{"Resources": {{f"R{{i}}": {{"Type": k}} for i, k in enumerate({kinds!r})}}}}
        print(json.dumps([before, cloudformation.unsupported_types(template)]))
        """
    )
    assert before is False  # so the template is what imported EC2's models
    assert unsupported == []


def test_a_stack_of_services_not_imported_at_start_up_deploys_with_its_tags() -> None:
    template = {
        "Resources": {
            "Network": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
            "Setting": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Name": "/lab/setting", "Type": "String", "Value": "on"},
            },
        }
    }
    status, value, tags = run_fresh(
        f"""
        import json
        import local_aws
        from moto.cloudformation.models import cloudformation_backends
        from moto.core import DEFAULT_ACCOUNT_ID as ACCOUNT
        stack = cloudformation_backends[ACCOUNT]["us-east-1"].create_stack(
            name="lean", template={json.dumps(json.dumps(template))}, parameters={{}}
        )
        from moto.ec2.models import ec2_backends
        from moto.ssm.models import ssm_backends
        vpc_id = stack.resource_map["Network"].physical_resource_id
        tags = ec2_backends[ACCOUNT]["us-east-1"].describe_tags(filters={{"resource-id": [vpc_id]}})
        value = ssm_backends[ACCOUNT]["us-east-1"].get_parameter("/lab/setting").value
        print(json.dumps([stack.status, value, {{t["key"]: t["value"] for t in tags}}]))
        """
    )
    assert status == "CREATE_COMPLETE"
    assert value == "on"
    # moto tags EC2 resources it creates from a template, as AWS does: still so when EC2's
    # models were imported after moto's CloudFormation.
    assert tags["aws:cloudformation:logical-id"] == "Network"
    assert tags["aws:cloudformation:stack-name"] == "lean"


def test_a_type_whose_models_came_in_another_way_after_a_deploy_is_still_accepted() -> None:
    # A deploy builds moto's model map; then a request to EventBridge (or anything else)
    # imports its models outside a template. A later template naming AWS::Events::EventBus
    # must find the type, not a map built before its model existed.
    refused = run_fresh(
        """
        import importlib, json
        import local_aws.server
        from local_aws import cloudformation
        first = cloudformation.unsupported_types({"Resources": {"T": {"Type": "AWS::SQS::Queue"}}})
        importlib.import_module("moto.events.models")
        bus = {"Resources": {"Bus": {"Type": "AWS::Events::EventBus"}}}
        print(json.dumps([first, cloudformation.unsupported_types(bus)]))
        """
    )
    assert refused == [[], []]
