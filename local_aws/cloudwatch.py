"""CloudWatch metrics where moto's answers differ from AWS's (local_aws publishes API Gateway's).

- A metric is identified by its namespace, name and *exact* set of dimensions: GetMetricStatistics
  for `ApiId=a` reads the series published with just that dimension, not the `ApiId, Stage`
  series too (moto adds up every series that has the requested dimensions among others).
- moto's `Dimension.__lt__` compares a value with a name, so sorting dimensions (as its
  GetMetricData does to match sets) depends on the order they were listed in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class _ExactDimensions:
    """A CloudWatch backend that shows only the data points with exactly these dimensions."""

    def __init__(self, backend: Any, dimensions: list[dict[str, str]]) -> None:
        self._backend = backend
        self._wanted = sorted((d["Name"], d.get("Value") or "") for d in dimensions)

    def get_all_metrics(self) -> list[Any]:
        return [
            datum
            for datum in self._backend.get_all_metrics()
            if sorted((d.name, d.value or "") for d in datum.dimensions) == self._wanted
        ]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


def statistics_of_exact_dimensions(get_metric_statistics: Callable[..., Any]) -> Callable[..., Any]:
    """moto's GetMetricStatistics, reading only the series of exactly the given dimensions."""

    def get(backend: Any, *args: Any, **kwargs: Any) -> Any:
        dimensions = kwargs.get("dimensions", args[6] if len(args) > 6 else None) or []
        return get_metric_statistics(_ExactDimensions(backend, dimensions), *args, **kwargs)

    return get


def dimensions_in_name_order(_moto_s: Any) -> Callable[[Any, Any], bool]:
    """`Dimension <`: by name, then value (moto's compares a value with the other's name)."""

    def less_than(dimension: Any, other: Any) -> bool:
        return (dimension.name or "", dimension.value or "") < (other.name or "", other.value or "")

    return less_than
