"""The S3 object a TemplateURL names, in AWS's URL forms and local_aws's own."""

from __future__ import annotations

import pytest
from moto.cloudformation.exceptions import ValidationError

from local_aws.template_urls import UNSUPPORTED, bucket_and_key


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://s3.amazonaws.com/b/t.yaml", ("b", "t.yaml")),
        ("https://s3.eu-west-1.amazonaws.com/b/dir/t.yaml", ("b", "dir/t.yaml")),
        ("https://s3-eu-west-1.amazonaws.com/b/t.yaml", ("b", "t.yaml")),
        ("https://my.bucket.s3.amazonaws.com/t.yaml", ("my.bucket", "t.yaml")),
        ("https://b.s3.us-east-2.amazonaws.com/a/b.template", ("b", "a/b.template")),
        # The URL a tool builds from a local endpoint is path-style on a loopback host.
        ("http://127.0.0.1:4566/b/packaged.template", ("b", "packaged.template")),
        ("http://localhost:4566/b/x%20y.yaml", ("b", "x y.yaml")),
        ("http://[::1]:4566/b/t.json", ("b", "t.json")),
    ],
)
def test_a_template_url_names_its_bucket_and_key(url: str, expected: tuple[str, str]) -> None:
    assert bucket_and_key(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "s3://b/t.yaml",  # AWS takes https URLs only
        "https://example.com/b/t.yaml",  # not S3
        "http://s3.amazonaws.com/b/t.yaml",  # AWS's S3 over plain http
        "http://127.0.0.1:4566/b",  # a bucket and no key
        "http://127.0.0.1:4566/",
        "file:///etc/passwd",
        "http://[::1/b/t",  # not a URL
        "https://s3.amazonaws.com/b/" + "k" * 2000,  # longer than AWS's 1,024 characters
    ],
)
def test_a_url_that_names_no_s3_object_is_aws_s_validation_error(url: str) -> None:
    with pytest.raises(ValidationError) as refused:
        bucket_and_key(url)
    assert refused.value.message == UNSUPPORTED
