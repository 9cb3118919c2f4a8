"""Bounds on one mapping-template render: iterations, time and characters produced.

A mapping template runs on one of the server's few integration threads, inside the
interpreter loop of ``airspeed``; Python cannot stop a thread from outside, so a template
that loops for ever (``#foreach`` over a huge range, nested loops, recursive macros) or
doubles a string until memory runs out would hold that thread, and with it every other API
that needs one. The checks below run from inside airspeed's loop (see ``install``), so a
hostile template fails within ``RENDER_SECONDS`` and frees its thread.

All limits are here, in one place. Each patch names the airspeed version it was written
for (0.7.1, pinned in requirements.txt); ``install`` refuses any other version.
"""

from __future__ import annotations

import contextlib
import operator
import threading
import time
from collections.abc import Iterator, Sized
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import airspeed

# AWS quota (API Gateway, mapping templates): "Iterations in a #foreach ... #end loop: 1,000".
MAX_FOREACH_ITERATIONS = 1_000
# Not an AWS limit: AWS bounds a render only by the integration timeout (at most 29 s). A
# real template renders in milliseconds; a second keeps a hostile one from holding a thread.
RENDER_SECONDS = 1.0
# Not an AWS limit: characters one render may produce in all (output, interpolated strings,
# method results). A message is at most 128 KB, so real templates stay far below this.
MAX_RENDER_CHARACTERS = 8 * 1024 * 1024
# A range literal longer than this is refused; it could never be iterated (see above) and
# writing it out would build a huge string before any other check could run.
MAX_RANGE_LENGTH = 100_000
# How often a long render lets other threads run. Python hands the GIL over only every 5 ms
# (sys.getswitchinterval), and the event loop needs it after every wait for the network: a
# render that gives it up more often keeps its cost to other connections below a millisecond.
YIELD_SECONDS = 0.0005
# AWS quota: a mapping template is at most 300 KB; the same for text given to #evaluate.
MAX_TEMPLATE_CHARACTERS = 300 * 1024
# Not an AWS limit: `#set($n = $n * $n)` in a loop would build numbers of millions of digits.
MAX_NUMBER_BITS = 4096

# The largest growth of a string method's result over its input (urlEncode: one astral
# character, four UTF-8 bytes, becomes twelve characters); checked before the call.
_GROWTH = 12

AIRSPEED_VERSION = "0.7.1"


class LimitExceeded(Exception):
    """A render went past one of the limits above."""


@dataclass
class _Budget:
    deadline: float
    characters: int
    next_yield: float


_state = threading.local()  # each render runs on one thread, start to end


@contextlib.contextmanager
def budget(
    seconds: float = RENDER_SECONDS, characters: int = MAX_RENDER_CHARACTERS
) -> Iterator[None]:
    """Apply the limits to the render(s) inside this block, on this thread."""
    previous = getattr(_state, "budget", None)
    now = time.monotonic()
    _state.budget = _Budget(now + seconds, characters, now + YIELD_SECONDS)
    try:
        yield
    finally:
        _state.budget = previous


def _current() -> _Budget | None:
    return getattr(_state, "budget", None)


def check_time() -> None:
    """Raise once the render has used up its time; let other threads run now and then."""
    current = _current()
    if current is None:
        return
    now = time.monotonic()
    if now > current.deadline:
        raise LimitExceeded(f"mapping template ran longer than {RENDER_SECONDS:g} s")
    if now > current.next_yield:
        time.sleep(0)  # releases the GIL: a waiting thread takes it at once
        current.next_yield = time.monotonic() + YIELD_SECONDS


def spend(characters: int) -> None:
    """Count characters just produced; raise when the render has produced too many."""
    current = _current()
    if current is None:
        return
    current.characters -= characters
    if current.characters < 0:
        raise LimitExceeded(f"mapping template produced over {MAX_RENDER_CHARACTERS} characters")


def ensure(characters: int) -> None:
    """Raise if producing ``characters`` more would go past the limit (checked before)."""
    current = _current()
    if current is not None and characters > current.characters:
        raise LimitExceeded(f"mapping template produced over {MAX_RENDER_CHARACTERS} characters")


def ensure_growth(inputs: int) -> None:
    """Before a method whose result may be up to ``_GROWTH`` times its input."""
    ensure(inputs * _GROWTH)


def check_iterations(count: int) -> None:
    if count > MAX_FOREACH_ITERATIONS:
        raise LimitExceeded(
            f"#foreach went past {MAX_FOREACH_ITERATIONS} iterations (API Gateway's quota)"
        )


def check_value(value: Any) -> Any:
    """Count a produced string, refuse an oversized number; return the value."""
    if type(value) is str:
        spend(len(value))
    elif type(value) is int and value.bit_length() > MAX_NUMBER_BITS:
        raise LimitExceeded(f"number larger than {MAX_NUMBER_BITS} bits")
    return value


# --------------------------------------------------------------------------------------
# Patches to airspeed 0.7.1
# --------------------------------------------------------------------------------------


def _foreach(self: Any, stream: Any, namespace: Any, loader: Any) -> None:
    """Replaces ``ForeachDirective.evaluate_raw`` (airspeed 0.7.1), same behaviour plus the
    iteration limit. Each nested loop counts its own iterations, as Velocity's maxloops does;
    together they share the time budget."""
    iterable = self.value.calculate(namespace, loader)
    if iterable is None:
        return
    if hasattr(iterable, "keys"):
        iterable = iterable.keys()
    try:
        iter(iterable)
    except TypeError:
        raise ValueError(
            f"value for ${self.loop_var_name} is not iterable in #foreach: {iterable!r}"
        ) from None
    length = len(iterable) if isinstance(iterable, Sized) else -1
    for counter, item in enumerate(iterable, start=1):
        check_iterations(counter)
        local = airspeed.LocalNamespace(namespace)
        local["velocityCount"] = counter
        local["velocityHasNext"] = counter < length
        local["foreach"] = {
            "count": counter,
            "index": counter - 1,
            "hasNext": counter < length,
            "first": counter == 1,
            "last": counter == length,
        }
        local[self.loop_var_name] = item
        self.block.evaluate(stream, local, loader)


def _block(self: Any, stream: Any, namespace: Any, loader: Any) -> None:
    """Replaces ``Block.evaluate_raw`` (airspeed 0.7.1): every loop body, macro and #define
    runs through here, so this is where a render notices it is out of time."""
    check_time()
    for child in self.children:
        child.evaluate(stream, namespace, loader)


def _write(self: Any, text: str) -> None:
    """Replaces ``StoppableStream.write`` (airspeed 0.7.1): counts what is written, in the
    output and in every interpolated string or #define."""
    if not self.stop:
        spend(len(text))
        airspeed.StringIO.write(self, text)


def _range(self: Any, namespace: Any, loader: Any) -> range:
    """Replaces ``Range.calculate`` (airspeed 0.7.1), refusing absurdly long ranges."""
    first = self.value1.calculate(namespace, loader)
    last = self.value2.calculate(namespace, loader)
    values = range(first, last - 1, -1) if last < first else range(first, last + 1)
    if len(values) > MAX_RANGE_LENGTH:
        raise LimitExceeded(f"range [{first}..{last}] is longer than {MAX_RANGE_LENGTH}")
    return values


_evaluate_directive = airspeed.EvaluateDirective.evaluate_raw


def _evaluate(self: Any, stream: Any, namespace: Any, loader: Any) -> None:
    """Wraps ``EvaluateDirective.evaluate_raw`` (airspeed 0.7.1): parsing is not
    interruptible, so the text is bounded like a mapping template."""
    text = self.value.calculate(namespace, loader)
    if isinstance(text, str) and len(text) > MAX_TEMPLATE_CHARACTERS:
        raise LimitExceeded(f"#evaluate text is longer than {MAX_TEMPLATE_CHARACTERS}")
    _evaluate_directive(self, stream, namespace, loader)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _add(left: Any, right: Any) -> Any:
    if isinstance(left, str) and isinstance(right, str):
        ensure(len(left) + len(right))
    return check_value(operator.add(left, right))


def _multiply(left: Any, right: Any) -> Any:
    # Velocity multiplies numbers only (null otherwise); Python would repeat a string or list.
    if not (_is_number(left) and _is_number(right)):
        return None
    bits = left.bit_length() + right.bit_length() if type(left) is type(right) is int else 0
    if bits > MAX_NUMBER_BITS + 1:
        raise LimitExceeded(f"number larger than {MAX_NUMBER_BITS} bits")
    return left * right


def _subtract(left: Any, right: Any) -> Any:
    return check_value(operator.sub(left, right))


def install() -> None:
    """Apply the limits to airspeed (safe to repeat)."""
    installed = version("airspeed")
    if installed != AIRSPEED_VERSION:  # the patches replace 0.7.1's internals
        raise RuntimeError(f"local_aws.vtl_limits is written for airspeed {AIRSPEED_VERSION}")
    airspeed.ForeachDirective.evaluate_raw = _foreach
    airspeed.Block.evaluate_raw = _block
    airspeed.StoppableStream.write = _write
    airspeed.Range.calculate = _range
    airspeed.EvaluateDirective.evaluate_raw = _evaluate
    airspeed.BinaryOperator.OPERATORS.update({"+": _add, "-": _subtract, "*": _multiply})
