"""Mapping templates compiled once into Python closures, rendering what airspeed renders.

airspeed interprets a template by walking its tree on every render: each element's
``evaluate`` wraps errors, each reference goes through three layers of ``calculate``. On
``$connect`` that walk cost more than the DynamoDB call it prepares (~25 µs per header in the
usual escaped ``#foreach``). ``compile_body`` turns the tree airspeed parsed into nested
closures, once per template; rendering then runs them.

The closures do exactly what the patched airspeed does (``local_aws.patches.airspeed``):
the same Java semantics (``references``, ``velocity``), the same namespaces
(``airspeed.LocalNamespace``) and output stream, the same checks of ``limits`` at the same
points, and errors wrapped in ``TemplateExecutionError`` at the same element, so messages do
not change either. Elements they have no fast path for (macros, ``#define``, ``#evaluate``,
``#stop``, ranges, list and map literals...) are run by airspeed itself, on the same stream
and namespace. ``tests/unit/test_vtl_compiled.py`` renders templates both ways and
compares.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import airspeed

from local_aws.vtl import limits, references, velocity
from local_aws.vtl.java import java_str

Stream = Any  # airspeed.StoppableStream, whose write counts characters (patches.airspeed)
Statement = Callable[[Stream, Any], None]  # (stream, namespace)
Expression = Callable[[Any], Any]  # namespace -> value
Part = Callable[[Any, Any], Any]  # (current value, namespace of the render) -> value

_LOADER = airspeed.NullLoader()
_LocalNamespace = airspeed.LocalNamespace
_ExecutionError = airspeed.TemplateExecutionError
_get = dict.__getitem__


def compile_body(body: Any) -> Callable[[dict[str, Any]], str]:
    """A function rendering airspeed's parsed TemplateBody with a namespace dict."""
    run = _template_body(body)

    def render(namespace: dict[str, Any]) -> str:
        output = _Output()
        run(output, namespace)
        return output.getvalue()

    return render


class _Output:
    """airspeed's StoppableStream as patches.airspeed makes it count (`_write`), taking the
    render's budget once rather than at every write."""

    __slots__ = ("_budget", "_parts", "stop")

    def __init__(self) -> None:
        self.stop = False  # set by #stop
        self._parts: list[str] = []
        self._budget = limits.current()

    def write(self, text: str) -> None:
        if not self.stop:
            if self._budget is not None:
                self._budget.spend(len(text))
            self._parts.append(text)

    def getvalue(self) -> str:
        return "".join(self._parts)


# ----------------------------------------------------------------------------- statements


def _template_body(element: Any) -> Statement:
    block = _block(element.block)

    def body(stream: Stream, namespace: Any) -> None:
        if not isinstance(namespace, _LocalNamespace):
            namespace = _LocalNamespace(namespace)
        block(stream, namespace)

    return body


def _block(element: Any) -> Statement:
    """patches.airspeed._block: the time check, then each child.

    Errors are wrapped here, as airspeed's `_Element.evaluate` wraps them: in a
    TemplateExecutionError naming the innermost element that raised (the statements below
    leave it to their block). A block itself never raises anything else.
    """
    children = [
        (child, _statement(child))
        for child in element.children
        if type(child) is not airspeed.Comment
    ]

    def block(stream: Stream, namespace: Any) -> None:
        try:
            limits.check_time()
        except Exception as exc:
            raise _ExecutionError(element) from exc
        for child, run in children:
            try:
                run(stream, namespace)
            except _ExecutionError:
                raise
            except Exception as exc:
                raise _ExecutionError(child) from exc

    return block


def _statement(element: Any) -> Statement:
    kind = type(element)
    if kind is airspeed.Text or kind is airspeed.FallthroughHashText:
        text = element.text
        return lambda stream, namespace: stream.write(text)
    if kind is airspeed.FormalReference:
        return _reference(element)
    if kind is airspeed.IfDirective:
        return _if(element)
    if kind is airspeed.SetDirective:
        return _set(element)
    if kind is airspeed.ForeachDirective:
        return _foreach(element)
    # Anything else runs in airspeed.
    return lambda stream, namespace: element.evaluate(stream, namespace, _LOADER)


def _reference(element: Any) -> Statement:
    """patches.airspeed._write_reference."""
    expression = _variable(element.expression) if element.expression is not None else None
    alternate = _value(element.alternate.expression) if element.alternate is not None else None
    blank = "" if element.silent and expression is not None else element.my_text()

    def body(stream: Stream, namespace: Any) -> None:
        value = expression(namespace, namespace) if expression is not None else None
        if value is None and alternate is not None:
            value = alternate(namespace)
        if value is None:
            value = blank
        stream.write(value if type(value) is str else java_str(value))

    return body


def _if(element: Any) -> Statement:
    condition = _condition(element.condition)
    block = _block(element.block)
    elseifs = [(_condition(e.condition), _block(e.block)) for e in element.elseifs]
    has_else = type(element.else_block) is airspeed.ElseBlock
    otherwise = _block(element.else_block.block) if has_else else None

    def body(stream: Stream, namespace: Any) -> None:
        if condition(namespace):
            block(stream, namespace)
            return
        for elseif, elseif_block in elseifs:
            if elseif(namespace):
                elseif_block(stream, namespace)
                return
        if otherwise is not None:
            otherwise(stream, namespace)

    return body


def _condition(element: Any) -> Expression:
    """patches.airspeed._parse_condition: Velocity's truthiness of the expression."""
    expression = _expression(element.expression)
    return lambda namespace: velocity.truthy(expression(namespace))


def _set(element: Any) -> Statement:
    """patches.airspeed._evaluate_set."""
    value_of = _expression(element.value)
    terms = element.terms
    last = terms[-1]

    def body(stream: Stream, namespace: Any) -> None:
        value = value_of(namespace)
        if value is None:
            return
        if len(terms) == 1:
            namespace.set_inherited(last, value)
            return
        target = namespace
        for term in terms[:-1]:
            target = target[term]
        target[last] = value

    return body


def _foreach(element: Any) -> Statement:
    """patches.airspeed._foreach."""
    items_of = _value(element.value.value)  # element.value is patches.airspeed._ForeachItems
    block = _block(element.block)
    name = element.loop_var_name

    def body(stream: Stream, namespace: Any) -> None:
        iterable = velocity.foreach_items(items_of(namespace))
        for scope in velocity.foreach_scopes(iterable, name, lambda: _LocalNamespace(namespace)):
            block(stream, scope)

    return body


# ---------------------------------------------------------------------------- expressions


def _value(element: Any) -> Expression:
    """An airspeed Value (patched: it answers with its inner element)."""
    return _expression(element.expression)


def _expression(element: Any) -> Expression:
    kind = type(element)
    if kind is airspeed.FormalReference and element.expression is not None:
        variable = _variable(element.expression)  # as a value, ${a|b} ignores b (airspeed)
        return lambda namespace: variable(namespace, namespace)
    if kind in _CONSTANTS:
        constant = element.value if kind is not airspeed.NullLiteral else None
        return lambda namespace: constant
    if kind is airspeed.InterpolatedStringLiteral:
        return _interpolated(element)
    if kind is airspeed.Value:
        return _value(element)
    if kind is airspeed.ParenthesizedExpression:
        return _expression(element.calculate.__self__)  # its calculate is the Expression's
    if kind is airspeed.Expression:
        return _operations(element)
    if kind is airspeed.UnaryOperatorValue:
        operand, operation = _value(element.value), element.op
        return lambda namespace: operation(operand(namespace))
    # Ranges, list and map literals...: airspeed (patched) calculates them.
    return lambda namespace: element.calculate(namespace, _LOADER)


_CONSTANTS = (
    airspeed.IntegerLiteral,
    airspeed.FloatingPointLiteral,
    airspeed.BooleanLiteral,
    airspeed.StringLiteral,
    airspeed.NullLiteral,
)


def _interpolated(element: Any) -> Expression:
    """patches.airspeed._calculate_double_quoted."""
    if element.block is None:
        text = element.value
        return lambda namespace: text
    body = _template_body(element.block)

    def interpolate(namespace: Any) -> str:
        output = _Output()
        body(output, namespace)
        return output.getvalue()

    return interpolate


class _Operand:
    """A value of an operation not calculated yet (airspeed's stack holds Value elements)."""

    __slots__ = ("calculate",)

    def __init__(self, calculate: Expression) -> None:
        self.calculate = calculate


def _operations(element: Any) -> Expression:
    """airspeed's Expression.calculate: its precedence stack, in its order of evaluation."""
    terms = element.expression
    if len(terms) == 1:
        return _value(terms[0])
    first = _Operand(_value(terms[0]))
    rest: list[Any] = [
        term if i % 2 == 0 else _Operand(_value(term)) for i, term in enumerate(terms[1:])
    ]

    def calculate(namespace: Any) -> Any:
        operators: list[Any] = []
        values: list[Any] = [first]
        pending = rest

        def apply() -> None:
            right = values.pop()
            if type(right) is _Operand:
                right = right.calculate(namespace)
            left = values.pop()
            if type(left) is _Operand:
                left = left.calculate(namespace)
            values.append(operators.pop().apply_to(left, right))

        while pending:
            if not operators or pending[0].greater_precedence_than(operators[-1]):
                operators.append(pending[0])
                values.append(pending[1])
                pending = pending[2:]
            else:
                apply()
        while operators:
            apply()
        result = values[0]
        if type(result) is _Operand:
            result = result.calculate(namespace)
        return result

    return calculate


def _variable(element: Any) -> Part:
    """airspeed's VariableExpression: a name or call, then what follows it."""
    part = _name_or_call(element.part)
    if element.subexpression is None:
        return part
    rest = _subexpression(element.subexpression)
    return lambda current, namespace: rest(part(current, namespace), namespace)


def _subexpression(element: Any) -> Part:
    """patches.airspeed._sub_expression: `.name...`, or `[index]...`."""
    if type(element.expression) is not airspeed.ArrayIndex:
        return _variable(element.expression)
    # As airspeed does, the index is calculated with the current value as its namespace.
    index_of = _expression(element.expression.index)
    rest = _subexpression(element.subexpression) if element.subexpression else None

    def indexed(current: Any, namespace: Any) -> Any:
        result = current[index_of(current)]
        return rest(result, namespace) if rest is not None else result

    return indexed


def _name_or_call(element: Any) -> Part:
    """patches.airspeed._name_or_call."""
    name = element.name
    arguments = _parameters(element.parameters) if element.parameters is not None else None
    index_of = _expression(element.index.index) if element.index is not None else None
    call = _method_call(name)

    def resolve(current: Any, namespace: Any) -> Any:
        if type(current) is _LocalNamespace:  # a template variable
            scope = current  # patches.airspeed._namespace_lookup, inline
            while type(scope) is _LocalNamespace:
                if name in scope:
                    result = _get(scope, name)
                    break
                scope = scope.parent
            else:
                try:
                    result = scope[name]
                except KeyError:
                    return None
            if type(result) is airspeed.DefineDefinition:  # a #define block: airspeed's
                return element.calculate(current, _LOADER, namespace)
        elif current is None:
            return None
        elif arguments is not None:
            return call(current, arguments(namespace))
        else:
            result = references.get_property(current, name)
        if index_of is not None:
            result = references.index(result, index_of(namespace))
        return result

    return resolve


def _parameters(element: Any) -> Callable[[Any], list[Any]]:
    """airspeed's ParameterList (patched: it answers with its ValueList)."""
    if type(element.values) is not airspeed.ValueList:
        return lambda namespace: []
    values = [_value(value) for value in element.values.values]
    return lambda namespace: [value(namespace) for value in values]


def _method_call(name: str) -> Callable[[Any, list[Any]], Any]:
    """references.call_method for one method name, its look-up kept per class of value."""
    growing = name in references.GROWING
    found: dict[type, Callable[..., Any] | None] = {}

    def call(value: Any, arguments: list[Any]) -> Any:
        kind = type(value)
        try:
            method = found[kind]
        except KeyError:
            methods = references.methods_for(value)
            method = methods.get(name) if methods else None
            if len(found) < _MAX_CLASSES:  # bounded: the classes of template values are few
                found[kind] = method
        if method is None:
            return None
        if not growing:
            return method(value, *arguments)
        text = (
            value if isinstance(value, str) else next((a for a in arguments if type(a) is str), "")
        )
        limits.ensure_growth(len(text))
        return limits.check_value(method(value, *arguments))

    return call


_MAX_CLASSES = 32
