"""The variables API Gateway gives a mapping template besides ``$context`` and
``$stageVariables``: ``$input`` (the request body and parameters) and ``$util``.

``VARIABLE_METHODS`` lists what a template may call on them; nothing else is visible.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from local_aws.vtl import jsonpath
from local_aws.vtl.java import java_str, surrogate_pair

# --------------------------------------------------------------------------------------
# $util
# --------------------------------------------------------------------------------------


class _JavaScriptEscapes(dict):
    """``str.translate`` table; characters above U+007F are computed on demand."""

    def __missing__(self, code: int) -> str:
        if code > 0xFFFF:  # Java strings hold these as a UTF-16 surrogate pair
            return "".join(f"\\u{ord(unit):04X}" for unit in surrogate_pair(chr(code)))
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


class Util:
    """``$util``: the helpers API Gateway provides to mapping templates."""

    def escapeJavaScript(self, value: Any) -> str | None:
        return None if value is None else escape_javascript(java_str(value))

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


UTIL = Util()  # stateless: one instance serves every render


# --------------------------------------------------------------------------------------
# $input
# --------------------------------------------------------------------------------------

_NOT_JSON = object()


class Input:
    """``$input``: the request body and its parameters."""

    def __init__(self, body: str | None, params: Mapping[str, Mapping[str, str]] | None) -> None:
        self.body = "" if body is None else body
        params = params or {}
        self._params = {
            section: dict(params.get(section) or {})
            for section in ("path", "querystring", "header")
        }
        self._document: Any = jsonpath.MISSING

    def _lookup(self, path: str) -> Any:
        if self._document is jsonpath.MISSING:
            try:
                # An empty body reads as {} (API Gateway gives {} for $input.json('$')).
                self._document = json.loads(self.body) if self.body.strip() else {}
            except (ValueError, RecursionError):  # nested too deep reads as not JSON
                self._document = _NOT_JSON
        steps = jsonpath.parse(path)
        if self._document is _NOT_JSON:
            return self.body if not steps else jsonpath.MISSING
        return jsonpath.select(self._document, steps)

    def json(self, path: str) -> str:
        """Compact JSON text of the value at ``path``; "" if there is none.

        A body that is not JSON exists only at ``$``, as a JSON string.
        """
        value = self._lookup(path)
        if value is jsonpath.MISSING:
            return ""
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def path(self, path: str) -> Any:
        """The value at ``path`` as a map, list, string or number; null if there is none."""
        value = self._lookup(path)
        return None if value is jsonpath.MISSING else value

    def params(self, name: Any = None) -> Any:
        """All parameters, or the one called ``name`` from path, query string, then headers."""
        if name is None:
            return self._params
        name = java_str(name)
        for section in ("path", "querystring"):
            if name in self._params[section]:
                return self._params[section][name]
        wanted = name.lower()
        for header, value in self._params["header"].items():
            if header.lower() == wanted:
                return value
        return ""


VARIABLE_METHODS: dict[type, dict[str, Callable[..., Any]]] = {
    Input: {
        "getBody": lambda self: self.body,  # $input.body
        "json": Input.json,
        "path": Input.path,
        "params": Input.params,
    },
    Util: {name: method for name, method in vars(Util).items() if not name.startswith("_")},
}
