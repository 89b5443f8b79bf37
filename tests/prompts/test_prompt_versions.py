"""Prompt versions: content addressing, identifiers, rendering, variables, chat prompts, tags, diff, aliases."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ondo
from ondo.errors import InvalidInput, NotFound, OndoError
from ondo.prompts import MissingVariables
from ondo.workspace import Workspace

TEMPLATE = "Summarize in {{ lang }}:\n{{ text }}\n"


def test_register_numbers_versions_and_dedupes_identical_content(workspace: Workspace) -> None:
    v1 = ondo.prompts.register("summarize", template=TEMPLATE, model="gpt-4o-mini", params={"temperature": 0.2})
    again = ondo.prompts.register("summarize", template=TEMPLATE, model="gpt-4o-mini", params={"temperature": 0.2})
    v2 = ondo.prompts.register("summarize", template=TEMPLATE, model="gpt-4o-mini", params={"temperature": 0.7})
    assert (v1.version, again.version, v2.version) == (1, 1, 2)
    assert again.digest == v1.digest != v2.digest
    assert v1.digest.startswith("sha256:") and len(v1.digest) == 71
    assert v1.variables == ["lang", "text"]
    assert v1.model == "gpt-4o-mini" and v1.params == {"temperature": 0.2}
    assert [v.version for v in ondo.prompts.list("summarize")] == [1, 2]
    (summary,) = ondo.prompts.list()
    assert (summary.name, summary.latest, summary.versions) == ("summarize", 2, 2)


def test_identifiers_resolve_latest_version_alias_and_digest(workspace: Workspace) -> None:
    v1 = ondo.prompts.register("summarize", template="A {{ text }}")
    v2 = ondo.prompts.register("summarize", template="B {{ text }}")
    ondo.prompts.set_alias("summarize", "production", version=v1.version, reason="first release")
    assert ondo.prompts.get("summarize", cache=False).version == 2
    assert ondo.prompts.get("summarize/1", cache=False) == v1
    assert ondo.prompts.get("summarize@v2", cache=False) == v2
    assert ondo.prompts.get("summarize@production").version == 1
    assert ondo.prompts.get(f"summarize@{v2.digest[:15]}", cache=False).version == 2
    assert ondo.prompts.get("summarize@production").render(text="x") == "A x"


def test_unknown_identifiers_raise_not_found_with_suggestions(workspace: Workspace) -> None:
    ondo.prompts.register("summarize", template="A {{ text }}")
    with pytest.raises(NotFound, match="did you mean 'summarize'"):
        ondo.prompts.get("sumarize", cache=False)
    with pytest.raises(NotFound, match="summarize/7"):
        ondo.prompts.get("summarize/7", cache=False)
    with pytest.raises(NotFound, match="summarize@production"):
        ondo.prompts.get("summarize@production")
    with pytest.raises(InvalidInput):
        ondo.prompts.get("summarize@@x")


def test_missing_variables_are_all_listed(workspace: Workspace) -> None:
    p = ondo.prompts.register("summarize", template="{{ greeting }}, {{ text }} in {{ lang }}")
    with pytest.raises(MissingVariables) as info:
        p.render(lang="ko")
    assert info.value.missing == ["greeting", "text"]
    assert "greeting" in str(info.value) and "text" in str(info.value) and "lang" not in info.value.missing
    assert isinstance(info.value, InvalidInput) and isinstance(info.value, KeyError)
    assert p.render(greeting="Hi", text="t", lang="ko") == "Hi, t in ko"


def test_defaults_and_defined_checks_are_not_missing(workspace: Workspace) -> None:
    p = ondo.prompts.register(
        "opt", template="{{ lang | default('en') }}{% if extra is defined %}+{{ extra }}{% endif %}:{{ text }}"
    )
    assert p.render(text="t") == "en:t"
    assert p.render(text="t", extra="e", lang="ko") == "ko+e:t"


def test_declared_variables_must_cover_the_template(workspace: Workspace) -> None:
    with pytest.raises(InvalidInput, match="undeclared variables: lang"):
        ondo.prompts.register("p", template="{{ text }} {{ lang }}", variables=["text"])
    p = ondo.prompts.register("p", template="{{ text }}", variables=["text", "tone"])
    assert p.variables == ["text", "tone"]
    with pytest.raises(InvalidInput, match="invalid variable names"):
        ondo.prompts.register("q", template="{{ text }}", variables=["text", "not valid"])
    assert ondo.prompts.list() and [s.name for s in ondo.prompts.list()] == ["p"]


def test_template_syntax_error_names_the_line(workspace: Workspace) -> None:
    with pytest.raises(InvalidInput, match=r"prompt bad:2: template syntax error"):
        ondo.prompts.register("bad", template="ok\n{{ text ")
    assert ondo.prompts.list() == []


def test_chat_prompts_render_messages(workspace: Workspace) -> None:
    msgs = [
        {"role": "system", "content": "You answer in {{ lang }}."},
        {"role": "user", "content": "Summarize: {{ text }}"},
    ]
    p = ondo.prompts.register("chat", template=msgs, model="gpt-4o-mini", params={"max_tokens": 64})
    assert p.is_chat and p.variables == ["lang", "text"]
    assert p.render(lang="Korean", text="hello") == [
        {"role": "system", "content": "You answer in Korean."},
        {"role": "user", "content": "Summarize: hello"},
    ]
    with pytest.raises(MissingVariables) as info:
        p.render()
    assert info.value.missing == ["lang", "text"]
    text = ondo.prompts.register("text", template="Hi {{ name }}")
    assert text.render_messages(name="A") == [{"role": "user", "content": "Hi A"}]
    assert ondo.prompts.register("chat", messages=msgs, model="gpt-4o-mini", params={"max_tokens": 64}) == p
    for kwargs in ({}, {"template": "x", "messages": msgs}, {"messages": "not a list"}):
        with pytest.raises(InvalidInput, match="messages"):
            ondo.prompts.register("chat", **kwargs)  # type: ignore[arg-type]
    assert [v.version for v in ondo.prompts.list("chat")] == [1]


@pytest.mark.parametrize(
    "messages, match",
    [
        ([], "at least one message"),
        ([{"role": "wizard", "content": "x"}], "role 'wizard'"),
        ([{"role": "user"}], "needs 'content'"),
        ([{"role": "user", "content": "x", "extra": 1}], "unknown keys: extra"),
        (["just text"], "must be a mapping"),
    ],
)
def test_malformed_chat_prompts_are_refused(workspace: Workspace, messages: list, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        ondo.prompts.register("chat", template=messages)


def test_params_must_be_json(workspace: Workspace) -> None:
    with pytest.raises(InvalidInput, match="params must be JSON"):
        ondo.prompts.register("p", template="x", params={"t": object()})
    with pytest.raises(InvalidInput, match="params must be JSON"):
        ondo.prompts.register("p", template="x", params={"t": float("nan")})


def test_tags_are_mutable_and_not_part_of_the_content(workspace: Workspace) -> None:
    p = ondo.prompts.register("p", template="x {{ y }}", tags={"owner": "ml"})
    assert p.tags == {"owner": "ml"}
    ondo.prompts.set_tag("p/1", "stage", "review")
    ondo.prompts.delete_tag("p/1", "owner")
    again = ondo.prompts.register("p", template="x {{ y }}", tags={"note": "same"})
    assert again.version == 1 and again.digest == p.digest
    assert ondo.prompts.get("p/1", cache=False).tags == {"note": "same", "stage": "review"}


def test_diff_shows_template_and_params(workspace: Workspace) -> None:
    ondo.prompts.register("s", template="Summarize:\n{{ text }}\n", model="m1", params={"temperature": 0.2})
    ondo.prompts.register("s", template="Summarize briefly:\n{{ text }}\n", model="m1", params={"temperature": 0.7})
    d = ondo.prompts.diff("s/1", "s/2")
    assert "-Summarize:\n+Summarize briefly:\n" in d.template
    assert "--- s/1/template" in d.template and "+++ s/2/template" in d.template
    assert '-    "temperature": 0.2' in d.settings and '+    "temperature": 0.7' in d.settings
    assert d.params_changed == {"temperature": [0.2, 0.7]} and d.model_changed is None
    assert not d.identical and ondo.prompts.diff("s/1", "s/1").identical


def test_alias_history_rollback_and_time_travel(workspace: Workspace) -> None:
    for i in range(3):
        ondo.prompts.register("p", template=f"v{i} {{{{ x }}}}")
    ondo.prompts.set_alias("p", "production", version=1, reason="first")
    t1 = time.time()
    time.sleep(0.01)
    ondo.prompts.set_alias("p/2", "production")
    ondo.prompts.set_alias("p", "production", 3)
    assert ondo.prompts.get("p@production").version == 3
    ev = ondo.prompts.rollback("p", alias="production")
    assert (ev.from_version, ev.to_version, ev.action) == (3, 2, "rollback")
    assert ondo.prompts.get("p@production").version == 2
    ev2 = ondo.prompts.rollback("p@production")
    assert (ev2.from_version, ev2.to_version) == (2, 1)
    with pytest.raises(OndoError, match="no earlier version"):
        ondo.prompts.rollback("p", "production")
    hist = ondo.prompts.history("p", alias="production")
    assert [(e.action, e.from_version, e.to_version) for e in hist] == [
        ("set", None, 1), ("set", 1, 2), ("set", 2, 3), ("rollback", 3, 2), ("rollback", 2, 1)
    ]
    assert hist[0].reason == "first"
    assert ondo.prompts.version_at("p", "production", t1) == 1
    with pytest.raises(NotFound):
        ondo.prompts.set_alias("p", "staging", version=9)
    with pytest.raises(InvalidInput, match="invalid alias"):
        ondo.prompts.history("p", alias="bad alias")
    with pytest.raises(InvalidInput, match="expected a prompt name"):
        ondo.prompts.history("p/2")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.text(max_size=60),
    params=st.dictionaries(st.text(min_size=1, max_size=8), st.integers() | st.booleans(), max_size=4),
)
def test_render_inserts_any_text_verbatim_and_digest_ignores_key_order(
    workspace: Workspace, text: str, params: dict
) -> None:
    p = ondo.prompts.register("h", template="<{{ text }}>", params=params)
    assert p.render(text=text) == f"<{text}>"
    reordered = dict(reversed(list(params.items())))
    assert ondo.prompts.register("h", template="<{{ text }}>", params=reordered).version == p.version
