"""pytest hooks for the notebooks (nbval): one local_aws for every kernel, and what is compared.

nbval items cannot use fixtures, so a hook starts `python -m local_aws` (tests/support's
launcher) just before the first notebook cell runs. While each notebook cell runs, its URL,
dummy credentials and `TUTORIAL_TARGET=local` are in `os.environ`, so the notebook's kernel
(started with its first cell) inherits them; after each cell they are taken out again, so the
tests that run next in the same process (under pytest-xdist, in any order) do not talk to the
notebooks' local_aws. It is stopped when the session ends (on each xdist worker that started
one). Registered by the repository's root `conftest.py`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.support import LocalAwsProcess

# The TTL lesson (04) waits for the sweep; a short interval keeps it fast. Lesson 09's
# workflow waits 45 s (longer than API Gateway's 29 s): scaled, it takes 4.5 s, time enough to
# see it still running after the route has answered, however loaded the machine.
LOCAL_AWS_ARGS = ("--ttl-sweep-seconds", "1", "--sfn-wait-scale", "0.1")
REMOVED = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "TUTORIAL_STACK_NAME")

_server: LocalAwsProcess | None = None
_saved_environment: dict[str, str | None] = {}


def notebook_environment(port: int) -> dict[str, str]:
    """What the kernels need to see: local_aws's URL, dummy keys, the local target."""
    return {
        "TUTORIAL_TARGET": "local",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "LOCAL_AWS_PORT": str(port),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def warm_matplotlib() -> None:
    """Build matplotlib's font cache before any kernel imports it: on a machine where it is
    missing, building it logs "Matplotlib is building the font cache" to a notebook's stderr."""
    import matplotlib.font_manager  # noqa: F401  (importing it builds the cache)


def _is_notebook(node: Any) -> bool:
    return getattr(node, "path", None) is not None and node.path.suffix == ".ipynb"


def pytest_configure(config: pytest.Config) -> None:
    # `--nbval-sanitize-with tests/notebooks/sanitize.cfg` is relative to the repository root;
    # make it work from any directory.
    option = getattr(config.option, "nbval_sanitize_with", None)
    if option and not Path(option).exists() and (config.rootpath / option).exists():
        config.option.nbval_sanitize_with = str(config.rootpath / option)


def pytest_collectstart(collector: pytest.Collector) -> None:
    # pandas' HTML markup changes between versions; its text/plain form is compared instead.
    if _is_notebook(collector) and hasattr(collector, "skip_compare"):
        collector.skip_compare += ("text/html",)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before a notebook cell (and so before its kernel starts): local_aws's settings exported,
    local_aws started first if this is the session's first notebook cell."""
    global _server
    if not _is_notebook(item):
        return
    if _server is None:
        warm_matplotlib()
        log_path = item.config._tmp_path_factory.mktemp("local_aws") / "local_aws.log"
        _server = LocalAwsProcess(*LOCAL_AWS_ARGS, log_path=log_path)
    environment: dict[str, str | None] = dict(notebook_environment(_server.port))
    environment.update(dict.fromkeys(REMOVED))
    for name, value in environment.items():
        _saved_environment.setdefault(name, os.environ.get(name))
        _set(name, value)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """After a notebook cell (and its kernel's shutdown, after its last one): the environment
    as it was before, for the tests that run next."""
    _restore_environment()


def pytest_sessionfinish(session: pytest.Session) -> None:
    global _server
    _restore_environment()
    if _server is None:
        return
    _server.stop()
    _server = None


def _set(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _restore_environment() -> None:
    for name, value in _saved_environment.items():
        _set(name, value)
    _saved_environment.clear()
