"""How ``$value.name``, ``$value.name(args)`` and ``$value[key]`` resolve, as in Velocity.

Only the methods in the tables below are visible to a template, never Python attributes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import airspeed

from local_aws.vtl import limits
from local_aws.vtl.java_methods import JAVA_METHODS
from local_aws.vtl.variables import VARIABLE_METHODS

Methods = dict[str, Callable[..., Any]]


def _method_tables() -> dict[type, Methods]:
    # airspeed's own Java-like methods (list.set, map.putAll) stay callable; ours win.
    tables: dict[type, Methods] = {
        cls: dict(methods) for cls, methods in airspeed.__additional_methods__.items()
    }
    for cls, methods in {**JAVA_METHODS, **VARIABLE_METHODS}.items():
        tables.setdefault(cls, {}).update(methods)
    return tables


METHODS: dict[type, Methods] = _method_tables()

# Methods whose result can be several times longer than their input: checked before the call
# and counted after it. (The replace methods check their own results.)
GROWING = frozenset({"escapeJavaScript", "urlEncode", "base64Encode", "toUpperCase", "toLowerCase"})


def methods_for(value: Any) -> Methods | None:
    """The method table of ``value``'s class, or of its nearest listed base class."""
    methods = METHODS.get(type(value))
    if methods is None:  # e.g. a subclass of dict
        for cls in type(value).__mro__[1:]:
            methods = METHODS.get(cls)
            if methods is not None:
                break
    return methods


def get_property(obj: Any, name: str) -> Any:
    """``$obj.name`` the way Velocity resolves a property (no parentheses)."""
    if type(obj) is dict or isinstance(obj, Mapping):
        return obj.get(name)  # Velocity: map.get("name")
    methods = methods_for(obj)
    if methods is not None:  # Java getters: $entry.key is getKey(), $s.empty is isEmpty()
        capitalised = name[:1].upper() + name[1:]
        for getter in ("get" + capitalised, "is" + capitalised):
            if getter in methods:
                return methods[getter](obj)
    return None


def call_method(obj: Any, name: str, args: list[Any]) -> Any:
    """``$obj.name(args)``; null when ``obj`` has no such method."""
    methods = METHODS.get(type(obj)) or methods_for(obj)
    method = methods.get(name) if methods else None
    if method is None:
        return None
    if name not in GROWING:
        return method(obj, *args)
    text = obj if isinstance(obj, str) else next((a for a in args if type(a) is str), "")
    limits.ensure_growth(len(text))
    return limits.check_value(method(obj, *args))


def index(value: Any, key: Any) -> Any:
    """``$value[key]``: null when there is nothing at ``key``; a list needs an integer."""
    if isinstance(value, list) and not isinstance(key, int):
        raise ValueError(f"expected integer for list index, got {key!r}")
    try:
        return value[key]
    except (LookupError, TypeError):
        return None
