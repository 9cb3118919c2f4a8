"""Changes to airspeed 0.7.1: Java-based Velocity 1.7 semantics and the render limits.

API Gateway renders mapping templates with Java-based Velocity; airspeed evaluates them the
Python way. Each replacement below keeps airspeed's parser and evaluator and changes one
thing: how a reference resolves and is written, string literals, ``#if``, ``#foreach``,
``#set``, operators, and the checks of ``local_aws.vtl.limits`` from inside airspeed's loop.
The semantics themselves live in ``local_aws.vtl`` as plain functions; this module only
wires them into airspeed's classes.

These are process-wide, which is acceptable because local_aws is airspeed's only user in
its processes. ``REPLACEMENTS`` lists every attribute (and operator) replaced, so a test can
check that each still exists in the pinned version.
"""

from __future__ import annotations

import re
from typing import Any

import airspeed

from local_aws.vtl import limits, references, velocity
from local_aws.vtl.java import from_utf16, java_str

PINNED: dict[str, str] = {"airspeed": "0.7.1"}

_LocalNamespace = airspeed.LocalNamespace

# --------------------------------------------------------------------------------------
# References: how `$a.b`, `$a.b(...)` resolve and how a value is written
# --------------------------------------------------------------------------------------


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
        args = self.parameters.calculate(top_namespace, loader)
        return references.call_method(current, name, args)
    else:
        result = references.get_property(current, name)
    if self.index is not None:
        result = references.index(result, self.index.calculate(top_namespace, loader))
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
    stream.write(value if type(value) is str else java_str(value))


# --------------------------------------------------------------------------------------
# String literals (Velocity 1.7 rules)
# --------------------------------------------------------------------------------------

_SINGLE_QUOTED = re.compile(r"'((?:[^']|'')*)'", re.S)
_DOUBLE_QUOTED = re.compile(r'"((?:[^"\\]|\\.|"")*)"', re.S)
_UNICODE_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})")


def _parse_single_quoted(self: Any) -> None:
    """Replaces ``StringLiteral.parse``: no backslash escapes; ``''`` stands for ``'``."""
    (raw,) = self.identity_match(_SINGLE_QUOTED)
    self.value = raw.replace("''", "'")


def _parse_double_quoted(self: Any) -> None:
    """Replaces ``InterpolatedStringLiteral.parse``.

    Velocity 1.7 keeps backslashes (``"\\'"`` is three characters), decodes only
    ``\\uXXXX``, turns ``""`` into ``"``, and interpolates only literals holding $ or #.
    """
    (raw,) = self.identity_match(_DOUBLE_QUOTED)
    value = _UNICODE_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), raw)
    self.value = from_utf16(value).replace('""', '"')
    self.block = None
    if "$" in raw or "#" in raw:
        self.block = airspeed.TemplateBody(self.filename, self.value, 0)


def _calculate_double_quoted(self: Any, namespace: Any, loader: Any) -> str:
    """Replaces ``InterpolatedStringLiteral.calculate``: a literal without $ or # as is."""
    if self.block is None:
        return self.value
    output = airspeed.StoppableStream()
    self.block.evaluate(output, namespace, loader)
    return output.getvalue()


# --------------------------------------------------------------------------------------
# Directives: #if, #foreach, #set, #evaluate
# --------------------------------------------------------------------------------------


def _parse_condition(self: Any) -> None:
    """Replaces ``Condition.parse``: ``#if(`` must be followed by a valid condition.

    airspeed would otherwise print a malformed ``#if(...`` as text; Velocity rejects it.
    """
    if not self.full_text().startswith("(", self.end):
        raise airspeed.NoMatch()  # "#if" without "(" is plain text
    expression = self.require_next_element(airspeed.ParenthesizedExpression, "(condition)")
    self.optional_match(airspeed.WHITESPACE_TO_END_OF_LINE)
    self.expression = expression  # for local_aws.vtl.compiled
    self.calculate = lambda namespace, loader: velocity.truthy(
        expression.calculate(namespace, loader)
    )


class _ForeachItems:
    """The ``#foreach`` list expression, answering with ``velocity.foreach_items``."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def calculate(self, namespace: Any, loader: Any) -> Any:
        return velocity.foreach_items(self.value.calculate(namespace, loader))


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


def _foreach(self: Any, stream: Any, namespace: Any, loader: Any) -> None:
    """Replaces ``ForeachDirective.evaluate_raw``: airspeed's loop plus the iteration limit.

    Each nested loop counts its own iterations, as Velocity's maxloops does; together they
    share the time budget.
    """
    iterable = self.value.calculate(namespace, loader)
    for scope in velocity.foreach_scopes(
        iterable, self.loop_var_name, lambda: airspeed.LocalNamespace(namespace)
    ):
        self.block.evaluate(stream, scope, loader)


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


_airspeed_evaluate = airspeed.EvaluateDirective.evaluate_raw


def _evaluate(self: Any, stream: Any, namespace: Any, loader: Any) -> None:
    """Wraps ``EvaluateDirective.evaluate_raw``: parsing is not interruptible, so the text
    is bounded like a mapping template."""
    limits.check_evaluate_text(self.value.calculate(namespace, loader))
    _airspeed_evaluate(self, stream, namespace, loader)


# --------------------------------------------------------------------------------------
# Limits checked from inside airspeed's loop
# --------------------------------------------------------------------------------------


def _block(self: Any, stream: Any, namespace: Any, loader: Any) -> None:
    """Replaces ``Block.evaluate_raw``: every loop body, macro and #define runs through
    here, so this is where a render notices it is out of time."""
    limits.check_time()
    for child in self.children:
        child.evaluate(stream, namespace, loader)


def _write(self: Any, text: str) -> None:
    """Replaces ``StoppableStream.write``: counts what is written, in the output and in
    every interpolated string or #define."""
    if not self.stop:
        limits.spend(len(text))
        airspeed.StringIO.write(self, text)


def _range(self: Any, namespace: Any, loader: Any) -> range:
    """Replaces ``Range.calculate``, refusing absurdly long ranges."""
    first = self.value1.calculate(namespace, loader)
    last = self.value2.calculate(namespace, loader)
    values = range(first, last - 1, -1) if last < first else range(first, last + 1)
    limits.check_range(first, last, len(values))
    return values


# --------------------------------------------------------------------------------------
# Speed-ups for a hot path, with airspeed's behaviour unchanged: its isinstance checks
# against abc classes and its KeyError-driven namespace lookups dominate a #foreach.
# --------------------------------------------------------------------------------------


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


def _answer_with_inner(cls: Any, inner: str) -> Any:
    """A ``cls.parse`` after which ``calculate`` is the inner element's, skipping ``cls``."""
    parse = cls.parse

    def parse_and_bind(self: Any) -> None:
        parse(self)
        self.calculate = getattr(self, inner).calculate

    return parse_and_bind


# --------------------------------------------------------------------------------------
# The replacements, applied by install()
# --------------------------------------------------------------------------------------

# (owner inside airspeed, attribute or operator) -> what replaces it. An owner ending in
# ".OPERATORS" is an operator table, whose entries are replaced by symbol.
REPLACEMENTS: dict[tuple[str, str], Any] = {
    ("NameOrCall", "calculate"): _name_or_call,
    ("FormalReference", "evaluate_raw"): _write_reference,
    ("StringLiteral", "parse"): _parse_single_quoted,
    ("InterpolatedStringLiteral", "parse"): _parse_double_quoted,
    ("InterpolatedStringLiteral", "calculate"): _calculate_double_quoted,
    ("Condition", "parse"): _parse_condition,
    ("ForeachDirective", "parse"): _parse_foreach,
    ("ForeachDirective", "evaluate_raw"): _foreach,
    ("SetDirective", "evaluate_raw"): _evaluate_set,
    ("EvaluateDirective", "evaluate_raw"): _evaluate,
    ("Block", "evaluate_raw"): _block,
    ("StoppableStream", "write"): _write,
    ("Range", "calculate"): _range,
    ("LocalNamespace", "__getitem__"): _namespace_lookup,
    ("SubExpression", "calculate"): _sub_expression,
    ("Value", "parse"): _answer_with_inner(airspeed.Value, "expression"),
    ("ParameterList", "parse"): _answer_with_inner(airspeed.ParameterList, "values"),
    **{("BinaryOperator.OPERATORS", op): f for op, f in velocity.BINARY_OPERATORS.items()},
    **{("UnaryOperatorValue.OPERATORS", op): f for op, f in velocity.UNARY_OPERATORS.items()},
}
REPLACED: tuple[tuple[str, str], ...] = tuple(REPLACEMENTS)


def resolve_owner(module: Any, owner: str) -> Any:
    """The class or operator table called ``owner`` (e.g. ``"BinaryOperator.OPERATORS"``)."""
    for name in owner.split("."):
        module = getattr(module, name)
    return module


# What else of airspeed's the replacements and local_aws.vtl read: its own method table,
# and the classes and patterns they build or match with.
_READS: tuple[tuple[object, str], ...] = tuple(
    (airspeed, name)
    for name in (
        "__additional_methods__",
        "ArrayIndex",
        "Block",
        "DefineDefinition",
        "End",
        "NoMatch",
        "ParenthesizedExpression",
        "StoppableStream",
        "StringIO",
        "Template",
        "TemplateBody",
        "TemplateExecutionError",
        "TemplateSyntaxError",
        "Value",
        "WHITESPACE_TO_END_OF_LINE",
    )
)
# Every (owner, attribute) these patches need, in the form the other patch modules use.
RELIES_ON: tuple[tuple[object, str], ...] = tuple(
    dict.fromkeys(
        [
            (resolve_owner(airspeed, owner.rpartition(".")[0]), "OPERATORS")
            if owner.endswith(".OPERATORS")
            else (resolve_owner(airspeed, owner), name)
            for owner, name in REPLACED
        ]
        + list(_READS)
    )
)


def install() -> None:
    """Put every replacement in ``REPLACEMENTS`` in place in airspeed."""
    for (owner, name), replacement in REPLACEMENTS.items():
        target = resolve_owner(airspeed, owner)
        if isinstance(target, dict):
            target[name] = replacement
        else:
            setattr(target, name, replacement)
