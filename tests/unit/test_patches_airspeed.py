"""The airspeed patches fit the installed airspeed: its version is the pinned one, and every
attribute or operator they replace exists in airspeed itself and is replaced."""

from __future__ import annotations

import importlib.util
from types import ModuleType
from typing import Any

import airspeed
import pytest

from local_aws import patches
from local_aws.patches import airspeed as airspeed_patches


def unpatched_airspeed() -> ModuleType:
    """A second, private copy of airspeed, loaded from its file and never patched."""
    spec = importlib.util.spec_from_file_location("airspeed_unpatched", airspeed.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


UNPATCHED = unpatched_airspeed()


def test_installed_airspeed_is_the_pinned_version() -> None:
    assert not [line for line in patches.version_mismatches() if line.startswith("airspeed ")]


def test_the_pin_names_airspeed() -> None:
    assert airspeed_patches.PINNED == {"airspeed": "0.7.1"}


@pytest.mark.parametrize(("owner", "name"), airspeed_patches.REPLACED)
def test_each_replaced_attribute_exists_in_airspeed(owner: str, name: str) -> None:
    original = airspeed_patches.resolve_owner(UNPATCHED, owner)
    if isinstance(original, dict):  # an operator table
        assert name in original
    else:  # defined by the class itself, not merely inherited
        assert name in vars(original)


@pytest.mark.parametrize(("owner", "name"), airspeed_patches.REPLACED)
def test_each_replaced_attribute_is_now_the_patched_one(owner: str, name: str) -> None:
    patched = airspeed_patches.resolve_owner(airspeed, owner)
    current = patched[name] if isinstance(patched, dict) else vars(patched)[name]
    assert current is airspeed_patches.REPLACEMENTS[(owner, name)]


@pytest.mark.parametrize(("owner", "name"), airspeed_patches.RELIES_ON)
def test_everything_the_patches_rely_on_exists_in_airspeed(owner: Any, name: str) -> None:
    original = UNPATCHED if owner is airspeed else getattr(UNPATCHED, owner.__name__)
    assert hasattr(original, name)
