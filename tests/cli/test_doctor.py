"""``plait version`` and ``plait doctor``."""

from __future__ import annotations

import json
import platform

from plait import __version__
from plait.cli.doctor import checks, find_postgres
from tests.cli.conftest import Invoke


def test_version(invoke: Invoke) -> None:
    result = invoke("version")
    assert result.exit_code == 0
    assert f"plait {__version__}" in result.stdout
    assert f"Python {platform.python_version()}" in result.stdout
    assert "platform " in result.stdout


def test_doctor_table_exits_0(invoke: Invoke) -> None:
    result = invoke("doctor")
    assert result.exit_code == 0, result.output
    for name in ("Python", "plait", "pydantic", "typer", "rich", "PyYAML", "Jinja2",
                 "llama-cpp-python", "sentence-transformers", "psycopg", "redis", "chromium",
                 "postgres binaries"):
        assert name in result.stdout
    assert "plait is ready" in result.stdout


def test_doctor_json(invoke: Invoke) -> None:
    data = json.loads(invoke("doctor", "--json").stdout)
    by_name = {item["name"]: item for item in data}
    assert by_name["plait"]["detail"] == __version__
    assert by_name["typer"]["ok"] is True
    assert by_name["typer"]["required"] is True


def test_missing_components_are_reported_not_fatal() -> None:
    found = {c.name: c for c in checks(which=lambda _: None, glob_=lambda _: [],
                                       exists=lambda _: False)}
    assert found["chromium"].ok is False
    assert found["chromium"].detail == "not installed"
    assert found["postgres binaries"].ok is False
    assert found["redis-server"].ok is False
    assert found["rich"].ok is True


def test_postgres_is_found_on_path_or_in_debian_folders() -> None:
    assert find_postgres(lambda tool: f"/opt/pg/bin/{tool}" if tool == "pg_config" else None,
                         lambda _: []) == "/opt/pg/bin"
    assert find_postgres(lambda _: None, lambda _: ["/usr/lib/postgresql/13/bin/initdb",
                                                    "/usr/lib/postgresql/15/bin/initdb"]
                         ) == "/usr/lib/postgresql/15/bin"
    assert find_postgres(lambda _: None, lambda _: []) is None
