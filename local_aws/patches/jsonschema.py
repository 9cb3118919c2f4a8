"""jsonschema without its optional IRI grammar, which costs about 3 s at import.

moto's API Gateway models import jsonschema, which imports `rfc3987_syntax` if it is installed
(JupyterLab installs it), and that module compiles a grammar at import. local_aws never
validates IRIs in JSON schemas, so the module is kept out of the process: a `None` entry in
`sys.modules` makes jsonschema's import of it fail, as if it were not installed.

This only works before jsonschema is imported: `local_aws.patches` installs it before it
imports the other patch modules (moto's imports jsonschema).
"""

from __future__ import annotations

import sys

# jsonschema comes with moto and is not pinned in requirements.txt. What this relies on, that
# jsonschema treats a failed import of the optional module as "not installed", is the
# documented behaviour of an optional format checker, not an attribute to check.
PINNED: dict[str, str] = {}
RELIES_ON: tuple[tuple[object, str], ...] = ()

SKIPPED_MODULE = "rfc3987_syntax"


def install() -> None:
    """Keep `rfc3987_syntax` out of this process (only effective before jsonschema loads)."""
    sys.modules.setdefault(SKIPPED_MODULE, None)  # type: ignore[arg-type]
