"""Every change local_aws makes to a third-party library, in one place, applied by `install()`.

Each module here changes one library. It names the version it was written for in `PINNED`
(distribution name → version, the pin in requirements.txt) and applies its changes in
`install()`. `tests/unit/test_patches.py` fails when an installed version differs from its
pin or when an attribute a patch relies on is gone, so a dependency upgrade cannot silently
undo a patch.

`local_aws/__init__.py` calls `install()` once, before any other local_aws module imports
the libraries: every process that uses local_aws (the server, tests) runs patched. The
one exception is `local_aws/lambda_worker.py`, which runs a function's code in a process of
its own and imports nothing from local_aws: it redirects AWS's host names (its own name
resolution, docs/aws-host-names.md) and sets its log format itself.
"""

from __future__ import annotations

from importlib import metadata
from types import ModuleType

from local_aws.patches import jsonschema, moto_imports

# Before the other patch modules are imported: `patches.moto` imports moto's modules, which
# import jsonschema, and jsonschema's patch only works if it is in place before that; moto's
# CloudFormation parsing must first be imported with its services' models deferred.
jsonschema.install()
moto_imports.install()

from local_aws.patches import airspeed, moto, uvicorn, websockets  # noqa: E402

MODULES: tuple[ModuleType, ...] = (jsonschema, moto_imports, moto, airspeed, uvicorn, websockets)
_installed = False


def install() -> None:
    """Apply every patch (once; later calls do nothing)."""
    global _installed
    if _installed:
        return
    for module in MODULES:
        module.install()
    _installed = True


def version_mismatches() -> list[str]:
    """The pinned distributions whose installed version differs from the pin."""
    found = []
    for module in MODULES:
        for distribution, pinned in module.PINNED.items():
            installed = metadata.version(distribution)
            if installed != pinned:
                found.append(f"{distribution} {installed} (patches written for {pinned})")
    return found
