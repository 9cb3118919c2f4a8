"""Curated behavioural mutants of the gateway and the `@connections` API: a regression net.

    python -m tests.mutants.behavioural [NAME ...] [--list]

Each mutant is one exact text replacement in one file: a wrong close code, a missing header, a
skipped check. In a temporary copy of the repository (this checkout is never changed), each is
applied in turn and the tests named for it run against the copy; they must fail (the mutant is
killed). The original text must occur exactly once, so a refactor that removes or duplicates
it fails loudly here: update the mutant with the code. The named tests must pass on the
unmutated copy first.

Exit status: 0 when every mutant is killed, 1 when one survives, 2 when the list is out of date
(an original text not found) or the tests fail without a mutant.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.mutants.repository import copy_repository


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    original: str
    replacement: str
    tests: tuple[str, ...]
    breaks: str  # the behaviour the mutant takes away


GATEWAY_TESTS = "tests/unit/test_gateway.py"
MANAGEMENT_TESTS = "tests/unit/test_management_api.py"
QUOTAS = "tests/fidelity/test_quotas.py"
CONNECTIONS_API = "tests/fidelity/test_connections_api.py"

MUTANTS = [
    # ----------------------------------------------------------------- close codes
    Mutant(
        "frame-over-32kb-not-closed-1009",
        "local_aws/server.py",
        "ws_max_size=(settings.message_limit_bytes, settings.frame_limit_bytes)",
        "ws_max_size=(settings.message_limit_bytes, settings.message_limit_bytes)",
        (f"{QUOTAS}::test_frame_over_32_kb_closes_with_1009",),
        "a frame over 32 KB closes the connection with 1009",
    ),
    Mutant(
        "message-over-128kb-not-closed-1009",
        "local_aws/server.py",
        "ws_max_size=(settings.message_limit_bytes, settings.frame_limit_bytes)",
        "ws_max_size=(2 * settings.message_limit_bytes, settings.frame_limit_bytes)",
        (f"{QUOTAS}::test_message_over_128_kb_in_32_kb_fragments_closes_with_1009",),
        "a message over 128 KB in 32 KB fragments closes the connection with 1009",
    ),
    Mutant(
        "binary-frame-1003-to-1008",
        "local_aws/gateway.py",
        "UNSUPPORTED_DATA = 1003",
        "UNSUPPORTED_DATA = 1008",
        (f"{GATEWAY_TESTS}::test_a_binary_frame_closes_with_1003",),
        "a binary frame closes with 1003",
    ),
    Mutant(
        "going-away-1001-to-1000",
        "local_aws/gateway.py",
        "GOING_AWAY = 1001",
        "GOING_AWAY = 1000",
        (f"{GATEWAY_TESTS}::test_an_idle_connection_closes_with_1001_going_away",),
        "an idle connection closes with 1001",
    ),
    Mutant(
        "no-maximum-connection-duration",
        "local_aws/gateway.py",
        "asyncio.timeout(min(limits.idle_timeout_seconds, remaining))",
        "asyncio.timeout(limits.idle_timeout_seconds)",
        (f"{GATEWAY_TESTS}::test_a_connection_ends_at_its_maximum_duration_even_when_busy",),
        "a busy connection still ends at its maximum duration",
    ),
    Mutant(
        "delete-closes-1000-to-1001",
        "local_aws/management_api.py",
        "DELETED_BY_BACKEND = 1000",
        "DELETED_BY_BACKEND = 1001",
        (f"{MANAGEMENT_TESTS}::test_delete_closes_the_connection_with_1000",),
        "DELETE @connections closes with 1000",
    ),
    Mutant(
        "backend-close-code-not-reported",
        "local_aws/gateway.py",
        'code, reason = closing["code"], closing["reason"]',
        "pass",
        (f"{GATEWAY_TESTS}::test_a_close_from_the_backend_is_what_disconnect_reports",),
        "$disconnect reports the code of a close from DELETE or a deleted stage",
    ),
    # ----------------------------------------------------------------- $disconnect and $connect
    Mutant(
        "disconnect-reason-always-empty",
        "local_aws/gateway.py",
        'disconnect_reason=reason or "",',
        'disconnect_reason="",',
        (f"{GATEWAY_TESTS}::test_disconnect_gets_the_clients_close_code_and_reason",),
        "$disconnect carries the client's close reason",
    ),
    Mutant(
        "disconnect-reason-not-in-the-event",
        "local_aws/events.py",
        'context["disconnectReason"] = request.disconnect_reason',
        'context["disconnectReason"] = ""',
        ("tests/unit/test_events.py",),
        "the $disconnect event's requestContext.disconnectReason",
    ),
    Mutant(
        "connect-failure-status-ignored",
        "local_aws/gateway.py",
        "return self._settings.connect_failure_status",
        "return outcome.status",
        (f"{GATEWAY_TESTS}::test_a_failed_service_connect_refuses_with_the_configured_status",),
        "a failed $connect service integration refuses with the configured status",
    ),
    # ----------------------------------------------------------------- headers
    Mutant(
        "no-x-forwarded-for",
        "local_aws/gateway.py",
        '"X-Forwarded-For": source_ip,\n',
        "",
        (f"{GATEWAY_TESTS}::test_connect_sees_the_handshake_as_api_gateway_passes_it_on",),
        "$connect sees X-Forwarded-For, as API Gateway adds it",
    ),
    Mutant(
        "hop-by-hop-headers-passed-on",
        "local_aws/gateway.py",
        '_DROPPED_HEADERS = {"connection", "upgrade"}',
        "_DROPPED_HEADERS: set[str] = set()",
        (f"{GATEWAY_TESTS}::test_connect_sees_the_handshake_as_api_gateway_passes_it_on",),
        "Connection and Upgrade are not passed on to integrations",
    ),
    Mutant(
        "gone-without-x-amzn-errortype",
        "local_aws/management_api.py",
        'extra=[(b"x-amzn-errortype", b"GoneException")]',
        "extra=[]",
        (f"{MANAGEMENT_TESTS}::test_an_unknown_connection_is_gone",),
        "a 410 carries x-amzn-ErrorType: GoneException (boto3 raises GoneException)",
    ),
    Mutant(
        "errors-without-x-amzn-errortype",
        "local_aws/management_api.py",
        '"application/json", [(b"x-amzn-errortype", error_type.encode())]',
        '"application/json", []',
        (f"{CONNECTIONS_API}::test_wrong_keys_are_refused",),
        "every other error carries its x-amzn-ErrorType (boto3's error code)",
    ),
    # ----------------------------------------------------------------- status codes
    Mutant(
        "gone-410-to-404",
        "local_aws/management_api.py",
        'await _respond(send, 410, b""',
        'await _respond(send, 404, b""',
        (f"{CONNECTIONS_API}::test_gone_is_410_with_the_error_type_header_and_an_empty_body",),
        "an unknown or closed connection is 410",
    ),
    Mutant(
        "badly-formed-id-not-400",
        "local_aws/management_api.py",
        "if _WELL_FORMED_ID.fullmatch(connection_id) is None:",
        "if False:",
        ("tests/fidelity/test_bad_inputs.py",),
        "an id not of AWS's shape is 400 BadRequestException, not 410",
    ),
    Mutant(
        "post-over-the-limit-not-413",
        "local_aws/management_api.py",
        "if size > limit:",
        "if size > 2 * limit:",
        (f"{QUOTAS}::test_post_to_connection_over_128_kb_is_413",),
        "a post over 128 KB is 413 PayloadTooLargeException",
    ),
    # ----------------------------------------------------------------- skipped checks
    Mutant(
        "sigv4-check-skipped",
        "local_aws/management_api.py",
        "refusal = sigv4.check(method, raw_path, query, headers, data, region=region)",
        "refusal = None",
        (f"{CONNECTIONS_API}::test_unsigned_request_is_refused",),
        "@connections requires a valid SigV4 signature",
    ),
    Mutant(
        "sigv4-any-region",
        "local_aws/management_api.py",
        "headers, data, region=region)",
        "headers, data, region=None)",
        (f"{CONNECTIONS_API}::test_a_request_signed_for_another_region_is_refused",),
        "a request signed for another region is refused",
    ),
]


def pytest(repo: Path, tests: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", "-o", "addopts=", "-q", "-x"]
    command += ["-p", "no:cacheprovider"]
    env = {**os.environ, "PYTHONPATH": str(repo), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [*command, *tests], cwd=repo, env=env, capture_output=True, text=True, timeout=600
    )


def last_lines(result: subprocess.CompletedProcess[str], count: int = 15) -> str:
    return "\n".join((result.stdout + result.stderr).strip().splitlines()[-count:])


def check_applicable(repo: Path, mutants: list[Mutant]) -> list[str]:
    problems = []
    for mutant in mutants:
        path = repo / mutant.path
        found = path.read_text().count(mutant.original) if path.exists() else 0
        if found != 1:
            problems.append(f"{mutant.name}: {mutant.original!r} is in {mutant.path} {found} times")
        for test in mutant.tests:
            if not (repo / test.split("::")[0]).exists():
                problems.append(f"{mutant.name}: no test file {test.split('::')[0]}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help="only these mutants")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    args = parser.parse_args(argv)
    by_name = {mutant.name: mutant for mutant in MUTANTS}
    unknown = [name for name in args.names if name not in by_name]
    if unknown:
        parser.error(f"no such mutant: {', '.join(unknown)}")
    mutants = [by_name[name] for name in args.names] if args.names else MUTANTS
    if args.list:
        for mutant in mutants:
            print(f"{mutant.name}: {mutant.path}: breaks that {mutant.breaks}")
        return 0

    with tempfile.TemporaryDirectory(prefix="mutants-") as tmp:
        repo = copy_repository(Path(tmp))
        problems = check_applicable(repo, mutants)
        if problems:
            print("The curated mutants no longer match the code:", *problems, sep="\n  ")
            return 2
        for tests in dict.fromkeys(mutant.tests for mutant in mutants):
            baseline = pytest(repo, tests)
            if baseline.returncode != 0:
                print(f"The tests fail without a mutant: {' '.join(tests)}\n{last_lines(baseline)}")
                return 2

        survivors = []
        for mutant in mutants:
            path = repo / mutant.path
            original = path.read_text()
            path.write_text(original.replace(mutant.original, mutant.replacement))
            started = time.monotonic()
            try:
                result = pytest(repo, mutant.tests)
            finally:
                path.write_text(original)
            seconds = time.monotonic() - started
            if result.returncode == 1:  # a test failed: killed
                verdict = "killed"
            elif result.returncode == 0:
                verdict = "SURVIVED"
                survivors.append(mutant)
            else:  # an error that is no test failure (collection, usage): not a kill
                verdict = f"ERROR (pytest exit {result.returncode})"
                survivors.append(mutant)
                print(last_lines(result))
            print(f"{verdict:>8}  {mutant.name} ({mutant.path}, {seconds:.0f} s)", flush=True)

    print(f"\n{len(mutants) - len(survivors)} killed, {len(survivors)} survived")
    for mutant in survivors:
        print(f"  {mutant.name}: no test noticed that {mutant.breaks} ({' '.join(mutant.tests)})")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
