"""Re-execute the notebooks against a fresh local_aws and store their outputs in place.

    .venv/bin/python -m tests.notebooks.regenerate_outputs [notebooks/01_deploy.ipynb ...]

Run it after changing a notebook or what it shows; `pytest` then compares every new run with
these outputs. The notebooks run in order (00 → 06) in one local_aws, as the test run does;
with no argument, all of them. (Each one also gives the same compared output on its own.)
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tests.notebooks.plugin import LOCAL_AWS_ARGS, REMOVED, notebook_environment, warm_matplotlib
from tests.support import LocalAwsProcess

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def normalise(notebook: nbformat.NotebookNode) -> None:
    """Keep only what a reader needs: kernel `python3`, no timings or run-specific metadata."""
    notebook.metadata = nbformat.NotebookNode(
        kernelspec=KERNELSPEC, language_info={"name": "python", "pygments_lexer": "ipython3"}
    )
    for cell in notebook.cells:
        for key in ("execution", "papermill", "collapsed", "scrolled"):
            cell.metadata.pop(key, None)
        if "outputs" in cell:
            cell.outputs = _as_displayed(cell.outputs)
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                # The frames name files on this machine; the last line says what happened.
                output.traceback = output.traceback[-1:]


def _as_displayed(outputs: list[nbformat.NotebookNode]) -> list[nbformat.NotebookNode]:
    """Consecutive writes to one stream as one output, each line as a terminal shows it.

    A progress bar redraws itself with `\r` between the lines it prints: hundreds of stream
    outputs in the file for what a reader sees as a few lines. (nbval coalesces streams and
    drops overwritten text the same way before it compares, so this changes no comparison.)
    """
    merged: list[nbformat.NotebookNode] = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (
            output.output_type == "stream"
            and previous is not None
            and previous.output_type == "stream"
            and previous.name == output.name
        ):
            previous.text += output.text
        else:
            merged.append(output)
    for output in merged:
        if output.output_type == "stream":
            lines = output.text.split("\n")
            output.text = "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in lines)
    return merged


def execute(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        skip_cells_with_tag="skip-execution",
    )
    client.execute()
    normalise(notebook)
    nbformat.write(notebook, path)


def main(arguments: list[str]) -> int:
    paths = [Path(argument).resolve() for argument in arguments] or sorted(
        NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")
    )
    warm_matplotlib()
    with tempfile.TemporaryDirectory() as log_directory:
        server = LocalAwsProcess(*LOCAL_AWS_ARGS, log_path=Path(log_directory) / "local_aws.log")
        os.environ.update(notebook_environment(server.port))
        for name in REMOVED:
            os.environ.pop(name, None)
        try:
            for path in sorted(paths):
                print(f"executing {path.relative_to(ROOT)}", flush=True)
                execute(path)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
