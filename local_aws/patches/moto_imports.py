"""moto's CloudFormation without the models of every service it knows, until a template names one.

`moto.cloudformation.parsing` imports the models of some thirty services when it is imported,
so that `CloudFormationModel.__subclasses__()` finds every resource type moto can create.
EC2's alone (its region and instance-type data) costs about a second and 100 MB, and
`moto.ssm` and `moto.rds` import it too; API Gateway v1's pulls in an OpenAPI validator. A
workshop's templates use a handful of services, so local_aws imports a service's models when a
template first names one of its types (`import_models_for`), and only the services its own
code uses at start-up.

How: while `install` imports `parsing`, each of those service packages that is not loaded yet
is a stand-in in `sys.modules` (`_Deferred`). `parsing` binds the stand-ins under its names;
the first attribute read on one imports the real package and answers from it, so moto's own
uses (`ec2_models.ec2_backends`, the SSM parameters of a template, a real service module that
imports another's `models`) reach the real thing. After that import the stand-ins leave
`sys.modules`, so every later import is a normal one.

`MODEL_MODULES` says which module models each type; `tests/unit/test_moto_imports.py` checks it
against the model map moto builds when every one of them is imported, so a moto upgrade that
adds a service cannot be missed.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import moto

PINNED = {"moto": "5.2.5"}
RELIES_ON: tuple[tuple[object, str], ...] = ()  # checked by import, see the tests

# A resource type's service (`AWS::EC2` of `AWS::EC2::VPC`) → the moto module with its models:
# the modules `moto.cloudformation.parsing` imports (moto 5.2.5), plus Logs, which it does not.
MODEL_MODULES: dict[str, str] = {
    "AWS::ApiGateway": "moto.apigateway.models",
    "AWS::AutoScaling": "moto.autoscaling.models",
    "AWS::Batch": "moto.batch.models",
    "AWS::CloudWatch": "moto.cloudwatch.models",
    "AWS::DataPipeline": "moto.datapipeline.models",
    "AWS::DynamoDB": "moto.dynamodb.models",
    "AWS::EC2": "moto.ec2.models",
    "AWS::ECR": "moto.ecr.models",
    "AWS::ECS": "moto.ecs.models",
    "AWS::EFS": "moto.efs.models",
    "AWS::ElasticLoadBalancing": "moto.elb.models",
    "AWS::ElasticLoadBalancingV2": "moto.elbv2.models",
    "AWS::EMR": "moto.emr.models",
    "AWS::Events": "moto.events.models",
    "AWS::IAM": "moto.iam.models",
    "AWS::IoT": "moto.iot.models",
    "AWS::Kinesis": "moto.kinesis.models",
    "AWS::KMS": "moto.kms.models",
    "AWS::Lambda": "moto.awslambda.models",
    "AWS::Logs": "moto.logs.models",
    "AWS::RDS": "moto.rds.models",
    "AWS::Redshift": "moto.redshift.models",
    "AWS::Route53": "moto.route53.models",
    "AWS::S3": "moto.s3.models",
    "AWS::SageMaker": "moto.sagemaker.models",
    "AWS::SNS": "moto.sns.models",
    "AWS::SQS": "moto.sqs.models",
    "AWS::SSM": "moto.ssm.models",
    "AWS::StepFunctions": "moto.stepfunctions.models",
}

# `parsing` also takes a name from two services' modules at import, not just the module.
_NAMES_TAKEN = {"moto.ec2.models.core": ("TaggedEC2Resource",), "moto.ssm": ("ssm_backends",)}

_lock = threading.RLock()  # two threads (moto's workers) may load the same service at once
_installed = False


def models_module(resource_type: str) -> str | None:
    """The moto module that models `resource_type` (e.g. `AWS::EC2::VPC`), if any does."""
    return MODEL_MODULES.get(resource_type.rpartition("::")[0])


def import_models_for(resource_types: Iterable[str]) -> None:
    """Import the models of these resource types' services (those not imported yet).

    moto caches its model map at its first lookup: a type missing from it once its models
    are imported (here or by any other import) needs the caller to clear it.
    """
    modules = {module for kind in resource_types if (module := models_module(kind))}
    for module in sorted(module for module in modules if module not in sys.modules):
        importlib.import_module(module)


class _Deferred(types.ModuleType):
    """A moto module not imported yet: the first attribute read imports the real one."""

    def __init__(self, name: str, path: Path | None) -> None:
        super().__init__(name)
        if path is not None and path.is_dir():  # a package: its real submodules can load
            self.__path__ = [str(path)]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # what the import system probes: not there, as for a stub
            raise AttributeError(name)
        return getattr(_real(self.__name__), name)


class _DeferredName:
    """A name `parsing` takes from a deferred module (`from m import name`), used later.

    `TaggedEC2Resource` is only used in `isinstance`: nothing is an EC2 resource while EC2's
    models are not imported. `ssm_backends` is only indexed.
    """

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def _target(self) -> Any:
        return getattr(_real(self.module), self.name)

    def __getitem__(self, key: str) -> Any:
        return self._target()[key]

    def __instancecheck__(self, instance: object) -> bool:
        loaded = sys.modules.get(self.module)
        return (
            loaded is not None
            and not isinstance(loaded, _Deferred)
            and isinstance(instance, self._target())
        )


def _real(name: str) -> types.ModuleType:
    """The real module `name`, imported now if need be (its stand-ins taken away first)."""
    with _lock:
        loaded = sys.modules.get(name)
        if loaded is not None and not isinstance(loaded, _Deferred):
            return loaded
        service = ".".join(name.split(".")[:2])  # moto.ec2
        stand_ins = {
            key: module
            for key, module in sys.modules.items()
            if (key == service or key.startswith(service + ".")) and isinstance(module, _Deferred)
        }
        for key in stand_ins:
            del sys.modules[key]
        real = importlib.import_module(name)
        # Real submodules loaded under a stand-in package (moto.ecr.exceptions, imported by
        # Lambda's models) become attributes of the real package, as an import makes them.
        for key, module in list(sys.modules.items()):
            parent, _, child = key.rpartition(".")
            if parent in stand_ins and not isinstance(module, _Deferred):
                setattr(importlib.import_module(parent), child, module)
        return real


def _stand_ins() -> None:
    """Put stand-ins in `sys.modules` for the services not imported yet."""
    root = Path(moto.__file__).parent
    for module in MODEL_MODULES.values():
        package = module.rpartition(".")[0]
        if package in sys.modules:
            continue
        service = package.rpartition(".")[2]
        deferred_package = _Deferred(package, root / service)
        deferred_models = _Deferred(module, root / service / "models")
        # `from moto.ec2 import models` finds it without importing the package.
        setattr(deferred_package, "models", deferred_models)  # noqa: B010 (not an attribute of ModuleType)
        sys.modules[package], sys.modules[module] = deferred_package, deferred_models
    for module, names in _NAMES_TAKEN.items():
        owner = sys.modules.get(module)
        if owner is None and isinstance(sys.modules.get(module.rpartition(".")[0]), _Deferred):
            owner = sys.modules[module] = _Deferred(module, None)
        if isinstance(owner, _Deferred):
            for name in names:
                setattr(owner, name, _DeferredName(module, name))


def install() -> None:
    """Import `moto.cloudformation.parsing` with the services' models deferred (once).

    The stand-ins are in `sys.modules` only during that import; `parsing` keeps its own.
    """
    global _installed
    if _installed or "moto.cloudformation.parsing" in sys.modules:
        _installed = True
        return
    with _lock:
        _stand_ins()
        try:
            import moto.cloudformation.parsing  # noqa: F401
        finally:
            for name, module in list(sys.modules.items()):
                if isinstance(module, _Deferred):
                    del sys.modules[name]
        _installed = True
