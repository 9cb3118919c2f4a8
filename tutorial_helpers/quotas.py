"""WebSocket quotas as a client meets them: frame and message sizes, close codes, timeouts.

| quota on AWS | what the client sees |
|---|---|
| a frame over 32 KB, a message over 128 KB | close 1009 "Message too big", then `$disconnect` |
| 10 minutes without a message (the idle timeout) | close 1001 "Going away", then `$disconnect` |
| 2 hours connected | the connection is closed, then `$disconnect` |
| a stage's throttling (`ThrottlingBurstLimit`/`ThrottlingRateLimit`) | "Too Many Requests" |

`start_local_aws_with` runs a second local_aws with other quotas (a 2 s idle timeout) on a
free port, so a lesson can show a timeout without waiting ten minutes.
"""

from __future__ import annotations

import dataclasses
import io
import re
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import websocket

from tutorial_helpers.errors import WorkshopError
from tutorial_helpers.local_server import REPOSITORY, stop_process
from tutorial_helpers.stack import delete_stack, deploy_stack
from tutorial_helpers.target import Target
from tutorial_helpers.template import find_template

KB = 1024
FRAME_LIMIT_BYTES = 32 * KB
MESSAGE_LIMIT_BYTES = 128 * KB
CLOSED_WITHOUT_FRAME = 1006  # RFC 6455: the connection ended without a close frame
THROTTLED_TEMPLATE = find_template(
    REPOSITORY / "cfn" / "throttled.yaml",
    Path(__file__).resolve().parent / "cfn" / "throttled.yaml",
)
_READY = re.compile(r"local_aws ready on (http://127\.0\.0\.1:\d+)")


def send_in_frames(ws: websocket.WebSocket, text: str, frame_bytes: int = FRAME_LIMIT_BYTES) -> int:
    """Send `text` as ONE message split into frames of at most `frame_bytes`; return how many.

    This is how a client sends a message larger than one frame may be (WebSocket
    fragmentation: a text frame, then continuation frames, the last one marked final).
    """
    data = text.encode("utf-8")
    chunks = [data[start : start + frame_bytes] for start in range(0, len(data), frame_bytes)]
    for index, chunk in enumerate(chunks):
        opcode = websocket.ABNF.OPCODE_TEXT if index == 0 else websocket.ABNF.OPCODE_CONT
        ws.send_frame(websocket.ABNF.create_frame(chunk, opcode, fin=int(index == len(chunks) - 1)))
    return len(chunks)


def close_status(ws: websocket.WebSocket, timeout: float = 5.0) -> tuple[int | None, str]:
    """Wait for the server to close `ws`; return its close code and reason.

    Messages that arrive first are skipped. `(1006, "")` if the socket ended without a close
    frame; `(None, "")` if it is still open after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        ws.settimeout(left)
        try:
            frame = ws.recv_frame()
        except (TimeoutError, websocket.WebSocketTimeoutException):
            break
        except (websocket.WebSocketConnectionClosedException, ConnectionError):
            return CLOSED_WITHOUT_FRAME, ""
        if frame.opcode == websocket.ABNF.OPCODE_CLOSE:
            if len(frame.data) < 2:
                return 1005, ""  # a close frame without a status code
            code = struct.unpack("!H", frame.data[:2])[0]
            return code, frame.data[2:].decode("utf-8", errors="replace")
    return None, ""


@dataclasses.dataclass
class ExtraLocalAws:
    """A local_aws of its own, started by `start_local_aws_with`; `stop()` ends it."""

    target: Target
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> str:
        """Stop this local_aws (and only it); say what happened."""
        code = stop_process(self.process)
        self.log_path.unlink(missing_ok=True)
        return f"Stopped the extra local_aws on {self.target.endpoint_url} (exit code {code})."


def start_local_aws_with(*options: str, timeout: float = 60.0) -> ExtraLocalAws:
    """Start `python -m local_aws --port 0 OPTIONS...` on a free port and wait until it is ready.

    For a demonstration with other quotas, e.g. `start_local_aws_with("--idle-timeout", "2")`.
    Its target has the same stack name as the workshop's (it is another, empty, local_aws).
    Raises `WorkshopError` with the end of its log if it does not start.
    """
    handle, name = tempfile.mkstemp(prefix="local_aws-extra-", suffix=".log")
    log_path = Path(name)
    command = [sys.executable, "-m", "local_aws", "--port", "0", *options]
    with open(handle, "wb") as log:
        process = subprocess.Popen(command, cwd=REPOSITORY, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = _READY.search(log_path.read_text(errors="replace"))
        if ready:
            target = Target("local", "us-east-1", "ws-workshop", ready.group(1))
            return ExtraLocalAws(target, process, log_path)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    stop_process(process)
    tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-5:])
    log_path.unlink(missing_ok=True)
    raise WorkshopError(f"The extra local_aws ({' '.join(options)}) did not start:\n{tail}")


def throttled_target(target: Target) -> Target:
    """The same target, naming the throttled demonstration stack: `<stack>-throttled`."""
    return dataclasses.replace(target, stack_name=f"{target.stack_name}-throttled")


def deploy_throttled_stack(target: Target) -> dict[str, str]:
    """Deploy cfn/throttled.yaml as `<stack>-throttled` (quietly when local); its outputs."""
    throttled = throttled_target(target)
    quiet = io.StringIO() if target.is_local else None
    outputs = deploy_stack(throttled, template_path=THROTTLED_TEMPLATE, out=quiet)
    print(f"Stack {throttled.stack_name} is deployed.")
    return outputs


def delete_throttled_stack(target: Target) -> str:
    """Delete the `<stack>-throttled` stack (quietly when local); its final status."""
    throttled = throttled_target(target)
    quiet = io.StringIO() if target.is_local else None
    status = delete_stack(throttled, out=quiet)
    print(f"Stack {throttled.stack_name}: {status}")
    return status
