"""`python -m benchmarks.worker_cold_start [--rounds 20]`: a Lambda worker's cold start.

The time from invoke to result for a function no worker runs yet (each round a new one, so
each starts a process and imports its code), with and without the AWS host names redirect
of the workers' environment (docs/aws-host-names.md): a bare Python handler, one that
creates a boto3 client at init, and a bare Node.js handler. Medians and minimums; nothing
is asserted. No server is needed: the endpoints are never called.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import statistics
import time
import zipfile

from local_aws.lambda_runtime import LambdaRuntime
from local_aws.lambda_worker_process import FunctionConfig
from local_aws.local_tls import LocalTls

HANDLERS = {
    "python": ("python3.12", "index.py", "def handler(event, context):\n    return 1\n"),
    "python+boto3": (
        "python3.12",
        "index.py",
        "import boto3\n\nclient = boto3.client('dynamodb')\n\n"
        "def handler(event, context):\n    return 1\n",
    ),
    "node": ("nodejs22.x", "index.js", "exports.handler = async () => 1;\n"),
}
ENVIRONMENT = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # never called
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


def new_function(kind: str, number: int) -> FunctionConfig:
    """A function of `kind` whose code no earlier round ran (a comment makes it new)."""
    runtime, filename, code = HANDLERS[kind]
    comment = "#" if filename.endswith(".py") else "//"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(filename, f"{code}{comment} {number}\n")
    package = buffer.getvalue()
    name = f"cold-{kind.replace('+', '-')}-{number}"
    return FunctionConfig(
        name=name,
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        handler="index.handler",
        runtime=runtime,
        code_zip=package,
        code_sha256=hashlib.sha256(package).hexdigest(),
        environment={},
        timeout_seconds=30.0,
        memory_mb=512,
    )


async def cold_starts(
    environment: dict[str, str], kind: str, rounds: int, first: int
) -> list[float]:
    """Milliseconds from invoke to result, one new function per round."""
    runtime = LambdaRuntime(environment)
    times = []
    try:
        for number in range(first, first + rounds):
            started = time.perf_counter()
            result = await runtime.invoke(new_function(kind, number), {})
            times.append((time.perf_counter() - started) * 1000)
            if result.error is not None:
                raise RuntimeError(f"{kind}: {result.error}")
    finally:
        await runtime.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    rounds = parser.parse_args().rounds
    tls = LocalTls()
    redirected = {
        **ENVIRONMENT,
        "LOCAL_AWS_HTTP_PORT": "9",
        "LOCAL_AWS_HTTPS_PORT": "10",
        **tls.worker_environment(),
    }
    try:
        for kind in HANDLERS:
            # Alternating halves, so that a busy moment of the machine hits both alike.
            plain: list[float] = []
            redirect: list[float] = []
            for half in range(2):
                first = half * rounds
                plain += asyncio.run(cold_starts(ENVIRONMENT, kind, rounds // 2, first))
                redirect += asyncio.run(cold_starts(redirected, kind, rounds // 2, first + rounds))
            for label, times in (("without", plain), ("with", redirect)):
                print(
                    f"{kind:13} {label:7} redirect: median {statistics.median(times):6.1f} ms, "
                    f"min {min(times):6.1f} ms ({len(times)} cold starts)"
                )
    finally:
        tls.close()


if __name__ == "__main__":
    main()
