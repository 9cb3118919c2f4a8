"""The performance goals: an earlier measurement of each figure, its target, and this run's.

The earlier figures were measured on a faster machine of the same class: their absolute numbers
do not transfer, their ratios to the same reference do. So each row shows the earlier local_aws,
reference and ratio, the target (on the ratio where there is a reference, on the value
where there is none: memory, start-up), then this run's figures.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.measure import Row, Section, median


@dataclass(frozen=True)
class Figure:
    """One row of the goals' table: what it measured, and which rows of this run match it.

    `metrics` are this run's rows shown for the local_aws side (joined with " + ", the last
    being the total when there are several); the last one carries the target.
    """

    name: str
    earlier_local: str
    earlier_reference: str
    earlier_ratio: str
    metrics: tuple[str, ...]


FIGURES = (
    Figure(
        "echo through the `$default` Lambda, fast client",
        "4,382 msgs/s",
        "15,075/s (event echo)",
        "0.29×",
        ("echo msgs/s, fast client",),
    ),
    Figure(
        "connect + close with both DynamoDB integrations",
        "571/s",
        "1,255/s (bare echo)",
        "0.45×",
        ("connect+close /s",),
    ),
    Figure(
        "`post_to_connection`, one boto3 client",
        "1,133/s",
        "1,456/s (trivial HTTP)",
        "0.78×",
        ("post_to_connection /s",),
    ),
    Figure(
        "RSS idle, stack deployed",
        "187 MB",
        "25 MB (bare echo)",
        "—",
        ("RSS idle, local_aws process",),
    ),
    Figure(
        "spawn → ready + deploy",
        "1.41 s + 0.22 s",
        "—",
        "—",
        (
            "startup: spawn → ready line",
            "deploy: create_stack → CREATE_COMPLETE",
            "startup + deploy",
        ),
    ),
)

HEADER = [
    "figure",
    "earlier: local_aws",
    "earlier: reference",
    "earlier: ratio",
    "target",
    "here: local_aws",
    "here: reference",
    "here: ratio",
    "met?",
]


def rows(sections: list[Section], fmt: Callable[[float, str], str]) -> list[list[str]]:
    """The goals' table with this run's medians; "not run" where a benchmark was left out."""
    found: dict[str, tuple[Section, Row]] = {
        row.metric: (section, row) for section in sections for row in section.rows
    }
    table = []
    for figure in FIGURES:
        earlier = [
            figure.name,
            figure.earlier_local,
            figure.earlier_reference,
            figure.earlier_ratio,
        ]
        if not all(metric in found for metric in figure.metrics):
            table.append([*earlier, "", "not run", "", "", ""])
            continue
        measured = [found[metric][1] for metric in figure.metrics]
        section, judged = found[figure.metrics[-1]]
        values = [fmt(median(row.local), row.unit) for row in measured]
        local = values[0] if len(values) == 1 else " + ".join(values[:-1]) + f" = {values[-1]}"
        reference = (
            f"{fmt(median(judged.ref), judged.unit)} ({judged.reference_name})"
            if judged.ref
            else "—"
        )
        ratio = "—" if math.isnan(judged.ratio) else f"{judged.ratio:.2f}×"
        table.append([*earlier, judged.target, local, reference, ratio, section.met(judged)])
    return table
