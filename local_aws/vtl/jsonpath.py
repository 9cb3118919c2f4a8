"""The JSONPath subset ``$input.json`` and ``$input.path`` accept: ``$``, ``.a``, ``['a']``,
``[0]``, ``.*`` and ``[*]``.

A hand parser rather than jsonpath-ng: that parser costs milliseconds per expression and
its result objects would need unwrapping; this is a few lines and cached.
"""

from __future__ import annotations

import contextlib
import functools
import re
from typing import Any

Steps = tuple[tuple[str, Any], ...]  # ("key", name), ("index", n) or ("*", None)

MISSING = object()  # what select() returns when nothing is at the path

_STEP = re.compile(
    r"""\.(?:(\*)|([^.\[\]\s]+))"""
    r"""|\[\s*(?:(\*)|(-?\d+)|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*\]""",
    re.S,
)


@functools.lru_cache(maxsize=256)
def parse(path: str) -> Steps:
    """The steps of ``path``; raises ``ValueError`` for a path outside the subset."""
    path = path.strip()
    if not path.startswith("$"):
        raise ValueError(f"JSONPath {path!r} must start with '$'")
    steps: list[tuple[str, Any]] = []
    pos = 1
    while pos < len(path):
        m = _STEP.match(path, pos)
        if m is None:
            raise ValueError(f"unsupported JSONPath {path!r} (at character {pos})")
        star, name, star_index, index, single, double = m.groups()
        if star or star_index:
            steps.append(("*", None))
        elif index is not None:
            steps.append(("index", int(index)))
        elif name is not None:
            steps.append(("key", name))
        else:  # a quoted name: \' and \" stand for the quote
            quoted = single if single is not None else double
            steps.append(("key", re.sub(r"\\(.)", r"\1", quoted)))
        pos = m.end()
    return tuple(steps)


def select(document: Any, steps: Steps) -> Any:
    """The value at ``steps``; a list when a wildcard is involved; ``MISSING`` if none."""
    values = [document]
    wildcard = False
    for kind, arg in steps:
        found: list[Any] = []
        for value in values:
            if kind == "*":
                if isinstance(value, dict):
                    found.extend(value.values())
                elif isinstance(value, list):
                    found.extend(value)
            elif isinstance(value, dict if kind == "key" else list):
                with contextlib.suppress(KeyError, IndexError):
                    found.append(value[arg])
        wildcard = wildcard or kind == "*"
        values = found
    if wildcard:
        return values
    return values[0] if values else MISSING
