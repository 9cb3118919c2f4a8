"""Mutation testing of the pure modules with cosmic-ray, in a temporary copy of the repository.

    python -m tests.mutants.run [NAME ...] [--sample N] [--fail-under PERCENT] [--report FILE]

NAME is an entry of [modules] in tests/mutants/cosmic-ray.toml (all of them by default; "vtl"
is every "vtl/…" entry). Each is
mutated in a fresh copy of the repository, never in this one (cosmic-ray changes the files it
mutates on disk while it tests them), and only the unit tests named for it run against each
mutant. Mutations inside type annotations are skipped: with `from __future__ import annotations`
they are never evaluated, so `str | None` → `str & None` cannot change behaviour.

Prints, for each module, the mutants killed and survived, the score (killed / (killed +
survived)) and every survivor as file:line, operator and the changed line.
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import random
import shlex
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from cosmic_ray.config import serialize_config
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

from tests.mutants.repository import copy_repository

CONFIG = Path(__file__).with_name("cosmic-ray.toml")
BIN = Path(sys.executable).parent


@dataclass
class Survivor:
    path: str
    line: int
    operator: str
    change: str


@dataclass
class Outcome:
    name: str
    killed: int = 0
    survived: int = 0
    skipped: int = 0
    incompetent: int = 0
    survivors: list[Survivor] = field(default_factory=list)

    @property
    def score(self) -> float:
        tested = self.killed + self.survived
        return 100.0 * self.killed / tested if tested else 100.0


def test_command(tests: list[str]) -> str:
    args = [sys.executable, "-m", "pytest", "-o", "addopts=", "-q", "-x"]
    # Only the named unit tests: no notebook plugin, no local_aws server fixtures, no cache.
    args += ["-p", "no:cacheprovider", "--noconftest", *tests]
    return shlex.join(args)


def annotation_spans(path: Path) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) of every annotation in a module, as (line, column)."""
    spans = []
    for node in ast.walk(ast.parse(path.read_text())):
        annotations: list[ast.expr | None] = []
        if isinstance(node, ast.AnnAssign | ast.arg):
            annotations.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            annotations.append(node.returns)
        for annotation in annotations:
            if annotation is not None and annotation.end_lineno is not None:
                start = (annotation.lineno, annotation.col_offset)
                end = (annotation.end_lineno, annotation.end_col_offset or 0)
                spans.append((start, end))
    return spans


def skip_mutants(db: WorkDB, repo: Path, sample: int | None) -> None:
    """Mark as skipped the mutants in annotations and, with a sample, all but N others."""
    spans: dict[str, list[tuple[tuple[int, int], tuple[int, int]]]] = {}
    kept = []
    for item in db.pending_work_items:
        in_annotation = False
        for mutation in item.mutations:
            key = str(mutation.module_path)
            if key not in spans:
                spans[key] = annotation_spans(repo / key)
            position = tuple(mutation.start_pos)
            if any(start <= position < end for start, end in spans[key]):
                in_annotation = True
        if in_annotation:
            db.set_result(
                item.job_id,
                WorkResult(output="In an annotation", worker_outcome=WorkerOutcome.SKIPPED),
            )
        else:
            kept.append(item.job_id)
    if sample is not None and sample < len(kept):
        chosen = set(random.Random(0).sample(kept, sample))
        for job_id in kept:
            if job_id not in chosen:
                db.set_result(
                    job_id,
                    WorkResult(output="Not sampled", worker_outcome=WorkerOutcome.SKIPPED),
                )


def changed_line(diff: str | None) -> str:
    added = [
        line[1:].strip()
        for line in (diff or "").splitlines()
        if line.startswith("+") and not line.startswith("+++")
    ]
    return " / ".join(added)


def run_module(name: str, entry: dict, base: dict, repo: Path, sample: int | None) -> Outcome:
    config = copy.deepcopy(base)
    config["module-path"] = entry["module-path"]
    config["test-command"] = test_command(entry["tests"])
    stem = name.replace("/", "-")
    config_file = repo / f".mutants-{stem}.toml"
    config_file.write_text(serialize_config(config))
    session = repo / f".mutants-{stem}.sqlite"

    def cosmic_ray(*args: str) -> None:
        subprocess.run([str(BIN / args[0]), *args[1:]], cwd=repo, check=True)

    cosmic_ray("cosmic-ray", "init", str(config_file), str(session))
    cosmic_ray("cr-filter-operators", str(session), str(config_file))
    with use_db(str(session), WorkDB.Mode.open) as db:
        skip_mutants(db, repo, sample)
        pending = sum(1 for _ in db.pending_work_items)
    print(f"== {name}: {pending} mutants, tests: {' '.join(entry['tests'])}", flush=True)
    # The tests must pass on the unmutated code, or every mutant would count as killed.
    cosmic_ray("cosmic-ray", "baseline", str(config_file))
    cosmic_ray("cosmic-ray", "exec", str(config_file), str(session))

    outcome = Outcome(name)
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                outcome.skipped += 1
            elif result.test_outcome == TestOutcome.SURVIVED:
                outcome.survived += 1
                mutation = item.mutations[0]
                outcome.survivors.append(
                    Survivor(
                        str(mutation.module_path),
                        mutation.start_pos[0],
                        mutation.operator_name.removeprefix("core/"),
                        changed_line(result.diff),
                    )
                )
            elif result.test_outcome == TestOutcome.KILLED:
                outcome.killed += 1
            else:
                outcome.incompetent += 1
    outcome.survivors.sort(key=lambda s: (s.path, s.line, s.operator))
    return outcome


def report(outcomes: list[Outcome]) -> str:
    lines = ["| module | killed | survived | score |", "| --- | ---: | ---: | ---: |"]
    for o in outcomes:
        lines.append(f"| {o.name} | {o.killed} | {o.survived} | {o.score:.1f}% |")
    if len(outcomes) > 1:
        total = Outcome("all")
        total.killed = sum(o.killed for o in outcomes)
        total.survived = sum(o.survived for o in outcomes)
        lines.append(f"| all | {total.killed} | {total.survived} | {total.score:.1f}% |")
    for o in outcomes:
        if o.survivors:
            lines += ["", f"Survivors in {o.name}:"]
            lines += [f"- {s.path}:{s.line} {s.operator}: `{s.change}`" for s in o.survivors]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    data = tomllib.loads(CONFIG.read_text())
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(data["modules"]))
    parser.add_argument("--sample", type=int, help="test only N mutants of each module")
    parser.add_argument("--fail-under", type=float, help="exit 1 if a module scores below")
    parser.add_argument("--report", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    names = []
    for wanted in args.names or list(data["modules"]):
        # "vtl" is every "vtl/…"
        matching = [n for n in data["modules"] if n == wanted or n.startswith(wanted + "/")]
        if not matching:
            parser.error(f"no such module in {CONFIG.name}: {wanted}")
        names += [n for n in matching if n not in names]
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="mutants-") as tmp:
        repo = copy_repository(Path(tmp))
        os.environ["PYTHONPATH"] = str(repo)
        for name in names:
            entry = data["modules"][name]
            outcomes.append(run_module(name, entry, data["cosmic-ray"], repo, args.sample))
    text = report(outcomes)
    print(text)
    if args.report:
        args.report.write_text(text)
    if args.fail_under is not None and any(o.score < args.fail_under for o in outcomes):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
