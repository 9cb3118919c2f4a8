"""What a benchmark hands back: rows of the summary table, delivery checks and notes."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from benchmarks.processes import CpuUse


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (p99 of 2000 samples is the 1980th smallest)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Series:
    """One figure measured in several trials; the summary uses the median."""

    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(value)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def spread(self) -> tuple[float, float]:
        return (min(self.values), max(self.values)) if self.values else (float("nan"),) * 2

    @property
    def cv(self) -> float | None:
        """Coefficient of variation (sample stdev / mean); None with fewer than 2 trials."""
        if len(self.values) < 2 or statistics.fmean(self.values) == 0:
            return None
        return statistics.stdev(self.values) / statistics.fmean(self.values)


@dataclass(frozen=True)
class Target:
    """A goal from the issue: bounds on the local/reference ratio and/or the local value."""

    text: str
    ratio_min: float | None = None
    ratio_max: float | None = None
    value_min: float | None = None
    value_max: float | None = None

    def met(self, value: float, ratio: float | None, also: bool = True) -> bool:
        checks = [also]
        if self.ratio_min is not None or self.ratio_max is not None:
            if ratio is None:
                return False
            checks.append(self.ratio_min is None or ratio >= self.ratio_min)
            checks.append(self.ratio_max is None or ratio <= self.ratio_max)
        checks.append(self.value_min is None or value >= self.value_min)
        checks.append(self.value_max is None or value < self.value_max)
        return all(checks)


@dataclass
class Row:
    """One line of the summary table.

    `unit` decides the formatting; `requires` names checks (by name) that must pass for the
    target to count as met, e.g. "all delivered" for the broadcast wall time.
    """

    metric: str
    unit: str
    local: Series
    reference: Series | None = None
    reference_name: str = ""
    target: Target | None = None
    requires: tuple[str, ...] = ()

    @property
    def ref(self) -> Series:
        """The reference series (for rows that have one)."""
        assert self.reference is not None, f"{self.metric} has no reference"
        return self.reference

    @property
    def ratio(self) -> float | None:
        if self.reference is None or not self.reference.values or not self.reference.median:
            return None
        return self.local.median / self.reference.median


@dataclass
class Check:
    """A correctness check made while measuring (delivery, order, items deleted)."""

    name: str
    ok: bool
    detail: str
    lost: bool = True  # a failure here means lost messages or events: the run exits non-zero


@dataclass
class Section:
    """Everything one benchmark reports."""

    title: str
    rows: list[Row] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(
        self,
        metric: str,
        unit: str,
        reference: str = "",
        target: Target | None = None,
        requires: tuple[str, ...] = (),
        local: Series | None = None,
    ) -> Row:
        """Add a row and return it, to be filled trial by trial.

        `reference` names the reference server (the row then gets a reference series);
        `local` lets two rows share the local figures, compared with different references.
        """
        row = Row(
            metric,
            unit,
            local or Series(),
            Series() if reference else None,
            reference,
            target,
            requires,
        )
        self.rows.append(row)
        return row

    def check(self, name: str, ok: bool, detail: str, lost: bool = True) -> None:
        self.checks.append(Check(name, ok, detail, lost))

    def checks_passed(self, names: Sequence[str]) -> bool:
        return all(c.ok for c in self.checks if c.name in names)


class CpuRows:
    """Rows for the CPU time a server spends per operation: where the time goes.

    Reference servers are single-threaded, so only their total is shown; for local_aws the
    event-loop thread is shown separately (the rest is its integration and logging threads).
    """

    def __init__(self, section: Section, what: str, reference: str, workers: bool = False):
        self.total = section.row(f"{what}: server CPU each, all threads", "µs", reference)
        self.loop = section.row(f"{what}: server CPU each, event-loop thread", "µs")
        self.workers = section.row(f"{what}: Lambda worker CPU each", "µs") if workers else None

    def add_local(self, use: CpuUse, count: int) -> None:
        self.total.local.add(use.process / count * 1e6)
        self.loop.local.add(use.loop / count * 1e6)
        if self.workers is not None:
            self.workers.local.add(use.children / count * 1e6)

    def add_reference(self, use: CpuUse, count: int) -> None:
        self.total.ref.add(use.process / count * 1e6)
