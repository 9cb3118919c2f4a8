"""The Java methods a template may call on strings, maps, lists, numbers and map entries.

Each table maps a Java method name to ``f(value, *args)``. Only names in a table are
callable from a template: Python attributes of the value stay invisible.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from local_aws.vtl import java_regex
from local_aws.vtl.java import Entry, index_of, java_str, substring, trim, utf16

Methods = dict[str, Callable[..., Any]]


def _map_put(mapping: dict, key: Any, value: Any) -> Any:
    previous = mapping.get(key)
    mapping[key] = value
    return previous


def _list_add(items: list, value: Any) -> bool:
    items.append(value)
    return True


def _list_get(items: list, index: int) -> Any:
    if not 0 <= index < len(items):  # Java has no negative indexes
        raise IndexError(f"get({index}): index out of bounds for size {len(items)}")
    return items[index]


def _equals(value: Any, other: Any) -> bool:
    return type(value) is type(other) and value == other


STRING_METHODS: Methods = {
    "contains": lambda s, part: part in s,
    "endsWith": lambda s, suffix: s.endswith(suffix),
    "equals": _equals,
    "equalsIgnoreCase": lambda s, other: isinstance(other, str) and s.lower() == other.lower(),
    "indexOf": index_of,
    "isEmpty": lambda s: not s,
    "length": lambda s: len(utf16(s)),
    "matches": java_regex.matches,
    "replace": java_regex.replace,
    "replaceAll": java_regex.replace_all,
    "replaceFirst": java_regex.replace_first,
    "split": java_regex.split,
    "startsWith": lambda s, prefix: s.startswith(prefix),
    "substring": substring,
    "toLowerCase": lambda s: s.lower(),
    "toString": lambda s: s,
    "toUpperCase": lambda s: s.upper(),
    "trim": trim,
}
MAP_METHODS: Methods = {
    "containsKey": lambda m, key: key in m,
    "containsValue": lambda m, value: value in m.values(),
    "entrySet": lambda m: [Entry(k, v) for k, v in m.items()],
    "get": lambda m, key: m.get(key),
    "isEmpty": lambda m: not m,
    "keySet": lambda m: list(m),
    "put": _map_put,
    "remove": lambda m, key: m.pop(key, None),
    "size": len,
    "toString": java_str,
    "values": lambda m: list(m.values()),
}
LIST_METHODS: Methods = {
    "add": _list_add,
    "contains": lambda items, value: value in items,
    "get": _list_get,
    "indexOf": lambda items, value: items.index(value) if value in items else -1,
    "isEmpty": lambda items: not items,
    "size": len,
    "toString": java_str,
}
NUMBER_METHODS: Methods = {
    "doubleValue": float,
    "equals": _equals,
    "intValue": int,
    "longValue": int,
    "toString": java_str,
}
ENTRY_METHODS: Methods = {
    "getKey": lambda e: e.key,
    "getValue": lambda e: e.value,
    "toString": str,
}

JAVA_METHODS: dict[type, Methods] = {
    str: STRING_METHODS,
    dict: MAP_METHODS,
    list: LIST_METHODS,
    int: NUMBER_METHODS,
    float: NUMBER_METHODS,
    bool: {**NUMBER_METHODS, "booleanValue": bool},
    Entry: ENTRY_METHODS,
}
