"""Compiled mapping templates render exactly what airspeed's interpreter renders.

`vtl.render` runs templates compiled into closures (`local_aws.vtl.compiled`); airspeed's own
tree walk, with local_aws's patches, is what they must match. Every mapping template of the
project's and the tests' CloudFormation templates, and templates using each construct, are
rendered both ways over random requests: the same text, or the same error message.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local_aws import templates
from local_aws.vtl import TemplateError, compile_template, render

ROOT = Path(__file__).resolve().parents[2]
render_module = importlib.import_module("local_aws.vtl.render")


def _mapping_templates(node: Any, found: list[str]) -> None:
    """Every string under a RequestTemplates or ResponseTemplates key (Fn::Sub's included)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("RequestTemplates", "ResponseTemplates"):
                _strings(value, found)
            else:
                _mapping_templates(value, found)
    elif isinstance(node, list):
        for item in node:
            _mapping_templates(item, found)


def _strings(node: Any, found: list[str]) -> None:
    if isinstance(node, str):
        found.append(node)
    elif isinstance(node, dict):
        for value in node.values():
            _strings(value, found)
    elif isinstance(node, list):
        for item in node:
            _strings(item, found)


def project_templates() -> list[str]:
    found: list[str] = []
    for path in sorted([*ROOT.glob("cfn/*.yaml"), *ROOT.glob("tests/fidelity/templates/*.yaml")]):
        _mapping_templates(templates.parse_body(path.read_text()), found)
    return sorted(set(found))


# Each construct the compiler has a fast path for, and some it leaves to airspeed.
CONSTRUCTS = [
    "plain text, no references",
    "$context.connectionId $!context.missing $context.missing ${context.stage}",
    "${context.missing|'fallback'} $!{context.missing} ${context.identity.sourceIp}",
    "$context.identity.sourceIp.length() $context.eventType.toLowerCase().substring(1, 3)",
    "$input.params().header.get('Host') $input.params('Host') $input.path('$.a')",
    "$input.json('$') $input.json('$.a') $input.body $util.urlEncode($input.body)",
    '$util.escapeJavaScript($input.body).replaceAll("\\\\\'", "\'")',
    "$util.base64Encode($input.body) $util.parseJson('{\"a\": [1, 2]}').a[1]",
    "#set($n = $context.requestTimeEpoch / 1000 + 86400 * 2 - 3 % 2)$n",
    "#set($b = !($context.missing == 'x') && true || false)$b #set($c = not $b)$c",
    "#set($m = {})#set($m.k = 'v')$m.k #set($m = $context.missing)$m",
    "#set($l = [1, 2, 3])$l.get(0) $l[1] $l.size() #set($x = $l.add(4))$l",
    "#foreach($h in $input.params().header.keySet())$h=$input.params().header.get($h)"
    "#if($foreach.hasNext),#end#end",
    "#foreach($v in $input.params().querystring)[$v $velocityCount $foreach.index"
    " $foreach.first $foreach.last $velocityHasNext]#end",
    "#foreach($i in [1..3])#foreach($j in [$i..1])$i$j #end#end",
    "#foreach($x in $context.missing)never#end #foreach($x in 'text')never#end",
    "#foreach($i in $context.stage)$i#end #foreach($i in 5)#end",
    "#set($x = $context.missing.y)\n#set($z = $context.stage.x.y)$z",
    "#set($m = {})$m['a'].b",
    "#if($context.missing)a#elseif($context.stage == 'api')b#else c#end",
    "#if($context.eventType == 'CONNECT')connect#{else}other#end",
    "#if($input.body.length() > 2)long#elseif($input.body.isEmpty())empty#end",
    "## a comment\n#* a block\ncomment *#after",
    "#macro(twice $v)$v$v#end#twice($context.stage)",
    "#define($d)defined $context.stage#end$d",
    "#evaluate('$context.stage') #set($t = \"x$context.stage\")$t",
    "before#stop after",
    "\\$context.stage \\#if #00ff00 $ # $1",
    "${context.requestTimeEpoch} $context.connectedAt.toString() $stageVariables.name",
    "$context.authorizer $context.identity $input.params()",
    "#set($s = \"$!input.body\")#if($s.contains('\"'))quoted#end $s.replace('a', 'b')",
]

# Templates that fail: each must fail with the same message both ways.
FAILING = [
    "$util.parseJson('{')",
    "$input.json('data.to')",
    "#set($l = [1])\n$l.get(5)",
    "$context.stage.replaceAll('(', 'x')",
    "$context.stage.substring(5)",
    "#foreach($i in [1..1001])#end",
    "#set($l = [1])$l['a']",
    "#set($s = 'ab')#foreach($i in [1..24])#set($s = \"$s$s\")#end",
    "#evaluate($util.urlDecode('%zz'))",
]

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
values = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
bodies = st.one_of(
    st.none(),
    values,
    st.builds(lambda a, b: f'{{"a": {a}, "b": "{b}"}}', st.integers(), values),
)


@st.composite
def requests(draw: Callable[..., Any]) -> dict[str, Any]:
    """What a render sees: `$context`, `$input` (body and parameters), `$stageVariables`."""
    headers = draw(st.dictionaries(names, values, max_size=6))
    query = draw(st.dictionaries(names, values, max_size=3))
    identity: dict[str, Any] = {"sourceIp": draw(st.sampled_from(["127.0.0.1", "::1"]))}
    user_agent = draw(st.one_of(st.none(), values))
    if user_agent is not None:
        identity["userAgent"] = user_agent
    context = {
        "connectionId": "Xk1bVd0JoAMCJQg=",
        "eventType": draw(st.sampled_from(["CONNECT", "MESSAGE", "DISCONNECT"])),
        "stage": draw(st.sampled_from(["api", "prod"])),
        "requestTimeEpoch": draw(st.integers(0, 2**42)),
        "connectedAt": draw(st.integers(0, 2**42)),
        "identity": identity,
    }
    if draw(st.booleans()):
        context["authorizer"] = {"principalId": draw(values), "n": draw(st.integers())}
    return {
        "context": context,
        "body": draw(bodies),
        "params": {"path": {}, "querystring": query, "header": headers},
        "stage_variables": draw(st.dictionaries(names, values, max_size=2)),
    }


def outcome(template: str, request: dict[str, Any]) -> str:
    """What `vtl.render` gives: the text, or the error's message."""
    try:
        return "text: " + render(template, **request)
    except TemplateError as error:
        return f"error: {error}"


@pytest.fixture
def interpreted(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, dict], str]]:
    """`outcome` with airspeed's interpreter rendering instead of the compiled closures."""

    def interpreter(text: str) -> Callable[[dict[str, Any]], str]:
        parsed = compile_template(text)  # a syntax error raises here, as in `_compiled`
        return lambda namespace: str(parsed.merge(namespace))

    def with_interpreter(template: str, request: dict[str, Any]) -> str:
        with monkeypatch.context() as patched:
            patched.setattr(render_module, "_compiled", interpreter)
            return outcome(template, request)

    yield with_interpreter


differential = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def test_the_project_templates_are_found() -> None:
    found = project_templates()
    assert len(found) >= 10
    assert any("#foreach($name in $params.header.keySet())" in text for text in found)


@differential
@given(request=requests())
def test_project_templates_render_the_same_compiled(interpreted, request) -> None:
    for template in project_templates():
        assert outcome(template, request) == interpreted(template, request), template


@differential
@given(request=requests())
def test_each_construct_renders_the_same_compiled(interpreted, request) -> None:
    for template in CONSTRUCTS:
        assert outcome(template, request) == interpreted(template, request), template


@pytest.mark.parametrize("template", FAILING)
def test_failures_fail_with_the_same_message_compiled(interpreted, template: str) -> None:
    request = {"context": {"stage": "api"}, "body": "{}", "params": None, "stage_variables": {}}
    compiled = outcome(template, request)
    assert compiled == interpreted(template, request)
    assert compiled.startswith("error: ")


def test_the_interpreter_fixture_really_interprets(interpreted) -> None:
    """The comparison is not of the compiled closures with themselves."""
    calls: list[str] = []
    original = compile_template("$x").merge

    def spying(namespace: dict[str, Any]) -> str:
        calls.append("merge")
        return str(original(namespace))

    template = compile_template("$x")
    template.merge = spying  # type: ignore[method-assign]
    try:
        assert interpreted("$x", {"context": {}}) == "text: $x"
    finally:
        del template.merge
    assert calls == ["merge"]


def test_a_template_the_compiler_cannot_take_is_interpreted(monkeypatch) -> None:
    compiled = importlib.import_module("local_aws.vtl.compiled")

    def cannot(body: Any) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(compiled, "compile_body", cannot)
    template = "#set($x = 'interpreted')$x, for $context.stage"  # not rendered before
    assert render(template, context={"stage": "api"}) == "interpreted, for api"
