"""Mapping templates render the way API Gateway's Velocity does."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from local_aws.vtl import TemplateError, compile_template, escape_javascript, render
from local_aws.vtl.limits import RENDER_SECONDS

# The $connect request template from the project's CloudFormation (${SessionsTable} -> T).
CONNECT_TEMPLATE = r"""#set($ttl = $context.requestTimeEpoch / 1000 + 86400)
#set($params = $input.params())
{
  "TableName": "T",
  "Item": {
    "connectionid": {"S": "$context.connectionId"},
    "connectedAt": {"N": "$context.connectedAt"},
    "ttl": {"N": "$ttl"},
    "sourceIp": {"S": "$context.identity.sourceIp"},
    #set($userAgent = "$!context.identity.userAgent")
    "userAgent": {"S": "$util.escapeJavaScript($userAgent).replaceAll("\\'","'")"},
    "querystring": {"M": {
      #foreach($name in $params.querystring.keySet())
      "$util.escapeJavaScript($name).replaceAll("\\'","'")": {"S": "$util.escapeJavaScript($params.querystring.get($name)).replaceAll("\\'","'")"}#if($foreach.hasNext),#end
      #end
    }},
    "headers": {"M": {
      #foreach($name in $params.header.keySet())
      "$util.escapeJavaScript($name).replaceAll("\\'","'")": {"S": "$util.escapeJavaScript($params.header.get($name)).replaceAll("\\'","'")"}#if($foreach.hasNext),#end
      #end
    }}
  }
}
"""  # noqa: E501 - verbatim from the CloudFormation template
ITEM_ATTRIBUTES = {
    "connectionid",
    "connectedAt",
    "ttl",
    "sourceIp",
    "userAgent",
    "querystring",
    "headers",
}
CONNECTED_AT = 1_700_000_000_123
REQUEST_TIME = 1_700_000_000_456


def connect_context(user_agent: str | None = "curl/8.4.0") -> dict[str, Any]:
    identity = {"sourceIp": "203.0.113.7"}
    if user_agent is not None:
        identity["userAgent"] = user_agent
    return {
        "connectionId": "Xk1bVd0JoAMCJQg=",
        "connectedAt": CONNECTED_AT,
        "requestTimeEpoch": REQUEST_TIME,
        "identity": identity,
    }


def strict_json(text: str) -> Any:
    """json.loads that also fails on a repeated key (an injected attribute would repeat one)."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), f"duplicate keys in {keys}"
        return dict(pairs)

    return json.loads(text, object_pairs_hook=no_duplicates)


def render_connect(
    querystring: dict[str, str], header: dict[str, str], user_agent: str | None = "curl/8.4.0"
) -> dict[str, Any]:
    output = render(
        CONNECT_TEMPLATE,
        context=connect_context(user_agent),
        params={"querystring": querystring, "header": header},
    )
    document = strict_json(output)
    assert set(document) == {"TableName", "Item"}
    return document["Item"]


def as_map(values: dict[str, str]) -> dict[str, Any]:
    return {"M": {name: {"S": value} for name, value in values.items()}}


def test_connect_template_renders_the_item() -> None:
    item = render_connect({"room": "lobby"}, {"Host": "example.com", "X-Trace": "a'b"})

    assert item == {
        "connectionid": {"S": "Xk1bVd0JoAMCJQg="},
        "connectedAt": {"N": str(CONNECTED_AT)},
        "ttl": {"N": str(REQUEST_TIME // 1000 + 86400)},
        "sourceIp": {"S": "203.0.113.7"},
        "userAgent": {"S": "curl/8.4.0"},
        "querystring": as_map({"room": "lobby"}),
        "headers": as_map({"Host": "example.com", "X-Trace": "a'b"}),
    }


def test_connect_ttl_is_epoch_seconds_one_day_ahead() -> None:
    ttl = render_connect({}, {})["ttl"]["N"]

    assert ttl == "1700086400"  # 1_700_000_000_456 ms -> 1_700_000_000 s, + 24 h


def test_connect_without_user_agent_or_parameters() -> None:
    item = render_connect({}, {}, user_agent=None)

    assert item["userAgent"] == {"S": ""}
    assert item["querystring"] == {"M": {}}
    assert item["headers"] == {"M": {}}


def test_connect_parameters_named_like_java_methods() -> None:
    names = {"get": "1", "keySet": "2", "size": "3", "class": "4", "__class__": "5", "empty": ""}

    item = render_connect(names, names)

    assert item["querystring"] == as_map(names)
    assert item["headers"] == as_map(names)


def test_connect_long_values_round_trip() -> None:
    value = ("\\'\"'/\n\t\x00\x1f\x7f é€😀 $x #if " * 400)[:8192]
    querystring = {"q" * 300: value, value: "v"}

    item = render_connect(querystring, {"Cookie": value}, user_agent=value)

    assert item["querystring"] == as_map(querystring)
    assert item["headers"] == as_map({"Cookie": value})
    assert item["userAgent"] == {"S": value}


# Characters that break naive escaping, mixed into arbitrary unicode text.
tricky_text = st.text(
    alphabet=st.one_of(
        st.sampled_from("'\"\\/\b\f\n\r\t\x00\x01\x0b\x1f\x7f\x80\u2028\ufeffé€😀$#{}!"),
        st.characters(),
    )
)
any_text = st.one_of(st.text(), tricky_text)


@settings(max_examples=300, deadline=None)
@given(
    querystring=st.dictionaries(any_text, any_text, max_size=6),
    header=st.dictionaries(any_text, any_text, max_size=6),
    user_agent=any_text,
)
def test_connect_template_round_trips_any_text(
    querystring: dict[str, str], header: dict[str, str], user_agent: str
) -> None:
    item = render_connect(querystring, header, user_agent)

    assert set(item) == ITEM_ATTRIBUTES
    assert item["querystring"] == as_map(querystring)
    assert item["headers"] == as_map(header)
    assert item["userAgent"] == {"S": user_agent}
    assert item["ttl"] == {"N": "1700086400"}


def test_seed_template_adds_a_day_to_milliseconds_and_prints_java_maps() -> None:
    template = (
        "#set($ttl = $context.requestTimeEpoch + 86400)"
        '{"ttl": {"N": "$ttl"}, "qs": {"S": "$input.params().get(\'querystring\')"}}'
    )

    output = render(
        template, context=connect_context(), params={"querystring": {"foo": "bar"}, "header": {}}
    )

    assert json.loads(output) == {
        "ttl": {"N": str(REQUEST_TIME + 86400)},
        "qs": {"S": "{foo=bar}"},
    }


# --- $util.escapeJavaScript: commons-lang 2.6 StringEscapeUtils.escapeJavaScript ---------


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain text 123", "plain text 123"),
        ("'", "\\'"),
        ('"', '\\"'),
        ("\\", "\\\\"),
        ("/", "\\/"),
        ("\n", "\\n"),
        ("\b\t\f\r", "\\b\\t\\f\\r"),
        ("\x00", "\\u0000"),
        ("\u0001", "\\u0001"),
        ("\x0b", "\\u000B"),
        ("\x1f", "\\u001F"),
        ("\x7f", "\x7f"),  # commons-lang escapes only above U+007F
        ("é", "\\u00E9"),
        ("\u0100", "\\u0100"),
        ("€", "\\u20AC"),
        ("\u2028", "\\u2028"),
        ("😀", "\\uD83D\\uDE00"),
        ('it\'s "x"', 'it\\\'s \\"x\\"'),
    ],
)
def test_escape_javascript(raw: str, escaped: str) -> None:
    assert escape_javascript(raw) == escaped
    assert render("$util.escapeJavaScript($input.body)", context={}, body=raw) == escaped


def test_escape_javascript_of_null_renders_the_reference() -> None:
    template = "$util.escapeJavaScript($context.nope)"

    assert render(template, context={}) == template


def test_replace_all_with_velocity_string_literal_undoes_escaped_quote() -> None:
    # In Velocity "\\'" is three characters; as a Java regex it matches a backslash and '.
    template = """$util.escapeJavaScript($input.body).replaceAll("\\\\'","'")"""

    assert render(template, context={}, body="it's a \\' b") == "it's a \\\\' b"


# --- Java-style values ---------------------------------------------------------------


def test_values_render_like_java() -> None:
    body = (
        '{"s": "x", "n": 5, "f": 1.0, "t": true, "z": null, "l": [1, "a", false], "m": {"k": "v"}}'
    )

    output = render("$input.path('$')", context={}, body=body)

    assert output == "{s=x, n=5, f=1.0, t=true, z=null, l=[1, a, false], m={k=v}}"


def test_params_render_as_java_maps() -> None:
    params = {"querystring": {"a": "1", "b": "2"}, "header": {"Host": "h", "X-Y": "z"}}
    template = (
        "$input.params()|$input.params().get('header')|$input.params().header.keySet()"
        "|$input.params().querystring.values()|$input.params().header.size()"
        "|#foreach($e in $input.params().querystring.entrySet())$e.key=$e.value;#end"
    )

    output = render(template, context={}, params=params)

    assert output == (
        "{path={}, querystring={a=1, b=2}, header={Host=h, X-Y=z}}|{Host=h, X-Y=z}"
        "|[Host, X-Y]|[1, 2]|2|a=1;b=2;"
    )


def test_list_and_map_methods() -> None:
    template = (
        "#set($l = [1, 2])#set($m = {'a': 1})"
        "$l.size() $l.get(1) $l.contains(2) $l.isEmpty() "
        "$m.get('a') $m.containsKey('b') $m.size() $m.isEmpty() $m.keySet() $l.add(3)$l"
    )

    assert render(template, context={}) == "2 2 true false 1 false 1 false [a] true[1, 2, 3]"


def test_foreach_over_a_map_iterates_its_values() -> None:  # Velocity 1.7
    output = render(
        "#foreach($v in $input.params().header)$v#if($foreach.hasNext),#end#end",
        context={},
        params={"header": {"A": "1", "B": "2"}},
    )

    assert output == "1,2"


@pytest.mark.parametrize(
    ("expression", "result"),
    [
        ("-7 / 2", "-3"),
        ("7 / -2", "-3"),
        ("7 / 2", "3"),
        ("-7 % 2", "-1"),
        ("7 % -2", "1"),
        ("7.0 / 2", "3.5"),
        ("2 + 3 * 4", "14"),
        ("$context.requestTimeEpoch / 1000 + 86400", "1700086400"),
    ],
)
def test_arithmetic_is_java(expression: str, result: str) -> None:
    output = render(f"#set($x = {expression})$x", context={"requestTimeEpoch": REQUEST_TIME})

    assert output == result


def test_division_by_zero_is_null() -> None:
    assert render("#set($x = 1 / 0)[$!x]", context={}) == "[]"


def test_undefined_references_stay_literal_unless_quiet() -> None:
    template = "$context.nope|$!context.nope|${context.nope}|$!{context.nope}|$nothing.size()"

    assert render(template, context={}) == "$context.nope||${context.nope}||$nothing.size()"


def test_numbers_in_context_stay_numbers() -> None:
    output = render(
        "$context.n.toString().length() $context.identity.port",
        context={"n": 12345, "identity": {"port": 443}},
    )

    assert output == "5 443"


def test_stage_variables() -> None:
    output = render(
        "$stageVariables.env $stageVariables", context={}, stage_variables={"env": "dev"}
    )

    assert output == "dev {env=dev}"


# --- $input ---------------------------------------------------------------------------

BODY = '{"action": "send", "data": {"to": ["a", "b"], "text": "héllo \\"x\\""}, "n": 1.5}'


@pytest.mark.parametrize(
    ("template", "result"),
    [
        ("$input.body", BODY),
        ("$input.json('$.data')", '{"to":["a","b"],"text":"héllo \\"x\\""}'),
        ("$input.json('$.data.to[1]')", '"b"'),
        ("""$input.json("$['data']['to']")""", '["a","b"]'),
        ("$input.json('$.n')", "1.5"),
        ("$input.json('$.data.*')", '[["a","b"],"héllo \\"x\\""]'),
        ("[$input.json('$.missing')]", "[]"),
        ("$input.path('$').action", "send"),
        ("$input.path('$.data.to').size()", "2"),
        ("$input.path('$.data.to')", "[a, b]"),
        ("$input.path('$.missing')", "$input.path('$.missing')"),
        ("[$!input.path('$.missing')]", "[]"),
    ],
)
def test_input_json_and_path(template: str, result: str) -> None:
    assert render(template, context={}, body=BODY) == result


def test_input_json_of_whole_body_is_compact() -> None:
    body = '{"a": [1, 2], "b": {"c": null, "d": "é"}}'

    assert render("$input.json('$')", context={}, body=body) == '{"a":[1,2],"b":{"c":null,"d":"é"}}'


@pytest.mark.parametrize("body", ["not json {", "", None])
def test_input_with_a_non_json_or_empty_body(body: str | None) -> None:
    output = render("[$input.body][$input.json('$.a')][$!input.path('$.a')]", context={}, body=body)

    assert output == f"[{body or ''}][][]"


def test_input_json_of_the_whole_non_json_body() -> None:
    assert render("$input.json('$')", context={}, body="hi") == '"hi"'
    assert render("$input.json('$')", context={}, body="") == "{}"


def test_input_params_looks_in_path_then_querystring_then_header() -> None:
    params = {
        "path": {"id": "from-path"},
        "querystring": {"id": "from-query", "q": "from-query"},
        "header": {"id": "from-header", "q": "from-header", "X-Token": "from-header"},
    }
    template = (
        "$input.params('id') $input.params('q') $input.params('x-token') [$input.params('no')]"
    )

    output = render(template, context={}, params=params)

    assert output == "from-path from-query from-header []"


# --- $util ----------------------------------------------------------------------------


def test_parse_json_gives_an_object() -> None:
    output = render("$util.parseJson($input.body).action", context={}, body='{"action": "join"}')

    assert output == "join"


def test_url_and_base64_helpers() -> None:
    template = (
        "$util.urlEncode('a b~*&é') $util.urlDecode('a+b%7E%C3%A9') "
        "$util.base64Encode('héllo') $util.base64Decode('aMOpbGxv')"
    )

    assert render(template, context={}) == "a+b%7E*%26%C3%A9 a b~é aMOpbGxv héllo"


# --- Java String methods and Velocity string literals ---------------------------------


@pytest.mark.parametrize(
    ("template", "result"),
    [
        ("$s.replaceAll('(\\w+) (\\w+)', '$2 $1')", "World Hello"),
        ("$s.replaceAll('o', '\\$')", "Hell$ W$rld"),  # \ quotes $ in a Java replacement
        ("$s.replaceAll('.', '-').length()", "11"),
        ("$s.replaceFirst('l+', 'L')", "HeLo World"),
        ("$s.replace('o', '.')", "Hell. W.rld"),
        ("$s.length() $s.isEmpty() $s.contains('lo W')", "11 false true"),
        ("$s.substring(6) $s.substring(0, 5) $s.indexOf('o') $s.indexOf('z')", "World Hello 4 -1"),
        ("$s.toLowerCase() $s.toUpperCase()", "hello world HELLO WORLD"),
        ("$s.startsWith('He') $s.endsWith('ld') $s.equals('Hello World')", "true true true"),
        ("$s.split(' ') $s.matches('H.*d')", "[Hello, World] true"),
        ("#set($t = 'a,b,,')$t.split(',').size()", "2"),  # trailing empty strings dropped
        ("#set($t = ' x\t')[$t.trim()]", "[x]"),
        ("#set($t = 'é😀x')$t.length() $t.substring(3)", "4 x"),  # UTF-16 code units
    ],
)
def test_java_string_methods(template: str, result: str) -> None:
    assert render("#set($s = 'Hello World')" + template, context={}) == result


@pytest.mark.parametrize(
    ("template", "result"),
    [
        ("#set($x = 'it''s')$x", "it's"),
        ('#set($x = "say ""hi""")$x', 'say "hi"'),
        ('#set($x = "a\\nb")$x', "a\\nb"),  # no backslash escapes in Velocity literals
        ('#set($x = "\\\\\'")$x.length()', "3"),
        ('#set($x = "\\u00e9")$x', "é"),
        ('#set($y = 2)#set($x = "y=$y")$x', "y=2"),
    ],
)
def test_velocity_string_literals(template: str, result: str) -> None:
    assert render(template, context={}) == result


# --- Velocity 1.7 conditions and #set -------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "taken"),
    [
        ("''", True),  # only null and false are false in Velocity 1.7
        ("0", True),
        ("$nothing", False),
        ("!$nothing", True),
        ("false", False),
        ("$context.n == '5'", True),  # different classes compare by toString()
        ("$context.n == 5.0", True),
        ("'a' != 'a'", False),
        ("$nothing == $alsoNothing", True),
        ("$context.n > 4 && $nothing", False),
    ],
)
def test_if_conditions(condition: str, taken: bool) -> None:
    output = render(f"#if({condition})yes#{{else}}no#end", context={"n": 5})

    assert output == ("yes" if taken else "no")


def test_set_to_null_keeps_the_previous_value() -> None:
    assert render("#set($x = 'kept')#set($x = $context.nope)$x", context={}) == "kept"


def test_foreach_has_next() -> None:
    output = render("#foreach($i in [1, 2, 3])$i#if($foreach.hasNext),#end#end", context={})

    assert output == "1,2,3"


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "#if(",
        "#if() x #end",
        "#if($x) no end",
        "#foreach($a in $b) no end",
        "#foreach($a in )#end",
        "#set($x = )",
        "${x",
        "$x.foo(",
        "#end",
    ],
)
def test_syntax_errors_raise_template_error(template: str) -> None:
    with pytest.raises(TemplateError, match="syntax error"):
        render(template, context={})


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("$util.parseJson('{')", "parseJson"),
        ("$input.json('data.to')", "JSONPath"),
        ("#set($l = [1])\n$l.get(5)", "line 2"),
        ("$context.s.replaceAll('(', 'x')", "replaceAll"),
        ("$context.s.substring(5)", "substring"),
    ],
)
def test_render_failures_raise_template_error(template: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message) as failure:
        render(template, context={"s": "abc"})

    assert type(failure.value) is TemplateError
    assert isinstance(failure.value, ValueError)


def test_templates_are_parsed_once() -> None:
    assert compile_template(CONNECT_TEMPLATE) is compile_template(CONNECT_TEMPLATE)


def test_template_cannot_change_the_callers_data() -> None:
    context = {"identity": {"sourceIp": "1.2.3.4"}}
    params = {"header": {"A": "1"}}

    render(
        "$!context.identity.put('sourceIp', 'x')$!input.params().header.put('A', 'x')",
        context=context,
        params=params,
    )

    assert context == {"identity": {"sourceIp": "1.2.3.4"}}
    assert params == {"header": {"A": "1"}}


# --------------------------------------------------------------------------------------
# Limits (local_aws.vtl.limits): AWS's 1,000 #foreach iterations, and local_aws's own
# bounds on time and characters so that no template can hold an integration thread.
# --------------------------------------------------------------------------------------


def loop(count: int, body: str = "") -> str:
    return f"#foreach($i in [1..{count}]){body}#end"


def test_foreach_runs_1000_iterations() -> None:
    assert render(loop(1000, "x"), context={}) == "x" * 1000
    assert render("#foreach($i in $context.items)$i#end", context={"items": [1] * 1000})


@pytest.mark.parametrize(
    "template",
    [
        loop(1001),
        "#foreach($i in $context.items)#end",  # a list from the context counts the same
        "#foreach($k in $context.map.keySet())#end",
        loop(2, loop(1001)),  # a nested loop counts its own iterations
        "#foreach($i in [1..100000000])x#end",
    ],
)
def test_foreach_past_1000_iterations_fails_the_render(template: str) -> None:
    context = {"items": [1] * 1001, "map": {str(i): i for i in range(1001)}}
    with pytest.raises(TemplateError, match="1000 iterations|longer than"):
        render(template, context=context)


def test_nested_loops_of_1000_each_are_allowed_within_the_budget() -> None:
    assert render(loop(10, loop(1000, "x")), context={}) == "x" * 10_000


def test_a_render_ends_within_its_time_budget() -> None:
    start = time.monotonic()
    with pytest.raises(TemplateError, match="longer than"):
        render(loop(1000, loop(1000, loop(1000))), context={}, time_limit=0.2)
    assert time.monotonic() - start < 0.4


def test_the_time_budget_is_at_most_the_render_limit() -> None:
    start = time.monotonic()
    with pytest.raises(TemplateError, match="longer than"):
        render(loop(1000, loop(1000, loop(1000))), context={}, time_limit=29.0)
    assert time.monotonic() - start < RENDER_SECONDS + 0.3


@pytest.mark.parametrize(
    "template",
    [
        '#set($s = "x")' + loop(64, '#set($s = "$s$s")'),  # doubling in a variable
        '#set($s = "x")' + loop(64, "#set($s = $s + $s)"),
        '#set($s = "x")' + loop(64, '#set($s = $s.replace("x", "xx"))'),
        '#set($s = "x")' + loop(64, '#set($s = $s.replaceAll("x", "$0$0"))'),
        '#set($s = "x")' + loop(64, "#set($s = $util.escapeJavaScript($s).replace('x', '\\\\'))"),
        '#set($s = "x")' + loop(30, '#set($s = "$s$s")') + '$s.replace("", $s)',
        loop(1000, loop(1000, "x" * 100)),  # output alone
    ],
)
def test_characters_produced_are_bounded(template: str) -> None:
    with pytest.raises(TemplateError, match="characters|longer than"):
        render(template, context={})


def test_multiplying_is_for_numbers_only_and_bounded() -> None:
    assert render('#set($s = "ab" * 3)$s', context={}) == "$s"  # null: Velocity math
    assert render("#set($n = 6 * 7)$n", context={}) == "42"
    with pytest.raises(TemplateError, match="bits"):
        render("#set($n = 3)" + loop(100, "#set($n = $n * $n)"), context={})


def test_a_string_near_the_limit_can_still_be_built_once() -> None:
    # Building a 1,000-item list the quadratic way is common and stays well within the limit.
    output = render('#set($s = "")' + loop(1000, '#set($s = "$s$i,")') + "$s.length()", context={})
    assert int(output) == sum(len(f"{i},") for i in range(1, 1001))


def test_evaluate_text_is_bounded() -> None:
    with pytest.raises(TemplateError, match="#evaluate"):
        render('#set($s = "x")' + loop(20, '#set($s = "$s$s")') + "#evaluate($s)", context={})


@pytest.mark.parametrize(
    "body", ["[" * 1000 + "]" * 1000, '{"a": ' + "[" * 5000 + "]" * 5000 + "}"]
)
def test_json_too_deep_to_parse_reads_as_a_body_that_is_not_json(body: str) -> None:
    assert render("$input.json('$')", context={}, body=body) == json.dumps(body)
    assert render("$input.path('$')", context={}, body=body) == body
    assert render("$input.path('$.a')", context={}, body=body) == "$input.path('$.a')"


def test_limits_apply_per_render() -> None:
    # One render's spending does not carry over into the next.
    template = '#set($s = "x")' + loop(22, '#set($s = "$s$s")')
    for _ in range(5):
        render(template, context={})
