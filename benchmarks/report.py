"""The report: machine, summary table, checks, trials and noise; as text and as Markdown."""

from __future__ import annotations

import math
import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from benchmarks.processes import ROOT
from benchmarks.results import Row, Section, Series

PACKAGES = ("websockets", "websocket-client", "boto3", "moto", "uvicorn")


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def load_average() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def source_version() -> str:
    """The commit local_aws was measured at, and whether its files had uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "local_aws"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    if not commit:
        return "unknown"
    return f"commit {commit}" + (" with uncommitted changes in local_aws/" if changed else "")


def machine() -> dict[str, str]:
    usable = len(os.sched_getaffinity(0))
    return {
        "CPU": cpu_model(),
        "cores": f"{os.cpu_count()} ({usable} usable)",
        "Python": platform.python_version(),
        "OS": f"{platform.system()} {platform.release()}",
        "packages": ", ".join(f"{name} {version(name)}" for name in PACKAGES),
    }


def fmt(value: float, unit: str) -> str:
    if value is None or math.isnan(value):
        return "–"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "ms":
        return f"{value:.3f} ms" if value < 1 else f"{value:.2f} ms"
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "µs":
        return f"{value:,.0f} µs"
    if unit == "MB":
        return f"{value:.1f} MB"
    return f"{value:.3g} {unit}"


def _trials(series: Series, unit: str) -> str:
    """The trial values, in order, without the unit: `[7,286, 5,987]` reads badly, so no commas."""
    numbers = (
        fmt(value, unit).removesuffix(unit).strip().replace(",", "") for value in series.values
    )
    return "[" + ", ".join(numbers) + "]"


def _noise(series: Series | None, unit: str) -> tuple[str, str, str]:
    if series is None or not series.values:
        return "", "", ""
    low, high = series.spread
    cv = series.cv
    spread = f"{fmt(low, unit)} – {fmt(high, unit)}"
    return _trials(series, unit), spread, "–" if cv is None else f"{cv:.0%}"


def _met(row: Row, section: Section) -> str:
    if row.target is None:
        return ""
    if not row.local.values:
        return "n/a"
    passed = row.target.met(row.local.median, row.ratio, section.checks_passed(row.requires))
    return "yes" if passed else "**NO**"


def summary_rows(sections: list[Section]) -> list[list[str]]:
    lines = []
    for section in sections:
        for row in section.rows:
            reference = ""
            if row.reference is not None and row.reference.values:
                reference = f"{fmt(row.reference.median, row.unit)} ({row.reference_name})"
            ratio = row.ratio
            lines.append(
                [
                    row.metric,
                    fmt(row.local.median, row.unit) if row.local.values else "–",
                    reference,
                    "" if ratio is None else f"{ratio:.2f}×",
                    row.target.text if row.target else "",
                    _met(row, section),
                ]
            )
    return lines


def noise_rows(sections: list[Section]) -> list[list[str]]:
    lines = []
    for section in sections:
        for row in section.rows:
            local = _noise(row.local, row.unit)
            reference = _noise(row.reference, row.unit)
            lines.append([row.metric, *local, *reference])
    return lines


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table, padded so that it also reads well in a terminal."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return (
            "| "
            + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
            + " |"
        )

    separator = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(header), separator, *(line(row) for row in rows)])


SUMMARY_HEADER = ["metric", "local_aws", "reference", "ratio (local/ref)", "target", "met?"]
NOISE_HEADER = [
    "metric",
    "local_aws trials",
    "min – max",
    "CV",
    "reference trials",
    "min – max",
    "CV",
]


def render(
    sections: list[Section],
    facts: dict[str, str],
    crashes: list[str],
    quick: bool,
) -> str:
    """The whole report as Markdown (also what is printed)."""
    title = "local_aws benchmarks" + (" (quick smoke run: 1 trial, small sizes)" if quick else "")
    parts = [f"# {title}", ""]
    parts += [f"- **{name}**: {value}" for name, value in facts.items()]
    parts += [
        "",
        "## Summary (medians of the trials)",
        "",
        table(SUMMARY_HEADER, summary_rows(sections)),
    ]
    parts += ["", "## Checks", ""]
    for section in sections:
        for check in section.checks:
            mark = "ok" if check.ok else ("**LOST**" if check.lost else "**FAILED**")
            parts.append(f"- {mark} — {check.name}: {check.detail}")
    parts += [f"- **CRASHED** — {crash}" for crash in crashes]
    parts += ["", "## Trials and noise", "", table(NOISE_HEADER, noise_rows(sections))]
    parts += ["", "## How each figure was taken", ""]
    for section in sections:
        parts.append(f"- **{section.title}**: " + " ".join(section.notes))
    return "\n".join(parts) + "\n"


def facts(before_load: str, after_load: str, started: datetime, sizes_text: str) -> dict[str, str]:
    return {
        "date": started.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "local_aws": source_version(),
        **machine(),
        "load average (1, 5, 15 min)": f"before {before_load}; after {after_load}",
        "sizes": sizes_text,
    }
