"""`make lab`: JupyterLab rooted at the project, opening 00_setup, without the news pop-up."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OVERRIDES = ROOT / "jupyterlab-settings" / "overrides.json"
SCHEMAS = Path(sys.prefix) / "share" / "jupyter" / "lab" / "schemas"


def is_allowed(value: Any, setting: dict[str, Any]) -> bool:
    """`value` is one the setting's schema allows (the two shapes these settings use)."""
    if "oneOf" in setting:
        return value in [choice["const"] for choice in setting["oneOf"]]
    return setting["type"] == "boolean" and isinstance(value, bool)


def test_make_lab_roots_at_the_project_opens_00_and_reads_the_overrides() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "--ServerApp.root_dir=." in makefile
    assert "--LabApp.default_url=/lab/tree/notebooks/00_setup.ipynb" in makefile
    assert "--LabApp.app_settings_dir=jupyterlab-settings" in makefile
    assert (ROOT / "notebooks" / "00_setup.ipynb").exists()


def test_news_and_update_checks_are_off() -> None:
    notification = json.loads(OVERRIDES.read_text())["@jupyterlab/apputils-extension:notification"]
    # "false" is the string JupyterLab's schema wants ("Never"); a boolean would be ignored.
    assert notification == {"fetchNews": "false", "checkForUpdates": False}


def test_every_override_is_a_valid_setting_of_the_pinned_jupyterlab() -> None:
    for plugin, values in json.loads(OVERRIDES.read_text()).items():
        package, name = plugin.split(":")
        schema = json.loads((SCHEMAS / package / f"{name}.json").read_text())
        for key, value in values.items():
            assert key in schema["properties"], f"{plugin} has no setting {key}"
            assert is_allowed(value, schema["properties"][key]), f"{plugin}: {key}={value!r}"
