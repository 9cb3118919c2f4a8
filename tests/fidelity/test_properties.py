"""Property tests: any header value a client can send, and any query string, round-trip exactly
into the workshop's item, and never add or change anything else in it.

Header values: printable text without CR/LF (what an HTTP client can send), with quotes,
backslashes, `'`, tabs inside, and non-ASCII; no leading or trailing blanks, which HTTP
strips. Query keys and values: any text (control characters included), percent-encoded.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fidelity import support

EXAMPLES = 40
# Headers that differ on every connection.
PER_CONNECTION = {"Sec-WebSocket-Key", "X-Amzn-Trace-Id"}

header_values = st.text(
    alphabet=st.one_of(
        st.sampled_from("\"\\'\t {}$#%&=;,"),
        st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")),
    ),
    min_size=1,
    max_size=80,
).filter(lambda value: value == value.strip(" \t"))

any_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
queries = st.dictionaries(any_text.filter(bool), any_text, min_size=1, max_size=4)

hypothesis_settings = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def stored_item(local_aws, workshop, query: str = "", headers: list[str] | None = None):
    item = support.stored_item(local_aws, workshop, query, headers)
    assert item["sourceIp"] == {"S": "127.0.0.1"}
    assert item["userAgent"] == {"S": ""}  # websocket-client sends no User-Agent
    return item


def comparable_headers(item) -> dict:
    return {k: v for k, v in item["headers"]["M"].items() if k not in PER_CONNECTION}


@pytest.fixture(scope="module")
def baseline(local_aws, workshop) -> dict:
    """The headers of a connection that sends nothing unusual."""
    return comparable_headers(stored_item(local_aws, workshop))


@hypothesis_settings
@given(value=header_values)
def test_any_header_value_round_trips_exactly(local_aws, workshop, baseline, value) -> None:
    item = stored_item(local_aws, workshop, headers=[f"X-Property: {value}"])
    headers = comparable_headers(item)
    assert headers.pop("X-Property") == {"S": value}
    assert headers == baseline
    assert item["querystring"] == {"M": {}}


@hypothesis_settings
@given(query=queries)
def test_any_query_string_round_trips_exactly(local_aws, workshop, baseline, query) -> None:
    encoded = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query.items())
    item = stored_item(local_aws, workshop, f"?{encoded}")
    assert item["querystring"] == {"M": {k: {"S": v} for k, v in query.items()}}
    assert comparable_headers(item) == baseline
