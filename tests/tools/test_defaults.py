from __future__ import annotations

import jsonschema
import pytest

from plait.tools import (
    Sandbox,
    SecurityLevel,
    ToolDefinitionError,
    ToolDenied,
    default_tools,
)

SAFE = ["base64", "calculator", "csv_analyze", "datetime", "diff", "hash", "json_query",
        "regex", "template", "text", "uuid", "validate_json"]
FILES = ["archive_extract", "archive_list", "file_list", "file_read", "file_search",
         "file_write"]


def test_safe_tools_only_by_default() -> None:
    registry = default_tools()
    assert registry.names() == SAFE
    assert registry.max_level is SecurityLevel.RESTRICTED
    assert {t.level for t in registry} == {SecurityLevel.SAFE}


def test_everything(sandbox: Sandbox) -> None:
    registry = default_tools(sandbox=sandbox.root, http_allowlist=["example.com"],
                             commands=["echo"], max_level="privileged")
    assert registry.names() == sorted([*SAFE, *FILES, "http_request", "web_page",
                                       "run_process"])
    levels = {t.name: t.level for t in registry}
    assert levels["run_process"] is SecurityLevel.PRIVILEGED
    assert all(levels[name] is SecurityLevel.RESTRICTED
               for name in [*FILES, "http_request", "web_page"])


def test_configuration_mistakes_are_loud(sandbox: Sandbox) -> None:
    with pytest.raises(ToolDenied):
        default_tools(sandbox=sandbox, max_level="safe")
    with pytest.raises(ToolDefinitionError, match="sandbox"):
        default_tools(commands=["echo"], max_level="privileged")


def test_every_schema_is_valid_and_described(sandbox: Sandbox) -> None:
    registry = default_tools(sandbox=sandbox, http_allowlist=["example.com"],
                             commands=["echo"], max_level="privileged")
    for schema in registry.schemas():
        function = schema["function"]
        assert isinstance(function, dict)
        assert function["description"], function["name"]
        parameters = function["parameters"]
        jsonschema.Draft202012Validator.check_schema(parameters)
        assert isinstance(parameters, dict)
        assert parameters["type"] == "object"
        assert "$defs" not in parameters
        properties = parameters["properties"]
        assert isinstance(properties, dict)
        for name, prop in properties.items():
            assert isinstance(prop, dict)
            assert prop.get("description"), f"{function['name']}.{name}"
