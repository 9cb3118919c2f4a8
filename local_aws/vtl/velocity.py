"""Velocity 1.7 semantics airspeed does not share: truthiness, ``==``, arithmetic, ``#foreach``.

Pure functions on values; ``local_aws.patches.airspeed`` puts them in place of airspeed's
operators. The arithmetic also refuses numbers and strings past the render's limits.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sized
from typing import Any

from local_aws.vtl import limits
from local_aws.vtl.java import is_number, java_str


def truthy(value: Any) -> bool:
    """Velocity 1.7: only null and false are false; "", 0 and empty lists are true."""
    return value is not None and value is not False


def not_(value: Any) -> bool:
    """``!value`` with Velocity's truthiness."""
    return not truthy(value)


def equals(left: Any, right: Any) -> bool:
    """Velocity 1.7 ``==``: numbers by value, same classes by equals(), else by toString()."""
    if left is None or right is None:
        return left is right
    if is_number(left) and is_number(right):
        return left == right
    if type(left) is type(right) or (isinstance(left, dict) and isinstance(right, dict)):
        return left == right
    return java_str(left) == java_str(right)


def divide(left: Any, right: Any) -> Any:
    """``/``: a non-number or a zero divisor gives null; int / int truncates toward zero."""
    if not (is_number(left) and is_number(right)) or right == 0:
        return None
    if isinstance(left, int) and isinstance(right, int):
        quotient = abs(left) // abs(right)
        return quotient if (left < 0) == (right < 0) else -quotient
    return left / right


def remainder(left: Any, right: Any) -> Any:
    """``%``: Java's remainder takes the sign of the dividend (Python's takes the divisor's)."""
    if not (is_number(left) and is_number(right)) or right == 0:
        return None
    if isinstance(left, int) and isinstance(right, int):
        result = abs(left) % abs(right)
        return -result if left < 0 else result
    return math.fmod(left, right)


def add(left: Any, right: Any) -> Any:
    """``+``, refusing a string or number past the render's limits."""
    if isinstance(left, str) and isinstance(right, str):
        limits.ensure(len(left) + len(right))
    return limits.check_value(operator.add(left, right))


def subtract(left: Any, right: Any) -> Any:
    """``-``, refusing a number past the render's limits."""
    return limits.check_value(operator.sub(left, right))


def multiply(left: Any, right: Any) -> Any:
    """``*``: Velocity multiplies numbers only (null otherwise); Python would repeat a string."""
    if not (is_number(left) and is_number(right)):
        return None
    if type(left) is type(right) is int:
        # The product has at least this many bits: refuse it before building it.
        limits.check_number_bits(left.bit_length() + right.bit_length() - 1)
    return left * right


def _and(left: Any, right: Any) -> bool:
    return truthy(left) and truthy(right)


def _or(left: Any, right: Any) -> bool:
    return truthy(left) or truthy(right)


def _not_equals(left: Any, right: Any) -> bool:
    return not equals(left, right)


# The operators whose meaning differs from airspeed's, by the symbols airspeed parses.
BINARY_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "/": divide,
    "%": remainder,
    "+": add,
    "-": subtract,
    "*": multiply,
    "==": equals,
    "eq": equals,
    "!=": _not_equals,
    "ne": _not_equals,
    "&&": _and,
    "and": _and,
    "||": _or,
    "or": _or,
}
UNARY_OPERATORS: dict[str, Callable[[Any], Any]] = {"!": not_, "not": not_}


def foreach_items(value: Any) -> Any:
    """What ``#foreach`` iterates: a map's values (Velocity 1.7), nothing for a scalar."""
    if isinstance(value, Mapping):
        return list(value.values())
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        return None
    return value


def foreach_scopes(
    iterable: Any, name: str, new_scope: Callable[[], MutableMapping[str, Any]]
) -> Iterator[MutableMapping[str, Any]]:
    """``#foreach($name in ...)`` over what ``foreach_items`` gave: for each item, a new
    scope holding it and the loop's variables (``$foreach.hasNext``...), after the
    iteration limit's check. airspeed's loop, with Velocity's maxloops."""
    if iterable is None:
        return
    if hasattr(iterable, "keys"):
        iterable = iterable.keys()
    try:
        iter(iterable)
    except TypeError:
        raise ValueError(f"value for ${name} is not iterable in #foreach: {iterable!r}") from None
    length = len(iterable) if isinstance(iterable, Sized) else -1
    for counter, item in enumerate(iterable, start=1):
        limits.check_iterations(counter)
        scope = new_scope()
        scope["velocityCount"] = counter
        scope["velocityHasNext"] = counter < length
        scope["foreach"] = {
            "count": counter,
            "index": counter - 1,
            "hasNext": counter < length,
            "first": counter == 1,
            "last": counter == length,
        }
        scope[name] = item
        yield scope
