"""Finding the fenced code blocks of the Markdown docs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

_FENCE = re.compile(r"^(```+)\s*([\w-]*)\s*(.*)$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    """1-based line number of the block's first line of code."""
    lang: str
    flags: frozenset[str]
    code: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def doc_files() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def blocks(path: Path) -> list[Block]:
    """Top-level fenced blocks: ```lang flags...``` ... ```."""
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        fence, lang, rest = match.groups()
        start = i + 1
        end = start
        while end < len(lines) and not lines[end].startswith(fence):
            end += 1
        found.append(Block(path, start + 1, lang.lower(), frozenset(rest.split()),
                           "\n".join(lines[start:end]) + "\n"))
        i = end + 1
    return found
