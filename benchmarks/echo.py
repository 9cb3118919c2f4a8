"""Echo round trips through `$default` → Lambda, one connection, one message at a time.

The client is websocket-client, as in the workshop's notebooks, in two modes: "fast"
(`skip_utf8_validation=True`; without wsaccel, websocket-client validates UTF-8 in pure Python,
about 0.4 ms per 900-byte reply, which would dominate the references) and "default".
References: the event-sized echo (builds a ~900-byte event per message: the fair comparison)
and the bare echo (context). Replies are checked after the timed loop, not during it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import websocket

from benchmarks.processes import CpuMeter, CpuUse
from benchmarks.results import CpuRows, Row, Section, Target, percentile
from benchmarks.session import Session

RECEIVE_TIMEOUT = 10.0  # a reply slower than this is counted as lost


@dataclass
class Trial:
    rate: float  # messages per second
    p50_ms: float
    p99_ms: float
    checked: int
    wrong: list[str]  # what went wrong, if anything: lost or mismatched replies
    cpu: CpuUse  # of the server, during the timed loop


def _message(seq: int) -> str:
    return json.dumps({"action": "ping", "seq": seq, "data": "hello"})


def _reply_matches(sent: str, reply: str, event: bool) -> bool:
    if not event:
        return reply == sent
    try:
        return json.loads(reply)["body"] == sent
    except (ValueError, KeyError, TypeError):
        return False


def measure(url: str, fast: bool, count: int, warmup: int, event: bool, pid: int) -> Trial:
    """Send `warmup` then `count` messages, each after the previous reply; time the latter."""
    ws = websocket.create_connection(url, timeout=RECEIVE_TIMEOUT, skip_utf8_validation=fast)
    meter = CpuMeter(pid)
    try:
        for seq in range(warmup):
            ws.send(_message(-1 - seq))
            ws.recv()
        messages = [_message(seq) for seq in range(count)]
        replies: list[str] = []
        latencies: list[float] = []
        wrong: list[str] = []
        clock = time.perf_counter
        meter.start()
        started = clock()
        try:
            for message in messages:
                sent_at = clock()
                ws.send(message)
                replies.append(ws.recv())
                latencies.append(clock() - sent_at)
        except websocket.WebSocketTimeoutException:
            wrong.append(f"no reply to message {len(replies)} within {RECEIVE_TIMEOUT:.0f} s")
        elapsed = clock() - started
        cpu = meter.stop()
    finally:
        ws.close()
    mismatched = sum(
        not _reply_matches(sent, reply, event)
        for sent, reply in zip(messages, replies, strict=False)
    )
    if mismatched:
        wrong.append(f"{mismatched} replies did not echo their message")
    return Trial(
        rate=len(replies) / elapsed,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        checked=len(replies),
        wrong=wrong,
        cpu=cpu,
    )


def run(session: Session) -> Section:
    sizes = session.sizes
    local, stack = session.local, session.stack
    references = {"event": session.reference("event"), "echo": session.reference("echo")}
    section = Section("Echo through $default → Lambda (sequential, one connection)")
    section.notes.append(
        f"{sizes.echo_messages} messages after {sizes.echo_warmup} warm-up, each sent after the "
        'previous reply; message `{"action": "ping", "seq": N, "data": "hello"}`; '
        "replies checked after the timed loop."
    )
    target = Target("≥ 0.5× and ≥ 3,700/s", ratio_min=0.5, value_min=3700)
    rows: dict[bool, dict[str, Row]] = {}
    for fast in (True, False):
        mode = "fast client" if fast else "default client"
        rate = section.row(
            f"echo msgs/s, {mode}", "/s", "event echo", target=target if fast else None
        )
        rows[fast] = {
            "rate": rate,
            # The same local figures, against the bare echo: context, no target.
            "rate_bare": section.row(
                f"echo msgs/s, {mode} (vs bare echo)", "/s", "bare echo", local=rate.local
            ),
            "p50": section.row(f"echo p50, {mode}", "ms", "event echo"),
            "p99": section.row(f"echo p99, {mode}", "ms", "event echo"),
        }
    cpu = CpuRows(section, "echo, fast client", "event echo", workers=True)

    checked, problems = 0, []
    sides = ["local", "event", "echo"]
    for trial in range(sizes.trials):
        # Alternate local_aws and the references; rotate the order so none always goes first.
        order = sides[trial % len(sides) :] + sides[: trial % len(sides)]
        for fast in (True, False):
            for side in order:
                url = stack.url if side == "local" else references[side].url
                pid = local.pid if side == "local" else references[side].pid
                result = measure(
                    url, fast, sizes.echo_messages, sizes.echo_warmup, side != "echo", pid
                )
                checked += result.checked
                problems += [f"{side}: {problem}" for problem in result.wrong]
                row = rows[fast]
                if side == "local":
                    row["rate"].local.add(result.rate)
                    row["p50"].local.add(result.p50_ms)
                    row["p99"].local.add(result.p99_ms)
                    if fast:
                        cpu.add_local(result.cpu, result.checked)
                elif side == "event":
                    row["rate"].ref.add(result.rate)
                    row["p50"].ref.add(result.p50_ms)
                    row["p99"].ref.add(result.p99_ms)
                    if fast:
                        cpu.add_reference(result.cpu, result.checked)
                else:
                    row["rate_bare"].ref.add(result.rate)
    section.check(
        "echo: every message answered with its echo",
        not problems,
        "; ".join(problems) or f"{checked} replies checked",
    )
    return section
