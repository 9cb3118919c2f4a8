"""local_aws: an offline AWS that deploys the workshop's CloudFormation template and serves it."""

from local_aws import patches

# Before anything else of local_aws runs: every change to moto, airspeed, uvicorn, websockets
# and jsonschema (see local_aws/patches).
patches.install()
