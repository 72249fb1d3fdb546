"""``plait init``, then validating and running the scaffold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plait.cli.config import find_project
from plait.cli.project import SCAFFOLD
from plait.graph.spec import Profile
from tests.cli.conftest import Invoke


def test_init_writes_the_scaffold(invoke: Invoke, tmp_path: Path) -> None:
    result = invoke("init", "demo", "--path", str(tmp_path))
    assert result.exit_code == 0, result.output
    root = tmp_path / "demo"
    for item in SCAFFOLD:
        assert (root / item.target).is_file()
    assert "Next steps" in result.stdout
    assert "plait run hello" in result.stdout
    assert 'name = "demo"' in (root / "plait.toml").read_text()
    assert (root / "README.md").read_text().startswith("# demo\n")
    project = find_project(root / "workflows")
    assert project is not None
    assert project.name == "demo"
    assert project.profile is Profile.LOW_LATENCY
    assert project.workflows == root / "workflows"


def test_scaffold_validates_and_runs(invoke: Invoke, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert invoke("init", "demo", "--path", str(tmp_path)).exit_code == 0
    hello = tmp_path / "demo" / "workflows" / "hello.yaml"
    checked = invoke("validate", str(hello))
    assert checked.exit_code == 0, checked.output
    run = invoke("run", str(hello), "--json")
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["outputs"] == {"message": "Hello, world.", "words": 2}
    # inside the project, workflows are found by name
    monkeypatch.chdir(tmp_path / "demo")
    loud = invoke("run", "hello", "--json", "-i", "name=Ada", "-i", "excited=true")
    assert loud.exit_code == 0, loud.output
    data = json.loads(loud.stdout)
    assert data["outputs"]["message"] == "HELLO, ADA!"
    assert data["nodes"]["calm"]["status"] == "skipped"
    assert invoke("graph", "hello", "-F", "mermaid").exit_code == 0


def test_init_refuses_a_non_empty_folder(invoke: Invoke, tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "keep.txt").write_text("mine")
    result = invoke("init", "demo", "--path", str(tmp_path))
    assert result.exit_code == 2
    assert "error[target_exists]" in result.output
    assert "not empty" in result.output
    assert (tmp_path / "demo" / "keep.txt").read_text() == "mine"
    assert not (tmp_path / "demo" / "plait.toml").exists()


def test_init_accepts_an_empty_folder_and_refuses_a_file(invoke: Invoke,
                                                         tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert invoke("init", "empty", "--path", str(tmp_path)).exit_code == 0
    (tmp_path / "taken").write_text("")
    result = invoke("init", "taken", "--path", str(tmp_path))
    assert result.exit_code == 2
    assert "not a folder" in result.output


@pytest.mark.parametrize("name", ["../up", "a/b", "-x", ".hidden", "sp ace"])
def test_init_rejects_bad_names(invoke: Invoke, tmp_path: Path, name: str) -> None:
    result = invoke("init", name, "--path", str(tmp_path))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_templates_ship_with_the_package() -> None:
    from importlib.resources import files

    folder = files("plait.cli").joinpath("templates")
    for item in SCAFFOLD:
        assert folder.joinpath(item.template).is_file()
