"""Room mode: one shared stack that a room of learners connects to, run by the instructor.

    python -m tutorial_helpers.room url            # the URL to hand out (deploys if missing)
    python -m tutorial_helpers.room who [--watch]  # who is connected, refreshed every 2 s
    python -m tutorial_helpers.room say "hello"    # send a message to everyone in the room
    python -m tutorial_helpers.room end [--yes]    # close every connection, delete the stack

The room is the stack the target names: on AWS set `TUTORIAL_STACK_NAME=ws-workshop-room`
for the instructor (learners connect to its URL, they need no stack of their own); locally
every user of one machine talks to the same local_aws, whose stack is `ws-workshop` unless
`TUTORIAL_STACK_NAME` gives each learner one. Learners name themselves with `?name=...` on
the URL: `$connect` stores the query string with the connection.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from typing import Any, TextIO

import pandas as pd

from tutorial_helpers.connections_api import broadcast, management_client
from tutorial_helpers.errors import WorkshopError
from tutorial_helpers.stack import delete_stack, ensure_stack, stack_outputs, stack_status
from tutorial_helpers.tables import KEY, deserialize, scan_items
from tutorial_helpers.target import Target, describe, select_target

MEMBER_COLUMNS = ["name", "connected (UTC)", "sourceIp", "userAgent", KEY]


def members(target: Target, outputs: dict[str, str], now: float | None = None) -> pd.DataFrame:
    """Who is connected: one row per live item of the sessions table, oldest first.

    `name` is the `name` query-string parameter the learner connected with (empty if none).
    Items whose `ttl` has passed are left out: their connection closed long ago and TTL has
    not deleted them yet.
    """
    now = time.time() if now is None else now
    items = [deserialize(item) for item in scan_items(target.client("dynamodb"), _table(outputs))]
    rows = [
        {
            "name": str((item.get("querystring") or {}).get("name", "")),
            "connected (UTC)": datetime.fromtimestamp(int(item["connectedAt"]) / 1000, UTC),
            "sourceIp": item.get("sourceIp", ""),
            "userAgent": item.get("userAgent", ""),
            KEY: item[KEY],
        }
        for item in items
        if "connectedAt" in item and float(item.get("ttl", now + 1)) > now
    ]
    frame = pd.DataFrame(rows, columns=MEMBER_COLUMNS)
    return frame.sort_values(["connected (UTC)", KEY], ignore_index=True)


def say(target: Target, outputs: dict[str, str], text: str) -> pd.DataFrame:
    """Send `text` to everyone in the room; stale items are deleted on the way."""
    return broadcast(target, outputs["WebSocketURL"], _table(outputs), text)


def end(target: Target, outputs: dict[str, str], *, out: TextIO | None = None) -> int:
    """Close every connection (`@connections` DELETE), then delete the room's stack.

    Returns how many connections were closed.
    """
    client = management_client(target, outputs["WebSocketURL"])
    closed = 0
    for connection_id in members(target, outputs)[KEY]:
        try:
            client.delete_connection(ConnectionId=connection_id)
            closed += 1
        except client.exceptions.GoneException:
            pass  # it left meanwhile
    print(f"Closed {closed} connection(s).", file=out or sys.stdout)
    delete_stack(target, out=out)
    return closed


def _table(outputs: dict[str, str]) -> str:
    return outputs["SessionsTableName"]


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """Command line (see the module's doc); exits 1 with the reason on a WorkshopError."""
    out = out or sys.stdout
    parser = argparse.ArgumentParser(
        prog="python -m tutorial_helpers.room",
        description="Run a room of learners on one shared stack (TUTORIAL_TARGET and "
        "TUTORIAL_STACK_NAME select it).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("url", help="deploy the room's stack if missing; print its URL")
    who = commands.add_parser("who", help="who is connected")
    who.add_argument("--watch", action="store_true", help="refresh every --every seconds")
    who.add_argument("--every", type=float, default=2.0, help="seconds between refreshes")
    who.add_argument("--times", type=int, default=0, help="stop after this many (0: Ctrl-C)")
    say_command = commands.add_parser("say", help="send a message to everyone")
    say_command.add_argument("text")
    end_command = commands.add_parser("end", help="close every connection, delete the stack")
    end_command.add_argument("--yes", action="store_true", help="do not ask to confirm")
    args = parser.parse_args(argv)
    try:
        target = select_target()
        print(describe(target), file=out)
        if args.command == "end":  # never deploy a room only to delete it
            if stack_status(target) == "DOES_NOT_EXIST":
                print(f"Stack {target.stack_name} does not exist: nothing to end.", file=out)
                return 0
            outputs = stack_outputs(target)
        else:
            outputs = ensure_stack(target, out=out)
        return _run(args, target, outputs, out)
    except WorkshopError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


def _run(args: Any, target: Target, outputs: dict[str, str], out: TextIO) -> int:
    if args.command == "url":
        print(f"Connect with: {outputs['WebSocketURL']}?name=<your name>", file=out)
    elif args.command == "who":
        shown = 0
        while True:
            room = members(target, outputs)
            print(f"{len(room)} connected at {datetime.now(UTC):%H:%M:%S} UTC", file=out)
            if len(room):
                print(room.to_string(index=False), file=out)
            shown += 1
            if not args.watch or shown == args.times:
                return 0
            time.sleep(args.every)
    elif args.command == "say":
        results = say(target, outputs, args.text)
        delivered = int((results["result"] == "delivered").sum())
        print(f"Delivered to {delivered}; {len(results) - delivered} gone (deleted).", file=out)
    elif args.command == "end":
        if not args.yes and input(f"Delete stack {target.stack_name} for everyone? [y/N] ") != "y":
            print("Nothing deleted.", file=out)
            return 0
        end(target, outputs, out=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
