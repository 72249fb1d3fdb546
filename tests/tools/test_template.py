from __future__ import annotations

import pytest

from plait.tools import SandboxViolation, ToolArgumentError, ToolFailed, ToolLimitExceeded
from plait.tools.builtin import TemplateTool
from plait.tools.builtin.templates import render_template

render = TemplateTool()


async def test_renders_with_variables_filters_and_loops() -> None:
    template = ("Hello {{ user.name|title }}!\n"
                "{% for item in items %}- {{ item.label }}: {{ '%.2f'|format(item.price) }}\n"
                "{% endfor %}Total: {{ items|sum(attribute='price') }}; "
                "{{ items|map(attribute='label')|join(', ') }}; {{ 'a' ~ 'b' }} {{ 2 ** 8 }}")
    result = await render.call({"template": template, "variables": {
        "user": {"name": "ada lovelace"},
        "items": [{"label": "tea", "price": 2.5}, {"label": "cake", "price": 4}]}})
    assert result == ("Hello Ada Lovelace!\n- tea: 2.50\n- cake: 4.00\nTotal: 6.5; tea, cake; "
                      "ab 256")


async def test_undefined_variables_and_syntax_errors_are_argument_errors() -> None:
    with pytest.raises(ToolArgumentError, match="'missing' is undefined"):
        await render.call({"template": "{{ missing }}"})
    with pytest.raises(ToolArgumentError, match="invalid template"):
        await render.call({"template": "{% for %}"})


@pytest.mark.parametrize("template", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ items.append(4) }}",
    "{{ config }}{{ self.__init__.__globals__ }}",
    "{{ '{0.__class__}'.format(1) }}",
    "{{ 'x'.ljust(100000000) }}",
])
async def test_escapes_from_the_sandbox_are_refused(template: str) -> None:
    with pytest.raises((SandboxViolation, ToolArgumentError)):
        await render.call({"template": template, "variables": {"items": [1, 2, 3]}})


@pytest.mark.parametrize("template", [
    "{{ 'x' * 100000000 }}",
    "{{ [1] * 100000000 }}",
    "{{ 9 ** 99999 }}",
    "{{ (9 ** 999) ** 999 }}",
    "{% set ns = namespace(s='ab') %}{% for i in range(40) %}"
    "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    "{% set ns = namespace(s='ab') %}{% for i in range(40) %}"
    "{% set ns.s = ns.s + ns.s %}{% endfor %}",
    "{{ '%100000000d' % 1 }}",
    "{{ '%*d'|format(100000000, 1) }}",
    "{{ 'abc'|replace('', 'x' * 900000) }}",
    "{{ 'a\\nb'|indent(100000000) }}",
    "{{ (['x' * 900000] * 2)|join }}",
    "{{ range(10)|slice(100000000) }}",
    "{{ range(200000)|list }}",
    "{% for i in range(300) %}{% for j in range(300) %}{% for k in range(300) %}"
    "{% endfor %}{% endfor %}{% endfor %}",
])
async def test_resource_bombs_are_stopped(template: str) -> None:
    with pytest.raises(ToolLimitExceeded):
        await render.call({"template": template})


def test_the_step_budget_stops_loops_over_data() -> None:
    data = list(range(2000))
    template = "{% for a in data %}{% for b in data %}{% endfor %}{% endfor %}done"
    with pytest.raises(ToolLimitExceeded, match="steps"):
        render_template(template, {"data": data}, max_steps=100_000)
    assert render_template("{% for a in data %}{% endfor %}done", {"data": data}) == "done"


def test_output_is_capped_while_streaming() -> None:
    template = "{% for i in range(1000) %}{{ 'x' * 1000 }}{% endfor %}"
    with pytest.raises(ToolLimitExceeded, match="output"):
        render_template(template, {}, max_output=10_000)


async def test_lipsum_and_center_are_gone() -> None:
    with pytest.raises(ToolArgumentError):
        await render.call({"template": "{{ lipsum(1000000) }}"})
    with pytest.raises(ToolArgumentError):
        await render.call({"template": "{{ 'x'|center(100000000) }}"})


async def test_sum_adds_numbers_only() -> None:
    with pytest.raises(ToolArgumentError, match="numbers"):
        await render.call({"template": "{{ [[1], [2]]|sum(start=[]) }}"})


async def test_python_errors_inside_templates_fail_the_call() -> None:
    with pytest.raises(ToolFailed, match="ZeroDivisionError"):
        await render.call({"template": "{{ 1 // 0 }}"})


def test_tracing_is_restored() -> None:
    import sys

    before = sys.gettrace()
    render_template("{{ 1 }}", {})
    assert sys.gettrace() is before
