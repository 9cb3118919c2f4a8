"""`python -m benchmarks [--quick] [--only echo,connect,...]`: measure, print, write results.md.

Exits non-zero only if a benchmark crashed or messages (or `$disconnect` deletes) were lost;
timings are reported against their targets, never asserted.
"""

from __future__ import annotations

import argparse
import resource
import sys
import traceback
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import measure, report
from benchmarks.report import Section

# Run order: the ones that start their own local_aws first, while nothing else runs.
BENCHMARKS: dict[str, Callable[[measure.Session], Section]] = {
    "startup": measure.startup,
    "memory": measure.memory,
    "echo": measure.echo,
    "connect": measure.connect,
    "post": measure.post,
    "broadcast": measure.broadcast,
}
RESULTS = Path(__file__).with_name("results.md")
REFERENCES = (
    "bare echo and event echo: `websockets` asyncio servers (no compression, no pings); "
    "trivial HTTP: an asyncio-streams HTTP/1.1 keep-alive server answering 200 to any request; "
    "each in its own subprocess; the client process is the same for local_aws and references"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 trial: a smoke run")
    parser.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        help=f"comma-separated subset of: {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--trials", type=int, help="trials per benchmark (default 3; quick 1)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the report")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(args.only) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    return args


def raise_fd_limit(wanted: int) -> None:
    """Raise the soft limit on open files; children inherit it (local_aws needs one per socket)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        limit = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks, print the report and write it; 1 if anything was lost."""
    args = parse_args(argv)
    sizes = measure.QUICK if args.quick else measure.Sizes()
    if args.trials:
        sizes = replace(sizes, trials=args.trials, startup_runs=args.trials)
    # Client sockets here, as many server sockets in local_aws (which inherits the limit).
    raise_fd_limit(4 * max(sizes.broadcast_connections, sizes.memory_connections) + 256)

    started, load_before = datetime.now(UTC), report.load_average()
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

    sizes_text = ", ".join(f"{key} {value}" for key, value in asdict(sizes).items())
    text = report.render(
        sections, report.facts(started, load_before, sizes_text, REFERENCES), crashes, args.quick
    )
    print(text)
    args.output.write_text(text)
    print(f"written to {args.output.name}", file=sys.stderr)
    lost = [check for s in sections for check in s.checks if check.lost and not check.ok]
    for check in lost:
        print(f"LOST: {check.name}: {check.detail}", file=sys.stderr)
    return 1 if crashes or lost else 0


if __name__ == "__main__":
    sys.exit(main())
