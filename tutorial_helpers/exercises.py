"""Checkers for the "Your turn" exercises: right, or why not, in one line.

Each exercise cell ships with `...` (Python's Ellipsis) where the answer goes; its check cell
calls a `check_*` function, which prints one line:

- `Not done yet: ...` while an answer is still `...`;
- `Right: ...` with what the answer shows;
- `Not quite: ...` with the reason, so the learner can try again.

A checker never raises for a wrong answer: a traceback would hide the reason. Each `check_*`
has a `judge_*` twin that returns the `Verdict` instead of printing it (the tests use those).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from botocore.exceptions import ClientError

from tutorial_helpers.original_pattern import map_text_breaks_json, routes_the_deployment_misses
from tutorial_helpers.target import Target

NOT_DONE = ...  # what an exercise cell holds until the learner answers
Status = Literal["right", "wrong", "not done"]


@dataclass(frozen=True)
class Verdict:
    """The result of a check: its status and the sentence that explains it."""

    status: Status
    reason: str

    def line(self) -> str:
        """The one line the check cell prints."""
        prefix = {"right": "Right", "wrong": "Not quite", "not done": "Not done yet"}[self.status]
        return f"{prefix}: {self.reason}"


NOT_DONE_YET = Verdict(
    "not done",
    "replace each `...` in the cell above with your answer, run it, then run this cell again.",
)


def right(reason: str) -> Verdict:
    return Verdict("right", reason)


def wrong(reason: str) -> Verdict:
    return Verdict("wrong", reason)


def _judge_choice(
    choice: Any, choices: Mapping[str, str], reasons: Mapping[str, Verdict]
) -> Verdict:
    """A multiple-choice answer: the verdict `reasons` gives for its letter (case and spaces
    ignored), or wrong naming the letters of `choices` when it is none of them."""
    letter = str(choice).strip().lower()
    if letter in reasons:
        return reasons[letter]
    return wrong(f"{letter!r} is not one of {', '.join(choices)}.")


def _checker(judge: Callable[..., Verdict]) -> Callable[..., None]:
    """The notebook form of `judge`: prints its verdict's line (not done yet while `...`)."""

    def check(*answers_and_context: Any, **context: Any) -> None:
        if any(value is NOT_DONE for value in (*answers_and_context, *context.values())):
            print(NOT_DONE_YET.line())
            return
        try:
            verdict = judge(*answers_and_context, **context)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            verdict = wrong(f"the checker could not read your answer ({error!r}).")
        print(verdict.line())

    check.__doc__ = judge.__doc__
    check.__name__ = judge.__name__.replace("judge_", "check_")
    return check


def _names(values: Iterable[str]) -> str:
    return ", ".join(sorted(values)) or "none"


def _compare_sets(answer: Iterable[str], truth: set[str], why_missing: str, why_extra: str) -> str:
    """'' when equal, else the reason: what is missing and what should not be there."""
    given = set(answer)
    reasons = []
    if truth - given:
        reasons.append(f"{why_missing}: {_names(truth - given)}")
    if given - truth:
        reasons.append(f"{why_extra}: {_names(given - truth)}")
    return "; ".join(reasons)


# ------------------------------------------------------------------------------- 00_setup


def judge_target_client(client: Any, target: Target) -> Verdict:
    """00, exercise 1: a CloudFormation client that talks to the workshop's target."""
    if not hasattr(client, "meta"):
        return wrong("that is not a boto3 client: ask the target for one, `target.client(...)`.")
    service = client.meta.service_model.service_name
    if service != "cloudformation":
        return wrong(f"that is a client for {service}; ask for 'cloudformation'.")
    endpoint = client.meta.endpoint_url.rstrip("/")
    if target.is_local and endpoint != target.endpoint_url:
        return wrong(
            f"this client would call {endpoint}, not local_aws at {target.endpoint_url}: a "
            "plain `boto3.client(...)` goes to AWS itself. Use `target.client(...)`."
        )
    where = "local_aws" if target.is_local else f"AWS in {target.region}"
    return right(f"it calls {where} ({endpoint}), like every client the lessons use.")


def judge_account_id(account: Any, target: Target) -> Verdict:
    """00, exercise 2: the id of the account the workshop creates things in."""
    truth = target.client("sts").get_caller_identity()["Account"]
    if isinstance(account, Mapping):
        return wrong("that is the whole answer of get_caller_identity: pick its 'Account'.")
    if isinstance(account, int):
        return wrong("an account id is a string of 12 digits (it may start with 0): keep it a str.")
    if isinstance(account, str) and account.startswith("arn:") and truth in account:
        return wrong("that is an ARN; the account id is the 12-digit number in it ('Account').")
    if account != truth:
        return wrong(f"{account!r} is not the account these credentials belong to.")
    return right(f"{truth} is where the stack will be created.")


# ------------------------------------------------------------------------------ 01_deploy


def judge_iam_resources(answer: Iterable[str], template: Mapping[str, Any]) -> Verdict:
    """01, exercise 1: the logical ids that make a deploy need CAPABILITY_IAM."""
    if isinstance(answer, str):
        return wrong("give a list (or set) of logical ids, not one string.")
    resources = template["Resources"]
    truth = {name for name, r in resources.items() if r["Type"].startswith("AWS::IAM::")}
    unknown = set(answer) - set(resources)
    if unknown:
        return wrong(f"the template has no resource named {_names(unknown)}.")
    reason = _compare_sets(
        answer,
        truth,
        "these create IAM resources too",
        "these create no IAM resource (their type is not AWS::IAM::...)",
    )
    if reason:
        return wrong(reason + ".")
    return right(
        f"{_names(truth)} create IAM roles, so CloudFormation wants CAPABILITY_IAM: "
        "an acknowledgement that the stack grants permissions."
    )


def _ref(value: Any) -> str | None:
    return value.get("Ref") if isinstance(value, Mapping) else None


def judge_route_is_deployed(
    new: Mapping[str, Any], old: Mapping[str, Any], route_key: str = "sendmessage"
) -> Verdict:
    """01, exercise 2: a template whose update would really serve a new route."""
    resources = new["Resources"]
    routes = [
        name
        for name, r in resources.items()
        if r["Type"] == "AWS::ApiGatewayV2::Route"
        and r.get("Properties", {}).get("RouteKey") == route_key
    ]
    if not routes:
        return wrong(f"there is no AWS::ApiGatewayV2::Route with RouteKey {route_key!r} yet.")
    route = routes[0]
    if "Target" not in resources[route].get("Properties", {}):
        return wrong(f"{route} has no Target: give it `integrations/<id>` of an integration.")
    stages = [r for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Stage"]
    if not stages:
        return wrong("the template has no Stage left: nothing would serve the API.")
    stage = stages[0].get("Properties", {})
    if stage.get("AutoDeploy") is True:
        return right("with AutoDeploy on the Stage, API Gateway deploys every change itself.")
    deployment = _ref(stage.get("DeploymentId"))
    if deployment in old["Resources"]:
        return wrong(
            f"the Stage still uses {deployment!r}, whose properties did not change: CloudFormation "
            "keeps that deployment, and the stage keeps serving the snapshot without your route. "
            "Give the deployment a new logical id (and the Stage's DeploymentId), or set "
            "AutoDeploy: true on the Stage."
        )
    if deployment not in resources or resources[deployment]["Type"] != (
        "AWS::ApiGatewayV2::Deployment"
    ):
        return wrong(f"the Stage's DeploymentId refers to {deployment!r}, which is no Deployment.")
    depends_on = resources[deployment].get("DependsOn", [])
    if route not in ([depends_on] if isinstance(depends_on, str) else depends_on):
        return wrong(
            f"{deployment} does not depend on {route}: CloudFormation may create the deployment "
            "first, and its snapshot would not have the route. Add it to DependsOn."
        )
    return right(
        f"{deployment} is a new resource, so CloudFormation creates it after {route} and "
        "points the stage at it: the new snapshot has the route."
    )


# ----------------------------------------------------------------------------- 02_connect


def judge_connect_url_and_item(
    url: str, item: Mapping[str, Any], websocket_url: str, dynamodb: Any, table_name: str
) -> Verdict:
    """02, exercise 1: a URL with the query string name=Lin&room=kitchen, and its item."""
    expected = {"name": ["Lin"], "room": ["kitchen"]}
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    if base != websocket_url:
        return wrong(f"the URL should start with the stack's WebSocketURL, {websocket_url}.")
    query = parse_qs(parts.query)
    if query != expected:
        return wrong(
            f"the query string of your URL reads {query}; it should be name=Lin&room=kitchen."
        )
    if not isinstance(item, Mapping) or "connectionid" not in item:
        return wrong("pass the item itself, as get_item returns it (a dict with 'connectionid').")
    if not isinstance(item["connectionid"], Mapping):
        return wrong("that item is deserialised; pass it as get_item returns it ({'S': ...}).")
    stored = {k: [v["S"]] for k, v in item.get("querystring", {}).get("M", {}).items()}
    if stored != expected:
        return wrong(f"this item's query string is {stored}: it is another connection's item.")
    connection_id = item["connectionid"]["S"]
    key = {"connectionid": {"S": connection_id}}
    if "Item" not in dynamodb.get_item(TableName=table_name, Key=key):
        return wrong(
            "no item has this id in the table any more: was the connection closed? "
            "($disconnect deleted its item.) Connect again, then read the item."
        )
    return right("$connect's template stored your query string as the map `querystring`.")


def judge_header_value(answer: Any, item: Mapping[str, Any]) -> Verdict:
    """02, exercise 2: the value of the X-Workshop-Client header, as a plain string."""
    truth = item["headers"]["M"]["X-Workshop-Client"]["S"]
    if isinstance(answer, Mapping) and answer.get("S") == truth:
        return wrong("that is DynamoDB's typed value ({'S': ...}): the string is under 'S'.")
    if answer != truth:
        return wrong(f"{answer!r} is not the header's value; look under item['headers']['M'].")
    return right(f"{truth!r}: headers are a map ('M') of strings ('S').")


# ---------------------------------------------------------------------------- 03_messages

NOT_JSON = object()  # what `_parsed` returns for text that is not JSON


def _parsed(message: Any) -> Any:
    """A message as the API reads it: text or bytes parsed as JSON (`NOT_JSON` if it is not)."""
    if isinstance(message, bytes):
        message = message.decode()
    if isinstance(message, str):
        try:
            return json.loads(message)
        except ValueError:
            return NOT_JSON
    return message


def judge_message_for_route(
    message: Any, selection_expression: str, route_key: str = "sendmessage"
) -> Verdict:
    """03, exercise 1: a message that the route selection expression sends to `route_key`."""
    prefix = "$request.body."
    if not selection_expression.startswith(prefix):
        return wrong(f"this checker reads only {prefix}... expressions.")
    message = _parsed(message)
    if message is NOT_JSON:
        return wrong("that is not JSON: the expression cannot be evaluated, so $default runs.")
    if not isinstance(message, Mapping):
        return wrong("send a JSON object: the expression reads one of its fields.")
    value: Any = message
    path = selection_expression[len(prefix) :]
    for field in path.split("."):
        if not isinstance(value, Mapping) or field not in value:
            return wrong(
                f"the message has no {path!r} field: the expression evaluates to nothing, "
                "so $default runs."
            )
        value = value[field]
    if value != route_key:
        return wrong(
            f"{path} is {value!r}: no route has that key, so $default runs "
            f"(route keys match exactly, case included)."
        )
    return right(f"{selection_expression} evaluates to {route_key!r}: that route runs.")


def judge_gone_ids(answer: Iterable[str], candidates: Iterable[str], connections: Any) -> Verdict:
    """03, exercise 2: which of `candidates` are gone, as @connections says."""
    if isinstance(answer, str):
        return wrong("give a list of ids, not one string.")
    truth = set()
    for connection_id in candidates:
        try:
            connections.get_connection(ConnectionId=connection_id)
        except ClientError as error:
            if error.response["Error"]["Code"] == "GoneException":
                truth.add(connection_id)
            else:
                raise
    reason = _compare_sets(
        answer,
        truth,
        "get_connection raises GoneException for these too",
        "these are still connected (get_connection answers)",
    )
    if reason:
        return wrong(reason + ".")
    return right(f"{len(truth)} gone: GoneException (HTTP 410) means gone for good.")


# -------------------------------------------------------------------- 04_disconnect_and_ttl


def judge_ttl_two_hours(ttl: Any, connected_at_ms: int) -> Verdict:
    """04, exercise 1: the `ttl` (epoch seconds) two hours after `connected_at_ms`."""
    truth = connected_at_ms // 1000 + 2 * 3600
    try:
        value = float(ttl)
    except (TypeError, ValueError):
        return wrong("give a number (epoch seconds), not a date or a string of text.")
    if abs(value - truth) <= 1:
        return right(f"{int(value)}: epoch seconds, as DynamoDB's TTL reads them.")
    if abs(value - (connected_at_ms + 2 * 3600 * 1000)) <= 1000:
        years = (value - connected_at_ms / 1000) / (365.25 * 24 * 3600)
        return wrong(
            "that is milliseconds. DynamoDB reads ttl as seconds, so this item would expire "
            f"about {years:,.0f} years from now: divide by 1000 first."
        )
    if abs(value - (connected_at_ms + 2 * 3600)) <= 1:
        return wrong("that adds seconds to milliseconds (the seed pattern's bug): /1000 first.")
    seconds_after = value - connected_at_ms / 1000
    return wrong(
        f"your ttl is {seconds_after:,.0f} s after the connection opened; two hours is 7,200 s."
    )


TTL_CHOICES = {
    "a": "DynamoDB rejects numbers with 13 digits in a TTL attribute.",
    "b": "TTL compares the attribute with the current time in epoch seconds, so a value in "
    "milliseconds is read as a date about 50,000 years ahead, and the item is never deleted.",
    "c": "Milliseconds are fine, but the TTL sweep rounds them to the next day.",
}


def judge_why_not_milliseconds(choice: Any) -> Verdict:
    """04, exercise 2: why a ttl in milliseconds is wrong (one of TTL_CHOICES)."""
    reasons = {
        "b": right("the item looks alive forever: no error warns you, which is why it is a trap."),
        "a": wrong("DynamoDB accepts any number there, without an error: that is the trap."),
        "c": wrong("nothing rounds it: the value is read as seconds, about 1000 times too far."),
    }
    return _judge_choice(choice, TTL_CHOICES, reasons)


# ----------------------------------------------------------------------------- 05_cleanup


def judge_leftover_tables(answer: Iterable[str], target: Target) -> Verdict:
    """05, exercise 1: every DynamoDB table still named after the stack (`<stack>-...`)."""
    if isinstance(answer, str):
        return wrong("give a list of table names, not one string.")
    pages = target.client("dynamodb").get_paginator("list_tables").paginate()
    tables = [name for page in pages for name in page["TableNames"]]
    truth = {name for name in tables if name.startswith(f"{target.stack_name}-")}
    reason = _compare_sets(
        answer,
        truth,
        "these tables named after the stack are still there",
        "these do not exist, or are not named after the stack",
    )
    if reason:
        return wrong(reason + ".")
    return right(f"{_names(truth)}: the stack's deletion did not remove what it did not create.")


def judge_retained_resources(answer: Iterable[str], template: Mapping[str, Any]) -> Verdict:
    """05, exercise 2: the resources of `template` that survive deleting the stack."""
    if isinstance(answer, str):
        return wrong("give a list (or set) of logical ids, not one string.")
    kept = {"Retain", "RetainExceptOnCreate"}
    truth = {name for name, r in template["Resources"].items() if r.get("DeletionPolicy") in kept}
    reason = _compare_sets(
        answer,
        truth,
        "these have DeletionPolicy Retain, so they stay",
        "these are deleted with the stack (no DeletionPolicy, or Delete)",
    )
    if reason:
        return wrong(reason + ".")
    return right(f"{_names(truth)} would stay, and keep costing, after delete_stack.")


# -------------------------------------------------------------------- 06_original_pattern


def judge_routes_the_deployment_misses(
    answer: Iterable[str], template: Mapping[str, Any]
) -> Verdict:
    """06, exercise 1: the routes of `template` its Deployment's `DependsOn` does not name."""
    if isinstance(answer, str):
        return wrong("give a list (or set) of logical ids, not one string.")
    truth = set(routes_the_deployment_misses(template))
    reason = _compare_sets(
        answer,
        truth,
        "these routes are not in the Deployment's DependsOn, so it may be created before them",
        "these are not routes (AWS::ApiGatewayV2::Route) the Deployment forgets",
    )
    if reason:
        return wrong(reason + ".")
    return right(
        f"{_names(truth)}: the deployment may snapshot the API before they exist, and then the "
        "stage has no such route."
    )


PATTERN_QUERY_VALUES = ["Ada", 'say "hi"', "red, green", "a=b", "back\\slash", "50% off"]


def judge_values_the_pattern_refuses(answer: Iterable[str], candidates: Iterable[str]) -> Verdict:
    """06, exercise 2: the query values (`?q=<value>`) whose connection the pattern refuses."""
    if isinstance(answer, str):
        return wrong("give a list of the values, not one string.")
    truth = {value for value in candidates if map_text_breaks_json(value)}
    answer = list(answer)
    missing = sorted(truth - set(answer))
    extra = sorted(set(answer) - truth)
    if missing:
        return wrong(
            f"{missing[0]!r} is refused too: pasted unescaped into the JSON string, it is no "
            'longer valid JSON (a " ends the string; a \\ starts an escape).'
        )
    if extra:
        return wrong(
            f"{extra[0]!r} is stored, not refused: Map.toString() text with it is still valid "
            "JSON. It just cannot be parsed back reliably."
        )
    return right(
        f"{', '.join(sorted(truth))}: DynamoDB refuses the PutItem body, so API Gateway refuses "
        "the connection, and nothing is stored."
    )


check_target_client = _checker(judge_target_client)
check_account_id = _checker(judge_account_id)
check_iam_resources = _checker(judge_iam_resources)
check_route_is_deployed = _checker(judge_route_is_deployed)
check_connect_url_and_item = _checker(judge_connect_url_and_item)
check_header_value = _checker(judge_header_value)
check_message_for_route = _checker(judge_message_for_route)
check_gone_ids = _checker(judge_gone_ids)
check_ttl_two_hours = _checker(judge_ttl_two_hours)
check_why_not_milliseconds = _checker(judge_why_not_milliseconds)
check_leftover_tables = _checker(judge_leftover_tables)
check_retained_resources = _checker(judge_retained_resources)
check_routes_the_deployment_misses = _checker(judge_routes_the_deployment_misses)
check_values_the_pattern_refuses = _checker(judge_values_the_pattern_refuses)


# ------------------------------------------------------------- 09_observe_and_troubleshoot


def _routes_with_status(access_lines: Iterable[str], first_digit: str) -> set[str]:
    """Route keys of the access log lines whose status starts with `first_digit` (the
    lesson's Format: requestId eventType routeKey status …)."""
    routes = set()
    for line in access_lines:
        fields = line.split(" ")
        if len(fields) >= 4 and fields[3].startswith(first_digit):
            routes.add(fields[2])
    return routes


def judge_failed_routes(answer: Iterable[str], access_lines: Iterable[str]) -> Verdict:
    """09, exercise 1: the routes with a 5XX status in the access log lines."""
    if isinstance(answer, str):
        return wrong("give a set (or list) of route keys, not one string.")
    lines = list(access_lines)
    truth = _routes_with_status(lines, "5")
    answer = set(answer)
    client_side = _routes_with_status(lines, "4") - truth
    if answer & client_side and not answer - client_side - truth:
        return wrong(
            f"{_names(answer & client_side)} got a 4XX: the request was refused by API Gateway "
            "(a client error), not failed by the integration. Keep the 5XX ones only."
        )
    reason = _compare_sets(
        answer,
        truth,
        "these routes have a 5XX status in the access log",
        "these have no 5XX line",
    )
    if reason:
        return wrong(reason + ".")
    return right(
        f"{_names(truth)}: a 5XX in the access log is the integration's failure (its function "
        "raised, or was too slow); look at the function's log next."
    )


LONG_WORK_CHOICES = {
    "a": "Raise the route's integration TimeoutInMillis to 120000.",
    "b": "Answer at once (or not at all), run the work in the background (an asynchronous "
    "Lambda invocation, a queue), and post the result to the connection through @connections.",
    "c": "Raise the Lambda function's Timeout to 15 minutes: API Gateway waits for it.",
}


def judge_long_work(choice: Any) -> Verdict:
    """09, exercise 2: what to do when a message's work takes two minutes."""
    reasons = {
        "b": right(
            "the client gets its acknowledgement within the timeout, and the result when it "
            "is ready, on the same connection."
        ),
        "a": wrong("TimeoutInMillis is at most 29,000 ms: CloudFormation refuses 120000."),
        "c": wrong(
            "the function would run on, but API Gateway still stops waiting at the "
            "integration timeout (29 s at most) and sends `Endpoint request timed out`."
        ),
    }
    return _judge_choice(choice, LONG_WORK_CHOICES, reasons)


check_failed_routes = _checker(judge_failed_routes)
check_long_work = _checker(judge_long_work)


# -------------------------------------------------------------------- 08_scale_limits_cost


def judge_billed_messages(answer: Any, size_kb: int = 70) -> Verdict:
    """08, exercise 1: how many messages one message of `size_kb` KB is billed as."""
    from tutorial_helpers.pricing import billed_messages

    truth = billed_messages(size_kb * 1024)
    if isinstance(answer, bool) or not isinstance(answer, int | float):
        return wrong("give a number: how many billed messages.")
    if answer == truth:
        return right(f"{truth}: each started 32 KB counts as one message ({size_kb} KB / 32 KB).")
    if answer == size_kb // 32:
        return wrong("that rounds down; a started 32 KB increment is billed in full.")
    if answer != int(answer):
        return wrong("billed messages are whole: every started 32 KB counts as one.")
    if answer == 1:
        return wrong("messages are metered in 32 KB increments, so a big one counts several times.")
    return wrong(f"{size_kb} KB is {size_kb / 32:.2f} times 32 KB; count the started increments.")


FIX_1009_CHOICES = {
    "a": "Reconnect and send the same message again: 1009 is a passing network error.",
    "b": "Raise the stage's message size limit in the template (a Stage property).",
    "c": "Keep each message under 128 KB (in frames of at most 32 KB): send a large payload in "
    "several messages, or store it (for example in S3) and send its key.",
    "d": "Send the same data as a binary frame instead of a text frame.",
}


def judge_fix_for_1009(choice: Any) -> Verdict:
    """08, exercise 2: the fix for a client closed with 1009 (one of FIX_1009_CHOICES)."""
    reasons = {
        "c": right("the 32 KB frame and 128 KB message quotas are fixed: send less per message."),
        "a": wrong("the same message is just as big the next time: it closes with 1009 again."),
        "b": wrong(
            "no setting changes these quotas: 32 KB a frame and 128 KB a message are fixed."
        ),
        "d": wrong("API Gateway closes a binary frame with 1003, and its size would be the same."),
    }
    return _judge_choice(choice, FIX_1009_CHOICES, reasons)


check_billed_messages = _checker(judge_billed_messages)
check_fix_for_1009 = _checker(judge_fix_for_1009)


# ---------------------------------------------------------------------------- 07_chat_room


def judge_join_message(message: Any, room: str = "kitchen", name: str = "erin") -> Verdict:
    """07, exercise 1: the message (a dict or its JSON text) that joins `room` as `name`."""
    message = _parsed(message)
    if message is NOT_JSON:
        return wrong("that is not JSON: no route can be selected (and there is no $default).")
    if not isinstance(message, Mapping):
        return wrong("send a JSON object (a dict): the API reads its `action` field.")
    if message.get("action") != "join":
        return wrong(
            f"action is {message.get('action')!r}: the route key is 'join' (exact, case "
            "included); an unmatched action gets a 'Forbidden' message, as there is no $default."
        )
    for field, truth in (("room", room), ("name", name)):
        if message.get(field) != truth:
            return wrong(f"{field} is {message.get(field)!r}; the exercise asks for {truth!r}.")
    return right(f"the join route stores you as {name!r} in {room!r} and tells the room.")


def room_member_ids(dynamodb: Any, table_name: str, room: str) -> set[str]:
    """The connection ids of `room`'s members, from a Query on the table's ByRoom index."""
    found: set[str] = set()
    paginator = dynamodb.get_paginator("query")
    for page in paginator.paginate(
        TableName=table_name,
        IndexName="ByRoom",
        KeyConditionExpression="room = :room",
        ExpressionAttributeValues={":room": {"S": room}},
    ):
        found.update(item["connectionid"]["S"] for item in page["Items"])
    return found


def judge_room_members(
    answer: Iterable[str], dynamodb: Any, table_name: str, room: str = "lobby"
) -> Verdict:
    """07, exercise 2: the connection ids of the members of `room`, as the index says."""
    if isinstance(answer, str):
        return wrong("give a list of connection ids, not one string.")
    answer = list(answer)
    if answer and not all(isinstance(value, str) for value in answer):
        return wrong("give the ids as strings (item['connectionid']['S'] in a low-level item).")
    reason = _compare_sets(
        answer,
        room_member_ids(dynamodb, table_name, room),
        f"these are members of {room!r} too (query the ByRoom index with room = {room!r})",
        f"these are not in {room!r} (a Scan reads every room: query the ByRoom index)",
    )
    if reason:
        return wrong(reason + ".")
    return right(f"{len(answer)} members: the ids a broadcast to {room!r} posts to.")


check_join_message = _checker(judge_join_message)
check_room_members = _checker(judge_room_members)
