"""The patches fit the installed libraries: each is the pinned version, every attribute a
patch relies on exists there, and installing twice changes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from moto.cloudformation import parsing
from moto.cloudformation.responses import CloudFormationResponse

from local_aws import cloudformation_models, patches, step_functions
from local_aws.patches import moto as moto_patches

ROOT = Path(__file__).resolve().parents[2]
RELIED_ON = [
    pytest.param(owner, name, id=f"{module.__name__.rsplit('.', 1)[-1]}:{name}")
    for module in patches.MODULES
    for owner, name in getattr(module, "RELIES_ON", ())
]


def test_every_installed_version_is_the_pinned_one() -> None:
    assert patches.version_mismatches() == []


@pytest.mark.parametrize(("owner", "name"), RELIED_ON)
def test_each_attribute_relied_on_exists(owner: object, name: str) -> None:
    assert hasattr(owner, name)


@pytest.mark.parametrize(
    "replacement", moto_patches.REPLACEMENTS, ids=lambda r: f"{r.owner.__name__}.{r.name}"
)
def test_each_moto_attribute_was_moto_s_own_and_is_now_replaced(
    replacement: moto_patches.Replacement,
) -> None:
    owner, name = replacement.owner, replacement.name
    original = moto_patches.ORIGINALS[(owner, name)]  # found in moto's own class or module
    assert vars(owner)[name] is not original


def test_installing_twice_does_not_wrap_twice() -> None:
    installed = vars(CloudFormationResponse)["get_template_summary"]
    moto_patches.install()
    patches.install()
    assert vars(CloudFormationResponse)["get_template_summary"] is installed
    # One wrapper around moto's own handler.
    original = moto_patches.ORIGINALS[(CloudFormationResponse, "get_template_summary")]
    assert installed.__wrapped__ is original


def test_moto_sees_one_model_per_api_gateway_v2_type() -> None:
    models = parsing.get_model_map()
    for resource_type, model in cloudformation_models.API_GATEWAY_V2_MODELS.items():
        assert models[resource_type] is model
        assert model.cloudformation_type() == resource_type
    assert models["AWS::DynamoDB::Table"] is cloudformation_models.DynamoDBTableWithTimeToLive
    assert models["AWS::Lambda::Permission"] is cloudformation_models.LambdaPermissionWithId


def test_the_iri_grammar_is_kept_out_of_a_fresh_process() -> None:
    # In this process pytest's plugins imported jsonschema before local_aws: a fresh one shows
    # whether the jsonschema patch still comes before moto's imports.
    program = "import sys, local_aws; print(sys.modules['rfc3987_syntax'])"
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "None"


def test_state_machine_service_calls_go_to_local_aws_from_modules_imported_later() -> None:
    # moto's interpreter modules that call services are imported when a state machine first
    # runs, after the patches: each must still use local_aws's client, not moto's port 5000.
    program = (
        "import importlib, local_aws\n"
        "from local_aws import step_functions\n"
        "for name in step_functions.CLIENT_MODULES:\n"
        "    call = importlib.import_module(name).boto_client_for\n"
        "    print(name, call.__qualname__.split('.')[0])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, cwd=ROOT
    )
    lines = result.stdout.split("\n")[:-1]
    assert len(lines) == len(step_functions.CLIENT_MODULES)
    assert all(line.endswith(" clients_at_local_aws") for line in lines), lines
