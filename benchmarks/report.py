"""What a benchmark hands back (rows, checks, notes) and the Markdown report made of them."""

from __future__ import annotations

import math
import os
import platform
import statistics
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("websockets", "websocket-client", "boto3", "moto", "uvicorn")
NAN = float("nan")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else NAN


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (p99 of 2000 samples is the 1980th smallest)."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1] if ordered else NAN


@dataclass
class Row:
    """One line of the summary table: the local_aws trials and, if named, a reference's.

    `met_if(local median, ratio)` is the goal from the issue (the ratio is NaN without a
    reference, so any comparison with it fails); `requires` names a check that must pass too.
    """

    metric: str
    unit: str
    reference_name: str = ""
    target: str = ""
    met_if: Callable[[float, float], bool] | None = None
    requires: str = ""
    local: list[float] = field(default_factory=list)
    ref: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        reference = median(self.ref)
        return median(self.local) / reference if self.ref and reference else NAN


@dataclass
class Check:
    """A correctness check made while measuring; `lost` failures make the run exit non-zero."""

    name: str
    ok: bool
    detail: str
    lost: bool = True


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
        reference_name: str = "",
        target: str = "",
        met_if: Callable[[float, float], bool] | None = None,
        requires: str = "",
        local: list[float] | None = None,
    ) -> Row:
        """Add a row, to be filled trial by trial; `local` lets two rows share local figures."""
        row = Row(metric, unit, reference_name, target, met_if, requires)
        if local is not None:
            row.local = local
        self.rows.append(row)
        return row

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))

    def met(self, row: Row) -> str:
        if row.met_if is None:
            return ""
        if not row.local:
            return "n/a"
        passed = all(check.ok for check in self.checks if check.name == row.requires)
        return "yes" if passed and row.met_if(median(row.local), row.ratio) else "**NO**"


# ------------------------------------------------------------------------------ formatting


def fmt(value: float, unit: str) -> str:
    if math.isnan(value):
        return "–"
    if unit == "ms":
        return f"{value:.3f} ms" if value < 1 else f"{value:.2f} ms"
    formats = {"/s": "{:,.0f}/s", "s": "{:.3f} s", "µs": "{:,.0f} µs", "MB": "{:.1f} MB"}
    return formats.get(unit, "{:.3g} " + unit).format(value)


def _noise(values: list[float], unit: str) -> list[str]:
    """Trials in order (without unit or thousands commas, which read badly in a list), min –
    max, and the coefficient of variation (sample stdev / mean; needs 2 trials)."""
    if not values:
        return ["", "", ""]
    numbers = (fmt(value, unit).removesuffix(unit).strip().replace(",", "") for value in values)
    mean = statistics.fmean(values)
    cv = statistics.stdev(values) / mean if len(values) > 1 and mean else None
    return [
        "[" + ", ".join(numbers) + "]",
        f"{fmt(min(values), unit)} – {fmt(max(values), unit)}",
        "–" if cv is None else f"{cv:.0%}",
    ]


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table, padded so that it also reads well in a terminal."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    separator = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(header), separator, *(line(row) for row in rows)])


def render(sections: list[Section], facts: dict[str, str], crashes: list[str], quick: bool) -> str:
    """The whole report as Markdown (also what is printed)."""
    summary, noise = [], []
    for section in sections:
        for row in section.rows:
            reference = (
                f"{fmt(median(row.ref), row.unit)} ({row.reference_name})" if row.ref else ""
            )
            ratio = "" if math.isnan(row.ratio) else f"{row.ratio:.2f}×"
            local = fmt(median(row.local), row.unit)
            summary.append([row.metric, local, reference, ratio, row.target, section.met(row)])
            noise.append([row.metric, *_noise(row.local, row.unit), *_noise(row.ref, row.unit)])
    title = "local_aws benchmarks" + (" (quick smoke run: 1 trial, small sizes)" if quick else "")
    parts = [f"# {title}", "", *(f"- **{name}**: {value}" for name, value in facts.items())]
    header = ["metric", "local_aws", "reference", "ratio (local/ref)", "target", "met?"]
    parts += ["", "## Summary (medians of the trials)", "", table(header, summary)]
    parts += ["", "## Checks", ""]
    for check in (check for section in sections for check in section.checks):
        mark = "ok" if check.ok else ("**LOST**" if check.lost else "**FAILED**")
        parts.append(f"- {mark} — {check.name}: {check.detail}")
    parts += [f"- **CRASHED** — {crash}" for crash in crashes]
    trials = ["local_aws trials", "min – max", "CV"]
    header = ["metric", *trials, *(name.replace("local_aws", "reference") for name in trials)]
    parts += ["", "## Trials and noise", "", table(header, noise)]
    parts += ["", "## How each figure was taken", ""]
    parts += [f"- **{section.title}**: " + " ".join(section.notes) for section in sections]
    return "\n".join(parts) + "\n"


# ------------------------------------------------------------------------------ the machine


def load_average() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout
    except OSError:
        return ""


def source_version() -> str:
    """The commit local_aws was measured at, and whether its files had uncommitted changes."""
    commit = _git("rev-parse", "--short", "HEAD").strip()
    if not commit:
        return "unknown"
    changed = _git("status", "--porcelain", "--", "local_aws").strip()
    return f"commit {commit}" + (" with uncommitted changes in local_aws/" if changed else "")


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def facts(started: datetime, load_before: str, sizes: str, references: str) -> dict[str, str]:
    """The report's header: when, what, on which machine, how loaded, how big."""
    return {
        "date": started.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "local_aws": source_version(),
        "CPU": cpu_model(),
        "cores": f"{os.cpu_count()} ({len(os.sched_getaffinity(0))} usable)",
        "Python": platform.python_version(),
        "OS": f"{platform.system()} {platform.release()}",
        "packages": ", ".join(f"{name} {version(name)}" for name in PACKAGES),
        "load average (1, 5, 15 min)": f"before {load_before}; after {load_average()}",
        "sizes": sizes,
        "references": references,
    }
