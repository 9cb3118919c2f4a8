"""API Gateway mapping templates: Apache Velocity (VTL 1.7) rendered with ``airspeed``.

airspeed parses and evaluates the templates; this package adds what API Gateway templates
rely on from Java-based Velocity:

- ``render``: compile and render a template (``compile_template``, ``TemplateError``);
- ``compiled``: the parsed template turned into closures once, which is what renders;
- ``variables``: ``$input`` with its ``jsonpath`` subset, and ``$util``;
- ``java``, ``java_regex``, ``java_methods``: Java ``toString()``, UTF-16 strings, Java
  regexes and the ``String``/``Map``/``List`` methods a template may call;
- ``references``: how ``$a.b``, ``$a.b()`` and ``$a[b]`` resolve to those methods;
- ``velocity``: Velocity 1.7 truthiness, ``==`` and arithmetic;
- ``limits``: the bounds on one render (iterations, time, characters).

None of these modules changes airspeed: ``local_aws.patches.airspeed`` puts these
semantics in place of airspeed's own, once, when ``local_aws`` is imported.
"""

from __future__ import annotations

from local_aws.vtl.render import TemplateError, compile_template, render
from local_aws.vtl.variables import escape_javascript

__all__ = ["TemplateError", "compile_template", "escape_javascript", "render"]
