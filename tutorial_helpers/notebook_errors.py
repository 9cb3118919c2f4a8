"""Errors in a notebook as one readable line that says what to do, not 45 lines of traceback.

IPython shows an exception whose class has `_render_traceback_` with the lines that method
returns (`WorkshopError` has one). For errors raised by botocore itself in a learner's own
cell, `install` registers a handler with IPython (`set_custom_exc`):

- `EndpointConnectionError` on a loopback endpoint: local_aws is not running; re-run the
  notebook's first cells (`start_workshop()` starts it);
- `ClientError` (an AWS service said no, e.g. `GoneException`): the error code, AWS's message,
  the operation and the line of the cell, plus a hint for the codes the lessons meet;
- `NameError`: the full traceback as usual, plus one line on what to run after a restart.

Every other exception, a bug in the learner's code, keeps IPython's full traceback.
`%tb` still prints the full traceback of the last error.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError

from tutorial_helpers.errors import START_LOCAL_AWS, is_local_endpoint

# What the lessons' AWS errors mean, and what to do about them.
CLIENT_ERROR_HINTS = {
    "GoneException": "this connection is closed, or never existed: stop using its id "
    "(a broadcast deletes its item)",
    "ResourceNotFoundException": "the table, function or API does not exist (yet): "
    "run `ensure_stack(target)`, or check the name",
    "ValidationError": "CloudFormation rejected the request: its message names the problem",
    "ValidationException": "a parameter is wrong: its message names it",
    "ForbiddenException": "the signature or the permission is wrong for @connections",
}
RESTART_HINT = (
    "After a kernel restart, run this notebook's cells from the top again "
    "(Run > Run All Above Selected Cell): its variables were lost."
)


def one_line(error: BaseException, tb: TracebackType | None = None) -> str | None:
    """The readable line for `error` (its name first), or None to keep the full traceback."""
    if isinstance(error, EndpointConnectionError):
        endpoint = error.kwargs.get("endpoint_url")
        if is_local_endpoint(endpoint):
            return (
                f"EndpointConnectionError: local_aws is not running (nothing answers at "
                f"{endpoint}). {START_LOCAL_AWS}, then run this cell again."
            )
        return (
            f"EndpointConnectionError: cannot reach AWS at {endpoint}. Check the region name "
            "and your internet connection, then run this cell again."
        )
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = details.get("Code") or type(error).__name__
        message = details.get("Message") or ""
        line = f"{code}: {message}".rstrip(": ") + f" ({error.operation_name}{_cell_line(tb)})"
        hint = CLIENT_ERROR_HINTS.get(code)
        return f"{line}. {hint[0].upper()}{hint[1:]}." if hint else line
    return None


def _cell_line(tb: TracebackType | None) -> str:
    """`, line N of this cell` for the innermost frame in the notebook cell, else ''."""
    line = ""
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if "ipykernel_" in filename or filename.startswith("<ipython-input"):
            line = f", line {tb.tb_lineno} of the cell"
        tb = tb.tb_next
    return line


def _handler(
    shell: Any,
    etype: type[BaseException],
    value: BaseException,
    tb: TracebackType | None,
    tb_offset: int | None = None,
) -> list[str]:
    """IPython's custom exception handler: show one line, or the usual traceback plus a hint."""
    readable = one_line(value, tb)
    if readable is None:
        stb: list[str] = shell.InteractiveTB.structured_traceback(
            etype,
            value,
            tb,
            tb_offset=1 if tb_offset is None else tb_offset,  # not run_code
        )
        if isinstance(value, NameError):
            stb = [*stb, RESTART_HINT]
    else:
        stb = [readable]
    sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb  # for %tb
    shell._showtraceback(etype, value, stb)
    return stb


def install() -> bool:
    """Register the handler with the running IPython, if there is one; True if registered.

    Called when `tutorial_helpers` is imported, so every notebook gets it from its imports.
    Outside IPython (scripts, tests) it does nothing.
    """
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return False
    shell.set_custom_exc((EndpointConnectionError, ClientError, NameError), _handler)
    return True
