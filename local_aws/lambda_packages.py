"""Deployment packages: refused as AWS refuses them, before anything is unzipped.

AWS refuses a package over 250 MB unzipped, and local_aws also refuses entries whose path
would leave the package directory (a zip bomb or a path traversal costs nothing until it is
extracted). moto's CreateFunction / UpdateFunctionCode are wrapped with
`refusing_bad_packages` (see local_aws.patches.moto); the runtime unzips with `unzip`.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any

UNZIPPED_LIMIT_BYTES = 262_144_000  # AWS: 250 MB unzipped, package and layers


def check_package(code_zip: bytes) -> None:
    """Refuse a package AWS would refuse, from its central directory, before unzipping it.

    Raises ValueError with AWS's message for more than 250 MB unzipped (a zip bomb is
    small until it is extracted), and for entries whose path would leave the package.
    """
    with zipfile.ZipFile(io.BytesIO(code_zip)) as archive:
        entries = archive.infolist()
    if sum(entry.file_size for entry in entries) > UNZIPPED_LIMIT_BYTES:
        raise ValueError(f"Unzipped size must be smaller than {UNZIPPED_LIMIT_BYTES} bytes")
    for entry in entries:
        name = entry.filename.replace("\\", "/")
        if name.startswith("/") or ".." in name.split("/") or ":" in name.split("/")[0]:
            raise ValueError(f"Could not unzip the deployment package: bad path {name!r}")


def unzip(code_zip: bytes, target: str) -> str:
    check_package(code_zip)
    # zipfile stops each entry at its declared size, so the check above bounds the disk used.
    with zipfile.ZipFile(io.BytesIO(code_zip)) as archive:
        archive.extractall(target)
    return target


def refusing_bad_packages(
    read: Callable[..., tuple[bytes, int, str, str]],
) -> Callable[..., tuple[bytes, int, str, str]]:
    """moto's reader of a deployment package, refusing what AWS refuses (check_package).

    moto's CreateFunction / UpdateFunctionCode (and CloudFormation's AWS::Lambda::Function)
    read the package through `_zipfile_content` or `_s3_content`; `local_aws.patches.moto`
    puts this wrapper around both, so a refused package answers InvalidParameterValueException.
    """
    from moto.awslambda.exceptions import InvalidParameterValueException

    def read_and_check(*args: Any, **kwargs: Any) -> tuple[bytes, int, str, str]:
        content = read(*args, **kwargs)
        try:
            check_package(content[0])
        except zipfile.BadZipFile:
            pass  # moto's own answer for a package that is not a zip stays as it is
        except ValueError as refused:
            raise InvalidParameterValueException(str(refused)) from None
        return content

    return read_and_check
