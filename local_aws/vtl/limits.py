"""Bounds on one mapping-template render: iterations, time and characters produced.

A mapping template runs on one of the server's few integration threads, inside the
interpreter loop of ``airspeed``; Python cannot stop a thread from outside, so a template
that loops for ever (``#foreach`` over a huge range, nested loops, recursive macros) or
doubles a string until memory runs out would hold that thread, and with it every other API
that needs one. The checks below are called from inside airspeed's loop (the patches in
``local_aws.patches.airspeed``) and from the Java methods, so a hostile template fails
within ``RENDER_SECONDS`` and frees its thread.

All limits are here, in one place.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

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


class LimitExceeded(Exception):
    """A render went past one of the limits above."""


@dataclass
class Budget:
    """What is left to one render."""

    deadline: float
    characters: int
    next_yield: float

    def spend(self, characters: int) -> None:
        """Count characters just produced; raise when the render has produced too many."""
        self.characters -= characters
        if self.characters < 0:
            raise LimitExceeded(
                f"mapping template produced over {MAX_RENDER_CHARACTERS} characters"
            )


_state = threading.local()  # each render runs on one thread, start to end


@contextlib.contextmanager
def budget(
    seconds: float = RENDER_SECONDS, characters: int = MAX_RENDER_CHARACTERS
) -> Iterator[None]:
    """Apply the limits to the render(s) inside this block, on this thread."""
    previous = getattr(_state, "budget", None)
    now = time.monotonic()
    _state.budget = Budget(now + seconds, characters, now + YIELD_SECONDS)
    try:
        yield
    finally:
        _state.budget = previous


def current() -> Budget | None:
    """The budget of the render running on this thread, if any."""
    return getattr(_state, "budget", None)


_current = current


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
    budget = _current()
    if budget is not None:
        budget.spend(characters)


def ensure(characters: int) -> None:
    """Raise if producing ``characters`` more would go past the limit (checked before)."""
    current = _current()
    if current is not None and characters > current.characters:
        raise LimitExceeded(f"mapping template produced over {MAX_RENDER_CHARACTERS} characters")


def ensure_growth(inputs: int) -> None:
    """Before a method whose result may be up to ``_GROWTH`` times its input."""
    ensure(inputs * _GROWTH)


def check_iterations(count: int) -> None:
    """Raise when a ``#foreach`` reaches iteration ``count`` past API Gateway's quota."""
    if count > MAX_FOREACH_ITERATIONS:
        raise LimitExceeded(
            f"#foreach went past {MAX_FOREACH_ITERATIONS} iterations (API Gateway's quota)"
        )


def check_range(first: int, last: int, length: int) -> None:
    """Raise when a range literal ``[first..last]`` holds more than ``MAX_RANGE_LENGTH``."""
    if length > MAX_RANGE_LENGTH:
        raise LimitExceeded(f"range [{first}..{last}] is longer than {MAX_RANGE_LENGTH}")


def check_evaluate_text(text: Any) -> None:
    """Raise when text given to ``#evaluate`` is longer than a mapping template may be."""
    if isinstance(text, str) and len(text) > MAX_TEMPLATE_CHARACTERS:
        raise LimitExceeded(f"#evaluate text is longer than {MAX_TEMPLATE_CHARACTERS}")


def check_number_bits(bits: int) -> None:
    """Raise when a number of ``bits`` bits is larger than a render may build."""
    if bits > MAX_NUMBER_BITS:
        raise LimitExceeded(f"number larger than {MAX_NUMBER_BITS} bits")


def check_value(value: Any) -> Any:
    """Count a produced string, refuse an oversized number; return the value."""
    if type(value) is str:
        spend(len(value))
    elif type(value) is int:
        check_number_bits(value.bit_length())
    return value
