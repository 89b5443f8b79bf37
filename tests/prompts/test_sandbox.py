"""Templates cannot escape the sandbox: no class/globals walks, no environment, no files, no mutation, no bombs."""

from __future__ import annotations

import os

import pytest

import ondo
from ondo.errors import InvalidInput
from ondo.workspace import Workspace

SECRET = "ondo-sandbox-secret-4242"

# Refused when the template is registered: private attributes and template loading.
STATIC_ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ().__class__.__base__.__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.environ }}",
    "{{ joiner.__init__.__globals__['os'].environ }}",
    "{{ namespace.__init__.__globals__.os.environ }}",
    "{{ range.__self__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ text.__class__ }}",
    "{{ text['__class__'] }}",
    "{{ text|attr('__class__') }}",
    "{{ lipsum.__globals__.os.environ }}",
    "{% include '/etc/passwd' %}",
    "{% include name %}",
    "{% import 'macros.j2' as m %}",
    "{% from '/etc/passwd' import x %}",
    "{% extends '/etc/passwd' %}",
]

# Pass the static check (the dangerous name comes from data or is not private) but are refused when rendered.
RENDER_ESCAPES = [
    ("{{ text|attr(name) }}", {"name": "__class__"}),
    ("{{ text|attr(name)|attr(name2) }}", {"name": "__init__", "name2": "__globals__"}),
    ("{{ dict.mro() }}", {}),
    ("{{ '{0.__class__.__mro__}'.format(text) }}", {}),
    ("{{ fmt.format_map(d) }}", {"fmt": "{x.__class__.__mro__}", "d": {"x": 1}}),
    ("{{ fmt.format(text) }}", {"fmt": "{0.__init__.__globals__}"}),
    ("{% set l = [1] %}{{ l.append(2) }}", {}),
    ("{% set d = {} %}{{ d.update(a=1) }}", {}),
    ("{{ 'a' * 100000000 }}", {}),
    ("{{ [1] * 100000000 }}", {}),
    ("{{ 9 ** 9999999 }}", {}),
    ("{{ range(1000000000)|list }}", {}),
]


@pytest.fixture(autouse=True)
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONDO_SANDBOX_SECRET", SECRET)


@pytest.mark.parametrize("template", STATIC_ESCAPES)
def test_escapes_are_refused_at_registration(workspace: Workspace, template: str) -> None:
    with pytest.raises(InvalidInput, match=r"cannot (access private attribute|include|import|extend)"):
        ondo.prompts.register("evil", template=template)
    assert ondo.prompts.list() == []


@pytest.mark.parametrize("template", STATIC_ESCAPES[:6])
def test_escapes_inside_chat_messages_are_refused(workspace: Workspace, template: str) -> None:
    with pytest.raises(InvalidInput):
        ondo.prompts.register("evil", template=[{"role": "user", "content": template}])


@pytest.mark.parametrize(("template", "variables"), RENDER_ESCAPES)
def test_escapes_are_refused_at_render(workspace: Workspace, template: str, variables: dict) -> None:
    p = ondo.prompts.register("evil", template=template)
    with pytest.raises(InvalidInput, match=r"sandbox|template error"):
        p.render(text="hello", **variables)


@pytest.mark.parametrize(
    "template", ["{{ os.environ }}", "{{ environ }}", "{{ config }}", "{{ request }}", "{{ self }}", "{{ cycler }}"]
)
def test_environment_variables_never_leak(workspace: Workspace, template: str) -> None:
    assert os.environ["ONDO_SANDBOX_SECRET"] == SECRET
    p = ondo.prompts.register("probe", template=template)
    try:
        out = p.render()
    except InvalidInput as exc:  # a missing variable, not a leak
        assert SECRET not in str(exc)
    else:
        assert SECRET not in out


def test_sandbox_still_allows_ordinary_templates(workspace: Workspace) -> None:
    p = ondo.prompts.register(
        "ok",
        template=(
            "{% for d in docs %}{{ loop.index }}. {{ d.title | upper }}{{ sep }}{% endfor %}"
            "{% set ns = namespace(n=0) %}{% for d in docs %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}"
            "{{ ' ' ~ (docs | map(attribute='title') | join(',')) }} {{ 2 ** 10 }} {{ 'ab' * 3 }}"
        ),
    )
    out = p.render(docs=[{"title": "a"}, {"title": "b"}], sep=";")
    assert out == "1. A;2. B;2 a,b 1024 ababab"
