"""API Gateway mapping templates: Apache Velocity (VTL 1.7) rendered with ``airspeed``.

airspeed parses and evaluates the templates; this module adds what API Gateway templates
rely on from Java-based Velocity: the ``$input`` and ``$util`` helpers, Java ``String``,
``Map`` and ``List`` methods, Java-style writing of values (``{a=b}``, ``[1, 2]``,
``true``), Java integer division and Velocity 1.7 rules for string literals, ``#if``
truthiness, ``==`` and ``#set``.

Java behaviour is added by patching the ``airspeed`` module itself (its classes and its
module-global ``__additional_methods__``). That is process-wide, which is acceptable
because this process is the only user of airspeed; the patches are applied once, at import.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import airspeed

from local_aws import vtl_limits

__all__ = ["TemplateError", "compile_template", "escape_javascript", "render"]


class TemplateError(ValueError):
    """A mapping template could not be parsed or failed while rendering."""


# --------------------------------------------------------------------------------------
# Writing values the way Java's toString() does
# --------------------------------------------------------------------------------------


def _java_str(value: Any) -> str:
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
        return "{" + ", ".join(f"{_java_str(k)}={_java_str(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple, range, set, frozenset)):  # AbstractCollection.toString
        return "[" + ", ".join(_java_str(v) for v in value) + "]"
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Entry:
    """A ``Map.Entry`` as returned by ``entrySet()``: ``$e.key``, ``$e.value``."""

    __slots__ = ("key", "value")

    def __init__(self, key: Any, value: Any) -> None:
        self.key = key
        self.value = value

    def __str__(self) -> str:
        return f"{_java_str(self.key)}={_java_str(self.value)}"


# --------------------------------------------------------------------------------------
# Java strings are UTF-16: length(), substring() and indexOf() count UTF-16 code units
# --------------------------------------------------------------------------------------

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _surrogate_pair(char: str) -> str:
    code = ord(char) - 0x10000
    return chr(0xD800 + (code >> 10)) + chr(0xDC00 + (code & 0x3FF))


def _utf16(text: str) -> str:
    """``text`` with every character above U+FFFF split into its two surrogates."""
    if text.isascii():
        return text
    return _ASTRAL.sub(lambda m: _surrogate_pair(m.group()), text)


def _from_utf16(units: str) -> str:
    """Join surrogate pairs back into characters (lone surrogates stay as they are)."""
    if units.isascii():
        return units
    return units.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def _substring(text: str, begin: int, end: int | None = None) -> str:
    units = _utf16(text)
    end = len(units) if end is None else end
    if not 0 <= begin <= end <= len(units):  # Java throws StringIndexOutOfBoundsException
        raise IndexError(f"substring: begin {begin}, end {end}, length {len(units)}")
    return _from_utf16(units[begin:end])


def _index_of(text: str, part: str, start: int = 0) -> int:
    return _utf16(text).find(_utf16(part), max(start, 0))


_JAVA_TRIMMED = "".join(map(chr, range(0x21)))  # trim() removes <= U+0020, not Unicode spaces


def _trim(text: str) -> str:
    return text.strip(_JAVA_TRIMMED)


# --------------------------------------------------------------------------------------
# Java regular expressions (replaceAll, split, matches) on top of Python's re
# --------------------------------------------------------------------------------------

_JAVA_REGEX_SYNTAX = re.compile(
    r"\\Q(.*?)(?:\\E|\Z)|\(\?<([A-Za-z][A-Za-z0-9]*)>|\\k<(\w+)>|\\.", re.S
)


@functools.lru_cache(maxsize=256)
def _java_regex(pattern: str) -> re.Pattern[str]:
    """Compile a Java regex; rewrites the Java-only syntax Python spells differently."""

    def translate(m: re.Match[str]) -> str:
        quoted, group_name, backref = m.groups()
        if quoted is not None:  # \Q...\E quotes a literal
            return re.escape(quoted)
        if group_name:
            return f"(?P<{group_name}>"
        if backref:
            return f"(?P={backref})"
        return {r"\z": r"\Z", r"\Z": r"(?=\n?\Z)"}.get(m.group(), m.group())

    return re.compile(_JAVA_REGEX_SYNTAX.sub(translate, pattern))


@functools.lru_cache(maxsize=256)
def _java_replacer(regex: str, replacement: str) -> Callable[[str, int], str]:
    """``(text, count) -> text`` for ``replaceAll``/``replaceFirst``.

    Java replacement syntax: ``$1`` and ``${name}`` insert groups, ``\\`` quotes a character.
    """
    pattern = _java_regex(regex)
    parts: list[str | int] = []  # literal text, or a group number / name
    literal: list[str] = []
    i = 0
    while i < len(replacement):
        char = replacement[i]
        i += 1
        if char == "\\":
            if i == len(replacement):
                raise ValueError("replacement: character to be escaped is missing")
            literal.append(replacement[i])
            i += 1
            continue
        if char != "$":
            literal.append(char)
            continue
        if i < len(replacement) and replacement[i] == "{":
            end = replacement.find("}", i)
            if end < 0 or replacement[i + 1 : end] not in pattern.groupindex:
                raise ValueError(f"replacement: bad named group reference in {replacement!r}")
            group: str | int = replacement[i + 1 : end]
            i = end + 1
        elif i < len(replacement) and "0" <= replacement[i] <= "9":
            group = int(replacement[i])
            i += 1
            if group > pattern.groups:
                raise ValueError(f"replacement: no group {group} in {pattern.pattern!r}")
            # Like Java, take further digits only while they still name an existing group.
            while i < len(replacement) and "0" <= replacement[i] <= "9":
                longer = group * 10 + int(replacement[i])
                if longer > pattern.groups:
                    break
                group, i = longer, i + 1
        else:
            raise ValueError(f"replacement: illegal group reference in {replacement!r}")
        parts.append("".join(literal))
        literal = []
        parts.append(group)
    parts.append("".join(literal))

    def replace(text: str, count: int) -> str:
        produced = len(text)

        def expand(m: re.Match[str]) -> str:
            # A group that did not take part in the match inserts nothing (Java behaviour).
            piece = "".join(p if isinstance(p, str) else (m.group(p) or "") for p in parts)
            nonlocal produced
            produced += len(piece)
            vtl_limits.ensure(produced)  # `replaceAll("", $s)` would square the length
            vtl_limits.check_time()  # one call can take seconds on a long string
            return piece

        return pattern.sub(expand, text, count=count)

    return replace


def _replace(text: str, old: str, new: str) -> str:
    # The result's length is known before it is built: refuse it if it is too long.
    matches = len(text) + 1 if not old else text.count(old)
    vtl_limits.ensure(len(text) + matches * (len(new) - len(old)))
    return text.replace(old, new)


def _replace_all(text: str, regex: str, replacement: str) -> str:
    return _java_replacer(regex, replacement)(text, 0)


def _replace_first(text: str, regex: str, replacement: str) -> str:
    return _java_replacer(regex, replacement)(text, 1)


def _split(text: str, regex: str, limit: int = 0) -> list[str]:
    """``String.split(regex, limit)`` with Java's rules for empty strings."""
    pieces: list[str] = []
    start = 0
    for m in _java_regex(regex).finditer(text):
        if 0 < limit <= len(pieces) + 1:
            break
        if m.end() == 0:  # a zero-width match at the start never yields a leading ""
            continue
        pieces.append(text[start : m.start()])
        start = m.end()
    if not pieces:
        return [text]
    pieces.append(text[start:])
    if limit == 0:
        while pieces and not pieces[-1]:
            pieces.pop()
    return pieces


# --------------------------------------------------------------------------------------
# Java methods available on values, looked up by the value's class
# --------------------------------------------------------------------------------------


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


_STRING_METHODS: dict[str, Callable[..., Any]] = {
    "contains": lambda s, part: part in s,
    "endsWith": lambda s, suffix: s.endswith(suffix),
    "equals": _equals,
    "equalsIgnoreCase": lambda s, other: isinstance(other, str) and s.lower() == other.lower(),
    "indexOf": _index_of,
    "isEmpty": lambda s: not s,
    "length": lambda s: len(_utf16(s)),
    "matches": lambda s, regex: _java_regex(regex).fullmatch(s) is not None,
    "replace": _replace,
    "replaceAll": _replace_all,
    "replaceFirst": _replace_first,
    "split": _split,
    "startsWith": lambda s, prefix: s.startswith(prefix),
    "substring": _substring,
    "toLowerCase": lambda s: s.lower(),
    "toString": lambda s: s,
    "toUpperCase": lambda s: s.upper(),
    "trim": _trim,
}
_MAP_METHODS: dict[str, Callable[..., Any]] = {
    "containsKey": lambda m, key: key in m,
    "containsValue": lambda m, value: value in m.values(),
    "entrySet": lambda m: [_Entry(k, v) for k, v in m.items()],
    "get": lambda m, key: m.get(key),
    "isEmpty": lambda m: not m,
    "keySet": lambda m: list(m),
    "put": _map_put,
    "remove": lambda m, key: m.pop(key, None),
    "size": len,
    "toString": _java_str,
    "values": lambda m: list(m.values()),
}
_LIST_METHODS: dict[str, Callable[..., Any]] = {
    "add": _list_add,
    "contains": lambda items, value: value in items,
    "get": _list_get,
    "indexOf": lambda items, value: items.index(value) if value in items else -1,
    "isEmpty": lambda items: not items,
    "size": len,
    "toString": _java_str,
}
_NUMBER_METHODS: dict[str, Callable[..., Any]] = {
    "doubleValue": float,
    "equals": _equals,
    "intValue": int,
    "longValue": int,
    "toString": _java_str,
}
_ENTRY_METHODS: dict[str, Callable[..., Any]] = {
    "getKey": lambda e: e.key,
    "getValue": lambda e: e.value,
    "toString": str,
}

# ``__additional_methods__`` is airspeed's own per-class method table; ours take precedence.
for _cls, _methods in (
    (str, _STRING_METHODS),
    (dict, _MAP_METHODS),
    (list, _LIST_METHODS),
    (int, _NUMBER_METHODS),
    (float, _NUMBER_METHODS),
    (bool, {**_NUMBER_METHODS, "booleanValue": bool}),
    (_Entry, _ENTRY_METHODS),
):
    airspeed.__additional_methods__.setdefault(_cls, {}).update(_methods)


_ADDITIONAL_METHODS: dict[type, dict[str, Callable[..., Any]]] = airspeed.__additional_methods__


def _methods_for(value: Any) -> dict[str, Callable[..., Any]] | None:
    methods = _ADDITIONAL_METHODS.get(type(value))
    if methods is None:  # e.g. a subclass of dict
        for cls in type(value).__mro__[1:]:
            methods = _ADDITIONAL_METHODS.get(cls)
            if methods is not None:
                break
    return methods


# --------------------------------------------------------------------------------------
# $util
# --------------------------------------------------------------------------------------


class _JavaScriptEscapes(dict):
    """``str.translate`` table; characters above U+007F are computed on demand."""

    def __missing__(self, code: int) -> str:
        if code > 0xFFFF:  # Java strings hold these as a UTF-16 surrogate pair
            return "".join(f"\\u{ord(unit):04X}" for unit in _surrogate_pair(chr(code)))
        return f"\\u{code:04X}"


_JS_ESCAPES = _JavaScriptEscapes({code: chr(code) for code in range(0x80)})
_JS_ESCAPES.update({code: f"\\u{code:04X}" for code in range(0x20)})
_JS_ESCAPES.update({ord(c): "\\" + e for c, e in zip("\b\n\t\f\r", "bntfr", strict=True)})
_JS_ESCAPES.update({ord(c): "\\" + c for c in "'\"\\/"})


def escape_javascript(value: str) -> str:
    """Apache commons-lang 2.6 ``StringEscapeUtils.escapeJavaScript``, character for character.

    ``'`` ``"`` ``\\`` ``/`` get a backslash; ``\\b \\n \\t \\f \\r`` their short escapes;
    other control characters and everything above U+007F become upper-case ``\\uXXXX``
    (characters above U+FFFF as two escapes, one per UTF-16 surrogate). U+007F stays as is.
    """
    return value.translate(_JS_ESCAPES)


_URL_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class _Util:
    """``$util``: the helpers API Gateway provides to mapping templates."""

    def escapeJavaScript(self, value: Any) -> str | None:
        return None if value is None else escape_javascript(_java_str(value))

    def parseJson(self, value: str | None) -> Any:
        if value is None:
            return None
        try:
            return json.loads(value)
        except ValueError as exc:
            raise ValueError(f"$util.parseJson: invalid JSON: {exc}") from None

    def urlEncode(self, value: str) -> str:
        # java.net.URLEncoder (UTF-8): keeps A-Z a-z 0-9 . - * _, encodes ~, space is "+".
        return quote_plus(value, safe="*", errors="replace").replace("~", "%7E")

    def urlDecode(self, value: str) -> str:
        if _URL_ESCAPE.search(value):  # java.net.URLDecoder rejects these
            raise ValueError(f"$util.urlDecode: illegal % escape in {value!r}")
        return unquote_plus(value, errors="replace")

    def base64Encode(self, value: str) -> str:
        return base64.b64encode(value.encode("utf-8", "replace")).decode("ascii")

    def base64Decode(self, value: str) -> str:
        data = re.sub(r"[^A-Za-z0-9+/]", "", value)
        return base64.b64decode(data + "=" * (-len(data) % 4)).decode("utf-8", "replace")


_UTIL = _Util()
_ADDITIONAL_METHODS[_Util] = {
    name: method for name, method in vars(_Util).items() if not name.startswith("_")
}


# --------------------------------------------------------------------------------------
# $input and its JSONPath subset
# --------------------------------------------------------------------------------------

# A hand parser for the JSONPath forms templates use ($, .a, ['a'], [0], .*, [*]):
# jsonpath-ng would work too, but its parser costs milliseconds per expression and
# its result objects would need unwrapping; this is a few lines and cached.
_JSONPATH_STEP = re.compile(
    r"""\.(?:(\*)|([^.\[\]\s]+))"""
    r"""|\[\s*(?:(\*)|(-?\d+)|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*\]""",
    re.S,
)
_MISSING = object()
_NOT_JSON = object()


@functools.lru_cache(maxsize=256)
def _jsonpath_steps(path: str) -> tuple[tuple[str, Any], ...]:
    path = path.strip()
    if not path.startswith("$"):
        raise ValueError(f"JSONPath {path!r} must start with '$'")
    steps: list[tuple[str, Any]] = []
    pos = 1
    while pos < len(path):
        m = _JSONPATH_STEP.match(path, pos)
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


def _select(document: Any, steps: tuple[tuple[str, Any], ...]) -> Any:
    """The value at ``steps``; a list when a wildcard is involved; ``_MISSING`` if none."""
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
    return values[0] if values else _MISSING


class _Input:
    """``$input``: the request body and its parameters."""

    def __init__(self, body: str | None, params: Mapping[str, Mapping[str, str]] | None) -> None:
        self.body = "" if body is None else body
        params = params or {}
        self._params = {
            section: dict(params.get(section) or {})
            for section in ("path", "querystring", "header")
        }
        self._document: Any = _MISSING

    def _lookup(self, path: str) -> Any:
        if self._document is _MISSING:
            try:
                # An empty body reads as {} (API Gateway gives {} for $input.json('$')).
                self._document = json.loads(self.body) if self.body.strip() else {}
            except (ValueError, RecursionError):  # nested too deep reads as not JSON
                self._document = _NOT_JSON
        steps = _jsonpath_steps(path)
        if self._document is _NOT_JSON:
            return self.body if not steps else _MISSING
        return _select(self._document, steps)

    def json(self, path: str) -> str:
        """Compact JSON text of the value at ``path``; "" if there is none.

        A body that is not JSON exists only at ``$``, as a JSON string.
        """
        value = self._lookup(path)
        if value is _MISSING:
            return ""
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def path(self, path: str) -> Any:
        """The value at ``path`` as a map, list, string or number; null if there is none."""
        value = self._lookup(path)
        return None if value is _MISSING else value

    def params(self, name: Any = None) -> Any:
        """All parameters, or the one called ``name`` from path, query string, then headers."""
        if name is None:
            return self._params
        name = _java_str(name)
        for section in ("path", "querystring"):
            if name in self._params[section]:
                return self._params[section][name]
        wanted = name.lower()
        for header, value in self._params["header"].items():
            if header.lower() == wanted:
                return value
        return ""


_ADDITIONAL_METHODS[_Input] = {
    "getBody": lambda self: self.body,  # $input.body
    "json": _Input.json,
    "path": _Input.path,
    "params": _Input.params,
}


# --------------------------------------------------------------------------------------
# Patches to airspeed's evaluation
# --------------------------------------------------------------------------------------


def _truthy(value: Any) -> bool:
    # Velocity 1.7: only null and false are false; "", 0 and empty lists are true.
    return value is not None and value is not False


def _not(value: Any) -> bool:
    return not _truthy(value)


def _velocity_equals(left: Any, right: Any) -> bool:
    """Velocity 1.7 ``==``: numbers by value, same classes by equals(), else by toString()."""
    if left is None or right is None:
        return left is right
    if _is_number(left) and _is_number(right):
        return left == right
    if type(left) is type(right) or (isinstance(left, dict) and isinstance(right, dict)):
        return left == right
    return _java_str(left) == _java_str(right)


def _java_divide(left: Any, right: Any) -> Any:
    # Velocity: a non-number or a zero divisor gives null; int / int truncates toward zero.
    if not (_is_number(left) and _is_number(right)) or right == 0:
        return None
    if isinstance(left, int) and isinstance(right, int):
        quotient = abs(left) // abs(right)
        return quotient if (left < 0) == (right < 0) else -quotient
    return left / right


def _java_remainder(left: Any, right: Any) -> Any:
    # Java's % takes the sign of the dividend (Python's takes the divisor's).
    if not (_is_number(left) and _is_number(right)) or right == 0:
        return None
    if isinstance(left, int) and isinstance(right, int):
        remainder = abs(left) % abs(right)
        return -remainder if left < 0 else remainder
    return math.fmod(left, right)


def _get_property(obj: Any, name: str) -> Any:
    """``$obj.name`` the way Velocity resolves a property (no parentheses)."""
    if type(obj) is dict or isinstance(obj, Mapping):
        return obj.get(name)  # Velocity: map.get("name")
    methods = _methods_for(obj)
    if methods is not None:  # Java getters: $entry.key is getKey(), $s.empty is isEmpty()
        capitalised = name[:1].upper() + name[1:]
        for getter in ("get" + capitalised, "is" + capitalised):
            if getter in methods:
                return methods[getter](obj)
    return None


def _call_method(obj: Any, name: str, args: list[Any]) -> Any:
    """``$obj.name(args)``: only methods in the table are visible, never Python attributes."""
    methods = _ADDITIONAL_METHODS.get(type(obj)) or _methods_for(obj)
    method = methods.get(name) if methods else None
    if method is None:
        return None
    if name not in _GROWING:
        return method(obj, *args)
    text = obj if isinstance(obj, str) else next((a for a in args if type(a) is str), "")
    vtl_limits.ensure_growth(len(text))
    return vtl_limits.check_value(method(obj, *args))


# Methods whose result can be several times longer than their input: checked before the call
# and counted after it. (The replace methods check their own results.)
_GROWING = frozenset(
    {"escapeJavaScript", "urlEncode", "base64Encode", "toUpperCase", "toLowerCase"}
)


def _index(value: Any, key: Any) -> Any:
    if isinstance(value, list) and not isinstance(key, int):
        raise ValueError(f"expected integer for list index, got {key!r}")
    try:
        return value[key]
    except (LookupError, TypeError):
        return None


_LocalNamespace = airspeed.LocalNamespace


def _name_or_call(self: Any, current: Any, loader: Any, top_namespace: Any) -> Any:
    """Replaces ``NameOrCall.calculate``.

    airspeed tries ``obj[name]`` before methods, so a query parameter called ``get`` or
    ``keySet`` would shadow the method; Velocity treats ``.name(...)`` as a method call
    and ``.name`` as a property, which is what this does.
    """
    name = self.name
    if type(current) is _LocalNamespace:  # a template variable
        try:
            result = current[name]
        except KeyError:
            return None
        if type(result) is airspeed.DefineDefinition:  # a #define block
            args = self.parameters.calculate(top_namespace, loader) if self.parameters else []
            stream = airspeed.StoppableStream()
            result.execute_function(stream, top_namespace, args, loader)
            return stream.getvalue()
    elif current is None:
        return None
    elif self.parameters is not None:
        return _call_method(current, name, self.parameters.calculate(top_namespace, loader))
    else:
        result = _get_property(current, name)
    if self.index is not None:
        result = _index(result, self.index.calculate(top_namespace, loader))
    return result


def _write_reference(self: Any, stream: Any, namespace: Any, loader: Any) -> None:
    """Replaces ``FormalReference.evaluate_raw`` to write values as Java would."""
    value = None
    if self.expression is not None:
        value = self.expression.calculate(namespace, loader)
    if value is None and self.alternate is not None:
        value = self.alternate.calculate(namespace, loader)
    if value is None:
        # Velocity: a null reference renders as its own text, or as nothing with $!
        value = "" if self.silent and self.expression is not None else self.my_text()
    stream.write(value if type(value) is str else _java_str(value))


_SINGLE_QUOTED = re.compile(r"'((?:[^']|'')*)'", re.S)
_DOUBLE_QUOTED = re.compile(r'"((?:[^"\\]|\\.|"")*)"', re.S)
_UNICODE_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})")


def _parse_single_quoted(self: Any) -> None:
    # Velocity 1.7: no backslash escapes in string literals; '' stands for '.
    (raw,) = self.identity_match(_SINGLE_QUOTED)
    self.value = raw.replace("''", "'")


def _parse_double_quoted(self: Any) -> None:
    # Velocity 1.7 keeps backslashes ("\\'" is three characters), decodes only \uXXXX,
    # turns "" into ", and interpolates only literals that contain $ or #.
    (raw,) = self.identity_match(_DOUBLE_QUOTED)
    value = _UNICODE_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), raw)
    self.value = _from_utf16(value).replace('""', '"')
    self.block = None
    if "$" in raw or "#" in raw:
        self.block = airspeed.TemplateBody(self.filename, self.value, 0)


def _calculate_double_quoted(self: Any, namespace: Any, loader: Any) -> str:
    if self.block is None:
        return self.value
    output = airspeed.StoppableStream()
    self.block.evaluate(output, namespace, loader)
    return output.getvalue()


def _parse_condition(self: Any) -> None:
    """Replaces ``Condition.parse``: ``#if(`` must be followed by a valid condition.

    airspeed would otherwise print a malformed ``#if(...`` as text; Velocity rejects it.
    """
    if not self.full_text().startswith("(", self.end):
        raise airspeed.NoMatch()  # "#if" without "(" is plain text
    expression = self.require_next_element(airspeed.ParenthesizedExpression, "(condition)")
    self.optional_match(airspeed.WHITESPACE_TO_END_OF_LINE)
    self.calculate = lambda namespace, loader: _truthy(expression.calculate(namespace, loader))


class _ForeachItems:
    """What ``#foreach`` iterates: a map's values (Velocity 1.7), or nothing for a scalar."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def calculate(self, namespace: Any, loader: Any) -> Any:
        items = self.value.calculate(namespace, loader)
        if isinstance(items, Mapping):
            return list(items.values())
        if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
            return None
        return items


def _parse_foreach(self: Any) -> None:
    """Replaces ``ForeachDirective.parse``: a missing list is a syntax error, not text."""
    self.identity_match(self.START)
    self.require_match(self.OPEN_PAREN, "(")
    (self.loop_var_name,) = self.require_match(self.LOOP_VAR_NAME, "loop var name")
    self.require_match(self.IN, "in")
    self.value = _ForeachItems(self.require_next_element(airspeed.Value, "value"))
    self.require_match(self.CLOSE_PAREN, ")")
    self.block = self.next_element(airspeed.Block)
    self.require_next_element(airspeed.End, "#end")


def _evaluate_set(self: Any, stream: Any, namespace: Any, loader: Any) -> None:
    """Replaces ``SetDirective.evaluate_raw``.

    Velocity 1.7 (directive.set.null.allowed=false): a null right-hand side leaves the
    variable unchanged.
    """
    value = self.value.calculate(namespace, loader)
    if value is None:
        return
    if len(self.terms) == 1:
        namespace.set_inherited(self.terms[0], value)
        return
    target = namespace
    for term in self.terms[:-1]:
        target = target[term]
    target[self.terms[-1]] = value


# The rest are speed-ups for a hot path, with airspeed's behaviour unchanged: its
# isinstance checks against abc classes and its KeyError-driven namespace lookups
# dominate the cost of a #foreach.


def _namespace_lookup(self: Any, key: str) -> Any:
    """Replaces ``LocalNamespace.__getitem__``: walks up the scopes without exceptions."""
    namespace = self
    while type(namespace) is _LocalNamespace:
        if key in namespace:
            return dict.__getitem__(namespace, key)
        namespace = namespace.parent
    return namespace[key]


def _sub_expression(self: Any, current: Any, loader: Any, global_namespace: Any) -> Any:
    """Replaces ``SubExpression.calculate`` (``.name...`` or ``[index]...``)."""
    if type(self.expression) is not airspeed.ArrayIndex:
        return self.expression.calculate(current, loader, global_namespace)
    result = current[self.expression.calculate(current, loader)]
    if self.subexpression:
        result = self.subexpression.calculate(result, loader, global_namespace)
    return result


def _skip_wrapper(cls: type, inner: str) -> None:
    """After parsing, let ``cls`` answer ``calculate`` with its inner element directly."""
    parse = cls.parse
    if getattr(parse, "binds_inner", False):  # already installed
        return

    def parse_and_bind(self: Any) -> None:
        parse(self)
        self.calculate = getattr(self, inner).calculate

    parse_and_bind.binds_inner = True  # type: ignore[attr-defined]
    cls.parse = parse_and_bind


def _install_patches() -> None:
    """Apply the Java/Velocity behaviour to airspeed (safe to repeat)."""
    airspeed.NameOrCall.calculate = _name_or_call
    airspeed.FormalReference.evaluate_raw = _write_reference
    airspeed.StringLiteral.parse = _parse_single_quoted
    airspeed.InterpolatedStringLiteral.parse = _parse_double_quoted
    airspeed.InterpolatedStringLiteral.calculate = _calculate_double_quoted
    airspeed.Condition.parse = _parse_condition
    airspeed.ForeachDirective.parse = _parse_foreach
    airspeed.SetDirective.evaluate_raw = _evaluate_set
    airspeed.LocalNamespace.__getitem__ = _namespace_lookup
    airspeed.SubExpression.calculate = _sub_expression
    _skip_wrapper(airspeed.Value, "expression")
    _skip_wrapper(airspeed.ParameterList, "values")
    operators = {
        "/": _java_divide,
        "%": _java_remainder,
        "==": _velocity_equals,
        "!=": lambda a, b: not _velocity_equals(a, b),
        "&&": lambda a, b: _truthy(a) and _truthy(b),
        "||": lambda a, b: _truthy(a) or _truthy(b),
    }
    for word, symbol in (("eq", "=="), ("ne", "!="), ("and", "&&"), ("or", "||")):
        operators[word] = operators[symbol]
    airspeed.BinaryOperator.OPERATORS.update(operators)
    airspeed.UnaryOperatorValue.OPERATORS.update({"!": _not, "not": _not})
    vtl_limits.install()


_install_patches()


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def compile_template(text: str) -> airspeed.Template:
    """Parse a mapping template once; cached by its text. Raises ``TemplateError``."""
    template = airspeed.Template(text, filename="<mapping template>")
    try:
        template.ensure_compiled()
    except airspeed.TemplateSyntaxError as exc:
        raise TemplateError(f"mapping template syntax error: {exc}") from None
    except Exception as exc:  # e.g. RecursionError on absurd nesting
        raise TemplateError(f"mapping template cannot be parsed: {exc!r}") from exc
    return template


def _plain(value: Any) -> Any:
    """A private copy as dicts and lists, so the template cannot change the caller's data."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _describe_failure(exc: airspeed.TemplateExecutionError) -> str:
    element = exc.element
    line = element.full_text().count("\n", 0, element.start) + 1
    text = element.my_text()
    if len(text) > 80:
        text = text[:77] + "..."
    cause = exc.__cause__
    return f"mapping template failed at line {line} in {text!r}: {type(cause).__name__}: {cause}"


def render(
    template: str,
    *,
    context: Mapping[str, Any],
    body: str | None = None,
    params: Mapping[str, Mapping[str, str]] | None = None,
    stage_variables: Mapping[str, str] | None = None,
    time_limit: float = vtl_limits.RENDER_SECONDS,
) -> str:
    """Render a mapping template as API Gateway does.

    The template sees ``$context`` (``context``, nested mappings allowed), ``$input``
    (``body``; ``params`` with the keys ``path``, ``querystring`` and ``header``), ``$util``
    and ``$stageVariables``. Raises ``TemplateError`` if the template cannot be parsed or
    fails while rendering, including going past a limit in ``vtl_limits`` (1,000 ``#foreach``
    iterations, ``time_limit`` seconds, characters produced).
    """
    compiled = compile_template(template)
    namespace = {
        "context": _plain(context),
        "input": _Input(body, params),
        "util": _UTIL,
        "stageVariables": dict(stage_variables or {}),
    }
    try:
        with vtl_limits.budget(seconds=min(time_limit, vtl_limits.RENDER_SECONDS)):
            return compiled.merge(namespace)
    except airspeed.TemplateExecutionError as exc:
        raise TemplateError(_describe_failure(exc)) from exc.__cause__
    except Exception as exc:  # e.g. RecursionError from a self-referencing #define
        raise TemplateError(f"mapping template failed: {exc!r}") from exc
