"""The tests' one support layer: run local_aws, deploy stacks, wait, talk WebSocket.

    from tests.support import LocalAwsProcess, deploy, wait_for

    with LocalAwsProcess("--idle-timeout", "1") as server:   # or server.stop() yourself
        server.endpoint_url, server.port, server.ready_line   # from local_aws's ready line
        server.client("dynamodb")                             # boto3, dummy keys
        outputs = deploy(server, "my-stack")                  # cfn/template.yaml by default
        wait_for(lambda: ..., timeout=10, message="what did not happen")
        server.log()                                          # its output so far

- `LocalAwsProcess(*args, env=None, log_path=None, ready_timeout=60)` starts
  `python -m local_aws --port 0` with these extra arguments, output drained to a file, and
  returns once it printed its ready line, which names the port (or raises with the log).
  `stop()` returns the exit code.
- `deploy(server, name, template=TEMPLATE, **parameters)`: a Path or a body; the outputs.
- `wait_for(predicate, timeout=10.0, message=...)` returns the first truthy value or fails.
- `free_port()` only for code that must name a port before anything listens on it.
- `tests.support.clients`: `connect`, `ask`, `whoami`, `handshake_status`, `server_close`, …
"""

from tests.support.launcher import ROOT, LocalAwsProcess, free_port
from tests.support.stacks import TEMPLATE, deploy
from tests.support.waiting import wait_for

__all__ = ["ROOT", "TEMPLATE", "LocalAwsProcess", "deploy", "free_port", "wait_for"]
