"""Java regular expressions and replacements (``replaceAll``, ``split``, ...) on Python's ``re``.

Each method that builds a string checks the render's character budget before or while it
builds it, so a template cannot grow a string past ``limits.MAX_RENDER_CHARACTERS``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from local_aws.vtl import limits

_JAVA_REGEX_SYNTAX = re.compile(
    r"\\Q(.*?)(?:\\E|\Z)|\(\?<([A-Za-z][A-Za-z0-9]*)>|\\k<(\w+)>|\\.", re.S
)


@functools.lru_cache(maxsize=256)
def java_regex(pattern: str) -> re.Pattern[str]:
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


def _replacement_parts(pattern: re.Pattern[str], replacement: str) -> list[str | int]:
    """Java replacement syntax, parsed: literal text, and group numbers or names between.

    ``$1`` and ``${name}`` insert groups, ``\\`` quotes the next character.
    """
    parts: list[str | int] = []
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
    return parts


@functools.lru_cache(maxsize=256)
def java_replacer(regex: str, replacement: str) -> Callable[[str, int], str]:
    """``(text, count) -> text`` for ``replaceAll``/``replaceFirst`` (count 0: all)."""
    pattern = java_regex(regex)
    parts = _replacement_parts(pattern, replacement)

    def replace(text: str, count: int) -> str:
        produced = len(text)

        def expand(m: re.Match[str]) -> str:
            # A group that did not take part in the match inserts nothing (Java behaviour).
            piece = "".join(p if isinstance(p, str) else (m.group(p) or "") for p in parts)
            nonlocal produced
            produced += len(piece)
            limits.ensure(produced)  # `replaceAll("", $s)` would square the length
            limits.check_time()  # one call can take seconds on a long string
            return piece

        return pattern.sub(expand, text, count=count)

    return replace


def replace(text: str, old: str, new: str) -> str:
    """``String.replace(old, new)``: every literal occurrence."""
    # The result's length is known before it is built: refuse it if it is too long.
    matches = len(text) + 1 if not old else text.count(old)
    limits.ensure(len(text) + matches * (len(new) - len(old)))
    return text.replace(old, new)


def replace_all(text: str, regex: str, replacement: str) -> str:
    """``String.replaceAll(regex, replacement)``."""
    return java_replacer(regex, replacement)(text, 0)


def replace_first(text: str, regex: str, replacement: str) -> str:
    """``String.replaceFirst(regex, replacement)``."""
    return java_replacer(regex, replacement)(text, 1)


def matches(text: str, regex: str) -> bool:
    """``String.matches(regex)``: the whole string must match."""
    return java_regex(regex).fullmatch(text) is not None


def split(text: str, regex: str, limit: int = 0) -> list[str]:
    """``String.split(regex, limit)`` with Java's rules for empty strings."""
    pieces: list[str] = []
    start = 0
    for m in java_regex(regex).finditer(text):
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
