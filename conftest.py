"""Repository-wide pytest hooks: the notebooks' local_aws and output comparison (nbval), and
how pytest-xdist shares the files out between the cores (`make test`)."""

from __future__ import annotations

from typing import Any

import pytest
from xdist.scheduler import LoadFileScheduling

pytest_plugins = ["tests.notebooks.plugin"]

LESSONS = "notebooks/"

# What takes longest under `make test` (seconds from its --junitxml on two cores), longest
# first. `--dist loadfile --no-loadscope-reorder` hands files out in collection order: these
# go first, so that no long one starts last while the other core has nothing left to do.
LONGEST_FIRST = (
    "tests/notebooks/test_exercises_in_notebooks.py",  # 124 s
    LESSONS,  # 100 s, every lesson in order (LessonsInOrder)
    "tests/fidelity/test_load.py",  # 33 s
    "tests/unit/test_vtl_compiled.py",  # 32 s
    "tests/fidelity/test_sqs_event_sources.py",  # 27 s
    "tests/unit/test_lambda_runtime.py",  # 26 s
    "tests/fidelity/test_deploy_paths.py",  # 21 s
    "tests/security/test_lambda_safety.py",  # 20 s
    "tests/fidelity/test_pattern_steps.py",  # 19 s
)


def _unit(nodeid: str) -> str:
    """What one worker runs as a whole: the lessons together, else the test's file."""
    path = nodeid.split("::")[0]
    return LESSONS if path.startswith(LESSONS) else path


class LessonsInOrder(LoadFileScheduling):
    """`--dist loadfile`, except that every lesson (nbval) runs in one worker, in order, on
    one local_aws, as learners run them (docs/instructor-notes.md, "Maintaining")."""

    def _split_scope(self, nodeid: str) -> str:
        return _unit(nodeid)


@pytest.hookimpl(optionalhook=True)  # `pytest -p no:xdist` has no such hook
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadFileScheduling | None:
    return LessonsInOrder(config, log) if config.getvalue("dist") == "loadfile" else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker: LONGEST_FIRST first, the rest in collection order (every worker
    sorts alike, so they still collect the same list)."""
    if not hasattr(config, "workerinput"):
        return
    rank = {unit: index for index, unit in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_unit(item.nodeid), len(rank)))
