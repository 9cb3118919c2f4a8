"""`python -m benchmarks [--quick] [--only echo,connect,...]`: measure, print, write results.md.

local_aws side by side with bare reference servers, each in its own process, so that the client
process is the same for both and their trials alternate within one run. Exits non-zero only if
a benchmark crashed or messages (or `$disconnect` deletes) were lost; timings are reported
against their targets, never asserted.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import traceback
from dataclasses import asdict, replace
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from benchmarks import goals, measure
from benchmarks.measure import Section, median

# Run order: the ones that start their own local_aws first, while nothing else runs.
BENCHMARKS = {
    "startup": measure.startup,
    "memory": measure.memory,
    "echo": measure.echo,
    "connect": measure.connect,
    "post": measure.post,
    "broadcast": measure.broadcast,
}
RESULTS = Path(__file__).with_name("results.md")
PACKAGES = ("websockets", "websocket-client", "boto3", "moto", "uvicorn")
REFERENCES = (
    "bare echo and event echo: `websockets` asyncio servers (no compression, no pings); "
    "trivial HTTP: an asyncio-streams HTTP/1.1 keep-alive server answering 200 to any request; "
    "each in its own subprocess; the client process is the same for local_aws and references"
)


def fmt(value: float, unit: str) -> str:
    if math.isnan(value):
        return "–"
    if unit == "ms":
        return f"{value:.3f} ms" if value < 1 else f"{value:.2f} ms"
    formats = {"/s": "{:,.0f}/s", "s": "{:.3f} s", "µs": "{:,.0f} µs", "MB": "{:.1f} MB"}
    return formats.get(unit, "{:.3g} " + unit).format(value)


def noise(values: list[float], unit: str) -> list[str]:
    """The trials in order (no unit, no thousands commas: they read badly in a list), min – max
    and the coefficient of variation (sample stdev / mean, from 2 trials)."""
    if not values:
        return ["", "", ""]
    trials = (fmt(value, unit).removesuffix(unit).strip().replace(",", "") for value in values)
    mean = statistics.fmean(values)
    cv = f"{statistics.stdev(values) / mean:.0%}" if len(values) > 1 and mean else "–"
    spread = f"{fmt(min(values), unit)} – {fmt(max(values), unit)}"
    return ["[" + ", ".join(trials) + "]", spread, cv]


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table, padded so that it also reads well in a terminal."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    separator = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(header), separator, *(line(row) for row in rows)])


SUMMARY = ["metric", "local_aws", "reference", "ratio (local/ref)", "target", "met?"]
TRIALS = ["metric", "local_aws trials", "min – max", "CV", "reference trials", "min – max", "CV"]


def render(sections: list[Section], facts: dict[str, str], crashes: list[str], quick: bool) -> str:
    """The whole report as Markdown (also what is printed)."""
    summary, trials = [], []
    for section in sections:
        for row in section.rows:
            ref = f"{fmt(median(row.ref), row.unit)} ({row.reference_name})" if row.ref else ""
            ratio = "" if math.isnan(row.ratio) else f"{row.ratio:.2f}×"
            local = fmt(median(row.local), row.unit)
            summary.append([row.metric, local, ref, ratio, row.target, section.met(row)])
            trials.append([row.metric, *noise(row.local, row.unit), *noise(row.ref, row.unit)])
    checks = [
        f"- {'ok' if ok else '**LOST**'} — {name}: {detail}"
        for section in sections
        for name, ok, detail in section.checks
    ]
    quick_run = " (quick smoke run: 1 trial, small sizes)" if quick else ""
    blocks = [
        f"# local_aws benchmarks{quick_run}",
        "\n".join(f"- **{name}**: {value}" for name, value in facts.items()),
        "## The goals (medians of the trials here)",
        table(goals.HEADER, goals.rows(sections, fmt)),
        "## Summary (medians of the trials)",
        table(SUMMARY, summary),
        "## Checks",
        "\n".join(checks + [f"- **CRASHED** — {crash}" for crash in crashes]),
        "## Trials and noise",
        table(TRIALS, trials),
        "## How each figure was taken",
        "\n".join(f"- **{section.title}**: " + " ".join(section.notes) for section in sections),
    ]
    return "\n\n".join(blocks) + "\n"


def load_average() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def source_version() -> str:
    """The commit local_aws was measured at, and whether its files had uncommitted changes."""

    def git(*args: str) -> str:
        run = subprocess.run(["git", *args], cwd=measure.ROOT, capture_output=True, text=True)
        return run.stdout.strip()

    try:
        commit, changed = (
            git("rev-parse", "--short", "HEAD"),
            git("status", "--porcelain", "--", "local_aws"),
        )
    except OSError:
        return "unknown"
    if not commit:
        return "unknown"
    return f"commit {commit}" + (" with uncommitted changes in local_aws/" if changed else "")


def facts(started: datetime, load_before: str, sizes: measure.Sizes) -> dict[str, str]:
    """The report's header: when, what, on which machine, how loaded, how big."""
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    return {
        "date": started.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "local_aws": source_version(),
        "CPU": models[0] if models else platform.processor() or "unknown",
        "cores": f"{os.cpu_count()} ({len(os.sched_getaffinity(0))} usable)",
        "Python": platform.python_version(),
        "OS": f"{platform.system()} {platform.release()}",
        "packages": ", ".join(f"{name} {version(name)}" for name in PACKAGES),
        "load average (1, 5, 15 min)": f"before {load_before}; after {load_average()}",
        "sizes": ", ".join(f"{key} {value}" for key, value in asdict(sizes).items()),
        "references": REFERENCES,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 trial: a smoke run")
    names = ", ".join(BENCHMARKS)
    parser.add_argument(
        "--only", default=",".join(BENCHMARKS), help=f"comma-separated subset of: {names}"
    )
    parser.add_argument("--trials", type=int, help="trials per benchmark (default 3; quick 1)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the report")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(args.only) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks, print the report and write it; 1 if anything was lost."""
    args = parse_args(argv)
    sizes = measure.QUICK if args.quick else measure.Sizes()
    if args.trials:
        sizes = replace(sizes, trials=args.trials, startup_runs=args.trials)
    # Client sockets here, as many server sockets in local_aws (which inherits the limit).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4 * max(sizes.broadcast_connections, sizes.memory_connections) + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        limit = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))

    started, load_before = datetime.now(UTC), load_average()
    sections: list[Section] = []
    crashes: list[str] = []
    session = measure.Session(sizes)
    try:
        for name in (name for name in BENCHMARKS if name in args.only):
            print(f"running {name} …", file=sys.stderr, flush=True)
            try:
                sections.append(BENCHMARKS[name](session))
            except Exception:
                traceback.print_exc()
                crashes.append(f"{name}: {traceback.format_exc(limit=1).strip().splitlines()[-1]}")
    finally:
        session.close()

    text = render(sections, facts(started, load_before, sizes), crashes, args.quick)
    print(text)
    args.output.write_text(text)
    print(f"written to {args.output.name}", file=sys.stderr)
    lost = [(name, detail) for s in sections for name, ok, detail in s.checks if not ok]
    for name, detail in lost:
        print(f"LOST: {name}: {detail}", file=sys.stderr)
    return 1 if crashes or lost else 0


if __name__ == "__main__":
    sys.exit(main())
