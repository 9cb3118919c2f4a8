"""Java values as mapping templates see them: ``toString()``, ``Map.Entry`` and UTF-16 strings.

API Gateway renders templates with Java-based Velocity, so values are written the way
Java's ``toString()`` writes them (``{a=b}``, ``[1, 2]``, ``true``, ``null``) and string
positions count UTF-16 code units, not Python characters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any


def java_str(value: Any) -> str:
    """``String.valueOf(value)`` as Java would print our Python values."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Mapping):  # AbstractMap.toString
        return "{" + ", ".join(f"{java_str(k)}={java_str(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple, range, set, frozenset)):  # AbstractCollection.toString
        return "[" + ", ".join(java_str(v) for v in value) + "]"
    return str(value)


def is_number(value: Any) -> bool:
    """Whether Velocity treats ``value`` as a number (Python's bools are not)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Entry:
    """A ``Map.Entry`` as returned by ``entrySet()``: ``$e.key``, ``$e.value``."""

    __slots__ = ("key", "value")

    def __init__(self, key: Any, value: Any) -> None:
        self.key = key
        self.value = value

    def __str__(self) -> str:
        return f"{java_str(self.key)}={java_str(self.value)}"


# --------------------------------------------------------------------------------------
# Java strings are UTF-16: length(), substring() and indexOf() count UTF-16 code units
# --------------------------------------------------------------------------------------

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def surrogate_pair(char: str) -> str:
    """The two UTF-16 surrogates Java stores for ``char`` (a character above U+FFFF)."""
    code = ord(char) - 0x10000
    return chr(0xD800 + (code >> 10)) + chr(0xDC00 + (code & 0x3FF))


def utf16(text: str) -> str:
    """``text`` with every character above U+FFFF split into its two surrogates."""
    if text.isascii():
        return text
    return _ASTRAL.sub(lambda m: surrogate_pair(m.group()), text)


def from_utf16(units: str) -> str:
    """Join surrogate pairs back into characters (lone surrogates stay as they are)."""
    if units.isascii():
        return units
    return units.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def substring(text: str, begin: int, end: int | None = None) -> str:
    """``String.substring(begin, end)``: UTF-16 positions, out of range raises."""
    units = utf16(text)
    end = len(units) if end is None else end
    if not 0 <= begin <= end <= len(units):  # Java throws StringIndexOutOfBoundsException
        raise IndexError(f"substring: begin {begin}, end {end}, length {len(units)}")
    return from_utf16(units[begin:end])


def index_of(text: str, part: str, start: int = 0) -> int:
    """``String.indexOf(part, start)`` in UTF-16 positions."""
    return utf16(text).find(utf16(part), max(start, 0))


_JAVA_TRIMMED = "".join(map(chr, range(0x21)))  # trim() removes <= U+0020, not Unicode spaces


def trim(text: str) -> str:
    """``String.trim()``: strips control characters and spaces, not other Unicode spaces."""
    return text.strip(_JAVA_TRIMMED)
