"""The workshop's CloudFormation template: where it is, read as a dict, checked by cfn-lint.

The lessons name it `cfn/template.yaml`, in the checkout. An installed copy of the package
(`pip install .`, not editable) carries it as `tutorial_helpers/cfn/template.yaml`
(pyproject.toml maps the `cfn` folder there), so the helpers find it either way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tutorial_helpers.errors import WorkshopError

_PACKAGE_DIR = Path(__file__).resolve().parent
CHECKOUT_TEMPLATE = _PACKAGE_DIR.parent / "cfn" / "template.yaml"
INSTALLED_TEMPLATE = _PACKAGE_DIR / "cfn" / "template.yaml"  # package data of `pip install .`


def find_template(checkout: Path = CHECKOUT_TEMPLATE, installed: Path = INSTALLED_TEMPLATE) -> Path:
    """The template file: the checkout's `cfn/template.yaml`, else the installed copy.

    If neither exists the checkout's path is returned, so reading it fails naming the file
    the lessons talk about.
    """
    # The checkout comes first: it is the file learners read and change during the course.
    if checkout.is_file() or not installed.is_file():
        return checkout
    return installed


TEMPLATE_PATH = find_template()


class _CloudFormationLoader(yaml.SafeLoader):
    """YAML loader that reads `!Ref x` as `{"Ref": x}`, `!Sub s` as `{"Fn::Sub": s}`, etc."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = tag_suffix if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:  # yaml.compose only makes the three kinds above
        raise TypeError(f"unexpected YAML node {node!r}")
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as a dict (short-form intrinsics like `!Sub` become `{"Fn::Sub": ...}`)."""
    template: dict[str, Any] = yaml.load(path.read_text(), Loader=_CloudFormationLoader)
    return template


def lint_template(path: Path = TEMPLATE_PATH) -> list[str]:
    """cfn-lint's findings for the template (errors and warnings), as text; [] means clean.

    cfn-lint knows each resource type's rules (allowed values, deprecated runtimes, …), which
    `validate_template` does not check.
    """
    try:
        from cfnlint.api import lint_file
    except ImportError:
        raise WorkshopError(
            "cfn-lint is not installed: `pip install cfn-lint` (optional)."
        ) from None
    return [str(match) for match in lint_file(path)]
