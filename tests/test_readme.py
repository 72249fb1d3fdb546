"""The README's Python example runs, and the README opens with the two set-up commands."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_opens_with_the_two_commands() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README.read_text(), re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["make demo", "make test"]


def test_readme_python_examples_run() -> None:
    for block in re.findall(r"```python\n(.*?)```", README.read_text(), re.S):
        exec(compile(block, str(README), "exec"), {})
