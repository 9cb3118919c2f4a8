"""Compile and render a mapping template the way API Gateway does."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any

import airspeed

from local_aws.vtl import compiled, limits
from local_aws.vtl.variables import UTIL, Input

logger = logging.getLogger(__name__)


class TemplateError(ValueError):
    """A mapping template could not be parsed or failed while rendering."""


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


@functools.lru_cache(maxsize=256)
def _compiled(text: str) -> Callable[[dict[str, Any]], str]:
    """The template compiled into closures (`compiled`), once per template text; airspeed's
    interpreter for a tree the compiler cannot take (e.g. nested too deep for it)."""
    parsed = compile_template(text)
    try:
        return compiled.compile_body(parsed.root_element)
    except Exception:
        logger.warning("mapping template not compiled, interpreted instead", exc_info=True)
        return lambda namespace: str(parsed.merge(namespace))


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
    time_limit: float = limits.RENDER_SECONDS,
) -> str:
    """Render a mapping template as API Gateway does.

    The template sees ``$context`` (``context``, nested mappings allowed), ``$input``
    (``body``; ``params`` with the keys ``path``, ``querystring`` and ``header``), ``$util``
    and ``$stageVariables``. Raises ``TemplateError`` if the template cannot be parsed or
    fails while rendering, including going past a limit in ``limits`` (1,000 ``#foreach``
    iterations, ``time_limit`` seconds, characters produced).
    """
    run = _compiled(template)
    namespace = {
        "context": _plain(context),
        "input": Input(body, params),
        "util": UTIL,
        "stageVariables": dict(stage_variables or {}),
    }
    try:
        with limits.budget(seconds=min(time_limit, limits.RENDER_SECONDS)):
            return run(namespace)
    except airspeed.TemplateExecutionError as exc:
        raise TemplateError(_describe_failure(exc)) from exc.__cause__
    except Exception as exc:  # e.g. RecursionError from a self-referencing #define
        raise TemplateError(f"mapping template failed: {exc!r}") from exc
