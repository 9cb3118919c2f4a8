"""Reading a template from the S3 object a `TemplateURL` names.

CloudFormation takes a template from S3 as an https URL: path-style
(`https://s3.<region>.amazonaws.com/<bucket>/<key>`) or virtual-hosted
(`https://<bucket>.s3.<region>.amazonaws.com/<key>`). A tool pointed at local_aws
(`sam deploy`, `aws cloudformation deploy --s3-bucket`) builds the URL from its endpoint
instead: `http://127.0.0.1:<port>/<bucket>/<key>`, which is path-style on a loopback host.
moto read that host's first label, "127", as the bucket name; here a loopback host is read
path-style, and a URL that names no S3 object gets AWS's ValidationError, not a traceback.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import unquote, urlsplit

from moto.cloudformation.exceptions import ValidationError
from moto.s3.exceptions import S3ClientError
from moto.s3.models import s3_backends

UNSUPPORTED = "TemplateURL must be a supported URL."
UNREADABLE = "TemplateURL must reference a valid S3 object to which you have access."
MAX_URL_CHARS = 1024  # AWS's limit on the TemplateURL parameter

# s3.amazonaws.com, s3.<region>.amazonaws.com, s3-<region>.amazonaws.com (older form).
_PATH_STYLE = re.compile(r"s3([.-][a-z0-9-]+)?\.amazonaws\.com(\.cn)?")
# <bucket>.s3.amazonaws.com, <bucket>.s3.<region>.amazonaws.com, <bucket>.s3-<region>....
_VIRTUAL_HOSTED = re.compile(
    r"(?P<bucket>[a-z0-9][a-z0-9.-]*)\.s3([.-][a-z0-9-]+)?\.amazonaws\.com(\.cn)?"
)


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bucket_and_key(template_url: str) -> tuple[str, str]:
    """The S3 bucket and key a TemplateURL names, or AWS's ValidationError."""
    if not isinstance(template_url, str) or len(template_url) > MAX_URL_CHARS:
        raise ValidationError(message=UNSUPPORTED)
    try:
        parts = urlsplit(template_url)
        host = (parts.hostname or "").lower()
    except ValueError:
        raise ValidationError(message=UNSUPPORTED) from None
    path = unquote(parts.path).lstrip("/")
    if parts.scheme == "https" and (hosted := _VIRTUAL_HOSTED.fullmatch(host)):
        bucket, key = hosted["bucket"], path
    elif (parts.scheme == "https" and _PATH_STYLE.fullmatch(host)) or (
        parts.scheme in ("http", "https") and _is_loopback(host)
    ):
        bucket, _, key = path.partition("/")
    else:
        raise ValidationError(message=UNSUPPORTED)
    if not bucket or not key:
        raise ValidationError(message=UNSUPPORTED)
    return bucket, key


def read_template(template_url: str, account_id: str, partition: str) -> str:
    """The template text at `template_url`, read from local_aws's S3 (moto's signature)."""
    bucket, key = bucket_and_key(template_url)
    try:
        stored = s3_backends[account_id][partition].get_object(bucket, key)
    except S3ClientError:
        raise ValidationError(message=UNREADABLE) from None
    if stored is None:
        raise ValidationError(message=UNREADABLE)
    try:
        return stored.value.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError(
            message="Template format error: the template is not UTF-8 text."
        ) from None
