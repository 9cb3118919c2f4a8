"""Changes to moto (being moved here from the modules that used to apply them)."""

from __future__ import annotations

PINNED: dict[str, str] = {}


def install() -> None:
    """Apply this library's patches."""
