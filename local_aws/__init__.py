"""local_aws: an offline AWS that deploys the workshop's CloudFormation template and serves it."""

import sys

from local_aws import patches

# moto's API Gateway models import jsonschema, which imports `rfc3987_syntax` if it is
# installed (JupyterLab installs it) and that module compiles a grammar for about 3 s at
# import. local_aws never validates IRIs in JSON schemas, so it is kept out of this process.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

patches.install()
