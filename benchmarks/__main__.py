"""`python -m benchmarks [--quick] [--only echo,connect,...]`: measure, print, write results.md.

Exits non-zero only if a benchmark crashed or messages (or `$disconnect` deletes) were lost;
timings are reported against their targets, never asserted.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import broadcast, connect, echo, memory, post, report, startup
from benchmarks.processes import raise_fd_limit
from benchmarks.results import Section
from benchmarks.session import QUICK, Session, Sizes

# Run order: the ones that start their own local_aws first, while nothing else runs.
BENCHMARKS: dict[str, Callable[[Session], Section]] = {
    "startup": startup.run,
    "memory": memory.run,
    "echo": echo.run,
    "connect": connect.run,
    "post": post.run,
    "broadcast": broadcast.run,
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
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help="where to write the Markdown report"
    )
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(args.only) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else Sizes()
    if args.trials:
        sizes = replace(sizes, trials=args.trials, startup_runs=args.trials)
    # 1,000 client sockets here and 1,000 server sockets in local_aws (which inherits this).
    raise_fd_limit(4 * max(sizes.broadcast_connections, sizes.memory_connections) + 256)

    started = datetime.now(UTC)
    load_before = report.load_average()
    sections: list[Section] = []
    crashes: list[str] = []
    session = Session(sizes)
    try:
        for name in BENCHMARKS:
            if name not in args.only:
                continue
            print(f"running {name} …", file=sys.stderr, flush=True)
            try:
                sections.append(BENCHMARKS[name](session))
            except Exception:
                traceback.print_exc()
                crashes.append(f"{name}: {traceback.format_exc(limit=1).strip().splitlines()[-1]}")
    finally:
        session.close()

    sizes_text = ", ".join(f"{key} {value}" for key, value in asdict(sizes).items())
    facts = report.facts(load_before, report.load_average(), started, sizes_text)
    facts["references"] = REFERENCES
    text = report.render(sections, facts, crashes, args.quick)
    print(text)
    args.output.write_text(text)
    print(f"written to {args.output.name}", file=sys.stderr)

    lost = [check for s in sections for check in s.checks if check.lost and not check.ok]
    for check in lost:
        print(f"LOST: {check.name}: {check.detail}", file=sys.stderr)
    return 1 if crashes or lost else 0


if __name__ == "__main__":
    sys.exit(main())
