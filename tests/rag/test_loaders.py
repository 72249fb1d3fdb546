"""Document loaders: every format, metadata, stable ids, globs, and bad files reported per file
while the rest of the batch goes on. Fixtures are generated in ``tmp_path``."""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from plait.errors import LoadError, UsageError
from plait.rag.loaders import (
    CsvLoader,
    FileInfo,
    JsonlLoader,
    JsonLoader,
    Loader,
    LoadFailure,
    LoadReport,
    TextLoader,
    compile_glob,
    decode_text,
    default_loaders,
    html_to_text,
    load,
    loaders_from_config,
)
from plait.rag.types import Document


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


def make_pdf(path: Path, pages: list[str], *, title: str | None = None,
             password: str | None = None) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    if title:
        pdf.set_title(title)
    if password is not None:
        pdf.set_encryption(owner_password="owner", user_password=password)
    for text in pages:
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        if text:
            pdf.multi_cell(0, 10, text)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path


def make_docx(path: Path, *, title: str | None = None) -> Path:
    import docx

    document = docx.Document()
    if title:
        document.core_properties.title = title
    document.add_heading("Quarterly report", 1)
    document.add_paragraph("Revenue grew in every region.")
    table = document.add_table(rows=2, cols=2)
    for (r, c), value in {(0, 0): "region", (0, 1): "growth",
                          (1, 0): "north", (1, 1): "12 %"}.items():
        table.cell(r, c).text = value
    document.add_paragraph("Costs were flat.")
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path


def by_id(report: LoadReport) -> dict[str, Document]:
    return {d.id: d for d in report.documents}


def failures(report: LoadReport) -> dict[str, str]:
    return {f.source: f.message for f in report.failures}


# --- text, Markdown, HTML ---------------------------------------------------------------------

def test_text_file_keeps_text_and_metadata(tmp_path: Path) -> None:
    path = write(tmp_path / "notes.txt", "Ünïcödé ✓ 日本語\r\nsecond line\r\n")
    report = load(path)
    assert report.ok
    assert report.failures == []
    [doc] = report.documents
    assert doc.id == path.as_posix()
    assert doc.text == "Ünïcödé ✓ 日本語\nsecond line\n"
    assert doc.metadata["source"] == path.as_posix()
    assert doc.metadata["type"] == "text"
    assert doc.metadata["title"] == "notes.txt"
    assert doc.metadata["modified"] == pytest.approx(os.stat(path).st_mtime)
    assert "page" not in doc.metadata


def test_text_encodings_are_detected() -> None:
    assert decode_text("naïve".encode("utf-16")) == "naïve"
    assert decode_text(b"\xef\xbb\xbfbom") == "bom"
    assert decode_text("café".encode("cp1252")) == "café"
    assert decode_text("café".encode("latin-1"), encoding="latin-1") == "café"
    with pytest.raises(LoadError, match="cannot decode as ascii"):
        decode_text("café".encode(), encoding="ascii")


@pytest.mark.parametrize("junk", [
    bytes(range(256)) * 4,
    b"\x00\x01\x02" * 100,
    b"PK\x03\x04" + bytes(range(32)) * 20,
])
def test_binary_junk_with_a_text_extension_is_a_failure(tmp_path: Path, junk: bytes) -> None:
    write(tmp_path / "junk.txt", junk)
    write(tmp_path / "good.txt", "fine")
    report = load(tmp_path)
    assert [d.id for d in report.documents] == ["good.txt"]
    assert failures(report) == {"junk.txt": "not a text file (binary content)"}


def test_empty_and_blank_files_are_skipped_not_failed(tmp_path: Path) -> None:
    write(tmp_path / "empty.md", "")
    write(tmp_path / "blank.txt", "  \n\n\t")
    write(tmp_path / "empty.json", "[]")
    report = load(tmp_path)
    assert report.documents == []
    assert report.failures == []
    assert {s.source for s in report.skipped} == {"empty.md", "blank.txt", "empty.json"}


def test_markdown_title_from_first_heading_text_kept(tmp_path: Path) -> None:
    text = "Intro line\n\n```sh\n# not a heading\n```\n\n## Getting *started* ##\n\nBody.\n"
    report = load(write(tmp_path / "guide.md", text))
    [doc] = report.documents
    assert doc.text == text
    assert doc.metadata["title"] == "Getting *started*"
    assert doc.metadata["type"] == "markdown"


def test_markdown_front_matter_gives_title_and_is_left_out(tmp_path: Path) -> None:
    text = "---\ntitle: From front matter\ntags: [a]\n---\n# Heading\n\nBody\n"
    [doc] = load(write(tmp_path / "fm.md", text)).documents
    assert doc.metadata["title"] == "From front matter"
    assert doc.text == "# Heading\n\nBody\n"
    # a thematic break is not front matter
    text = "---\nnot: [valid\n---\n# H\n"
    [doc] = load(write(tmp_path / "rule.md", text)).documents
    assert doc.text == text
    assert doc.metadata["title"] == "H"


def test_html_visible_text_and_title(tmp_path: Path) -> None:
    html = """<!doctype html><html><head><title> The  Page </title>
    <style>body { color: red }</style><script>var secret = 1;</script></head>
    <body><nav>Menu</nav><h1>Main heading</h1><p>First   paragraph
    wraps.</p><div hidden>hidden text <div>nested</div> still hidden</div>
    <ul><li>one</li><li>two &amp; three</li></ul><pre>  keep
    indent</pre><table><tr><td>a</td><td>b</td></tr></table>
    <noscript>enable js</noscript><p>Last<br>line</p></body></html>"""
    [doc] = load(write(tmp_path / "page.html", html)).documents
    assert doc.metadata["title"] == "The Page"
    assert doc.metadata["type"] == "html"
    assert doc.text == ("Menu\n\nMain heading\n\nFirst paragraph wraps.\n\none\ntwo & three\n\n"
                        "  keep\n    indent\n\na b\n\nLast\nline")
    for hidden in ("secret", "color", "hidden text", "nested", "enable js"):
        assert hidden not in doc.text


def test_html_title_falls_back_to_h1_and_survives_broken_markup() -> None:
    text, title = html_to_text("<h1>Only <em>heading</em></h1><p>unclosed <b>bold<p>next")
    assert title == "Only heading"
    assert text == "Only heading\n\nunclosed bold\n\nnext"
    assert html_to_text("")[0] == ""


# --- PDF and DOCX -----------------------------------------------------------------------------

def test_pdf_one_document_per_page_with_page_metadata(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "report.pdf", ["Alpha page text", "", "Gamma page text"],
                    title="Annual report")
    report = load(tmp_path)
    docs = by_id(report)
    assert list(docs) == ["report.pdf#p1", "report.pdf#p3"]  # the blank page has no text
    first = docs["report.pdf#p1"]
    assert "Alpha page text" in first.text
    assert first.metadata["page"] == 1
    assert first.metadata["pages"] == 3
    assert first.metadata["title"] == "Annual report"
    assert first.metadata["type"] == "pdf"
    assert first.metadata["source"] == "report.pdf"
    assert docs["report.pdf#p3"].metadata["page"] == 3
    assert first.metadata["modified"] == pytest.approx(path.stat().st_mtime)


def test_pdf_without_text_is_skipped(tmp_path: Path) -> None:
    make_pdf(tmp_path / "scan.pdf", ["", ""])
    report = load(tmp_path)
    assert report.documents == []
    assert report.failures == []
    assert [(s.source, s.message) for s in report.skipped] == [
        ("scan.pdf", "no text layer (scanned pages would need OCR)")]


def test_corrupt_and_truncated_pdfs_fail_per_file(tmp_path: Path) -> None:
    good = make_pdf(tmp_path / "good.pdf", ["Good text"])
    write(tmp_path / "garbage.pdf", b"%PDF-1.7\nthis is not really a pdf\n")
    write(tmp_path / "notpdf.pdf", b"hello, I am text")
    write(tmp_path / "truncated.pdf", good.read_bytes()[:200])
    report = load(tmp_path)
    assert list(by_id(report)) == ["good.pdf#p1"]
    failed = failures(report)
    assert set(failed) == {"garbage.pdf", "notpdf.pdf", "truncated.pdf"}
    assert all(m.startswith("cannot read this pdf file: ") for m in failed.values())


def test_encrypted_pdf_needs_its_password(tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    make_pdf(tmp_path / "secret.pdf", ["Classified text"], password="s3cret")
    report = load(tmp_path)
    assert failures(report) == {
        "secret.pdf": "encrypted PDF: the password is missing or wrong"}
    report = load(tmp_path, loaders=loaders_from_config({"pdf": {"password": "s3cret"}}))
    assert "Classified text" in report.documents[0].text


def test_docx_paragraphs_and_tables_in_order(tmp_path: Path) -> None:
    make_docx(tmp_path / "report.docx")
    [doc] = load(tmp_path).documents
    assert doc.id == "report.docx"
    assert doc.text == ("Quarterly report\n\nRevenue grew in every region.\n\n"
                        "region | growth\nnorth | 12 %\n\nCosts were flat.")
    assert doc.metadata["title"] == "Quarterly report"
    assert doc.metadata["type"] == "docx"
    make_docx(tmp_path / "titled.docx", title="Property title")
    assert by_id(load(tmp_path))["titled.docx"].metadata["title"] == "Property title"


def test_corrupt_docx_fails_per_file(tmp_path: Path) -> None:
    make_docx(tmp_path / "good.docx")
    write(tmp_path / "junk.docx", b"PK\x03\x04 definitely not a zip")
    with zipfile.ZipFile(tmp_path / "emptyzip.docx", "w") as z:
        z.writestr("hello.txt", "a zip, but not a Word document")
    report = load(tmp_path)
    assert list(by_id(report)) == ["good.docx"]
    failed = failures(report)
    assert set(failed) == {"junk.docx", "emptyzip.docx"}
    assert all(m.startswith("cannot read this docx file: ") for m in failed.values())


# --- CSV, JSON, JSON Lines --------------------------------------------------------------------

CSV = "name,body,year\nAda,Analytical engine notes,1843\nAlan,,1936\nGrace,Compilers,1952\n"


def test_csv_default_is_one_document_per_file(tmp_path: Path) -> None:
    [doc] = load(write(tmp_path / "people.csv", CSV)).documents
    assert doc.text == ("name: Ada; body: Analytical engine notes; year: 1843\n"
                        "name: Alan; year: 1936\n"
                        "name: Grace; body: Compilers; year: 1952")
    assert doc.metadata["columns"] == "name, body, year"
    assert doc.metadata["type"] == "csv"


def test_csv_rows_with_text_column(tmp_path: Path) -> None:
    path = write(tmp_path / "people.csv", CSV)
    loaders = loaders_from_config({"csv": {"text_column": "body"}})
    docs = load(path, loaders=loaders).documents
    assert [d.id for d in docs] == [f"{path.as_posix()}#r1", f"{path.as_posix()}#r3"]
    assert docs[0].text == "Analytical engine notes"
    assert docs[0].metadata["name"] == "Ada"
    assert docs[0].metadata["year"] == "1843"
    assert docs[0].metadata["row"] == 1
    assert "body" not in docs[0].metadata
    loaders = {".csv": CsvLoader(text_column="body", id_column="name")}
    assert [d.id.split("#")[1] for d in load(path, loaders=loaders).documents] == [
        "Ada", "Grace"]


def test_csv_delimiters_tsv_missing_column_and_duplicate_ids(tmp_path: Path) -> None:
    write(tmp_path / "semi.csv", "a;b\n1;x\n2;y\n")
    write(tmp_path / "tabs.tsv", "a\tb\n1\tx, with comma\n")
    report = load(tmp_path)
    docs = by_id(report)
    assert docs["semi.csv"].text == "a: 1; b: x\na: 2; b: y"
    assert docs["tabs.tsv"].text == "a: 1; b: x, with comma"
    loaders = {".csv": CsvLoader(text_column="nope")}
    report = load(tmp_path / "semi.csv", loaders=loaders)
    assert list(failures(report).values()) == ["no column 'nope' (columns: a, b)"]
    write(tmp_path / "dup.csv", "id,text\n1,a\n1,b\n2,c\n")
    report = load(tmp_path / "dup.csv", loaders={".csv": CsvLoader("text", "id")})
    assert [d.text for d in report.documents] == ["a", "c"]
    assert [str(f) for f in report.failures] == [
        f"{(tmp_path / 'dup.csv').as_posix()}#1: record 2: duplicate id '1'"]


def test_json_array_object_and_text_field(tmp_path: Path) -> None:
    records = [{"text": "first", "lang": "en", "n": 1, "nested": {"x": 1}},
               {"title": "Second", "body": "no text field", "ok": True},
               "a bare string"]
    write(tmp_path / "items.json", json.dumps(records))
    write(tmp_path / "one.json", json.dumps({"name": "config", "size": 3}))
    docs = by_id(load(tmp_path))
    assert docs["items.json#r1"].text == "first"
    assert docs["items.json#r1"].metadata["lang"] == "en"
    assert docs["items.json#r1"].metadata["n"] == 1
    assert "nested" not in docs["items.json#r1"].metadata
    assert docs["items.json#r2"].text == "title: Second\nbody: no text field\nok: true"
    assert docs["items.json#r2"].metadata["title"] == "Second"
    assert docs["items.json#r3"].text == "a bare string"
    assert docs["one.json"].text == "name: config\nsize: 3"

    loaders = {".json": JsonLoader(text_field="body")}
    report = load(tmp_path / "items.json", loaders=loaders)
    assert [d.text for d in report.documents] == ["no text field"]
    source = (tmp_path / "items.json").as_posix()
    assert failures(report) == {
        f"{source}#r1": "record 1: no text field 'body'",
        f"{source}#r3": "record 3: expected an object with 'body'"}


def test_invalid_json_is_a_file_failure(tmp_path: Path) -> None:
    write(tmp_path / "bad.json", '{"text": "unterminated')
    report = load(tmp_path)
    assert failures(report) == {
        "bad.json": "invalid JSON: Unterminated string starting at (line 1, column 10)"}


def test_jsonl_one_document_per_line_and_bad_lines_fail_alone(tmp_path: Path) -> None:
    lines = ['{"_id": "d1", "title": "One", "text": "first doc", "metadata": {}}',
             "{broken json",
             "",
             '{"_id": "d2", "text": "second doc", "year": 2020}']
    path = write(tmp_path / "corpus.jsonl", "\n".join(lines) + "\n")
    report = load(path, loaders={".jsonl": JsonlLoader(id_field="_id")})
    source = path.as_posix()
    assert [d.id for d in report.documents] == [f"{source}#d1", f"{source}#d2"]
    assert report.documents[0].metadata["title"] == "One"
    assert report.documents[1].metadata["year"] == 2020
    assert report.documents[1].metadata["_id"] == "d2"
    assert failures(report) == {f"{source}#r2": "line 2: invalid JSON: Expecting property "
                                                "name enclosed in double quotes"}
    # without an id field, ids are line numbers
    assert [d.id for d in load(path).documents] == [f"{source}#r1", f"{source}#r4"]


# --- directories, globs, the report -----------------------------------------------------------

@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    write(root / "README.md", "# Readme\n")
    write(root / "guide" / "intro.md", "# Intro\n")
    write(root / "guide" / "deep" / "more.txt", "more")
    write(root / "guide" / "page.html", "<title>Page</title><p>hi</p>")
    write(root / "drafts" / "wip.md", "# WIP\n")
    write(root / ".git" / "config.md", "# hidden dir\n")
    write(root / ".hidden.md", "# hidden file\n")
    write(root / "image.png", b"\x89PNG\r\n\x1a\n" + bytes(100))
    write(root / "Makefile", "all:\n")
    return root


def test_directory_walk_is_recursive_sorted_and_skips_hidden(tree: Path) -> None:
    report = load(tree)
    assert [d.id for d in report.documents] == [
        "README.md", "drafts/wip.md", "guide/deep/more.txt", "guide/intro.md", "guide/page.html"]
    assert report.failures == []
    hidden = load(tree, hidden=True)
    assert {".git/config.md", ".hidden.md"} <= {d.id for d in hidden.documents}


def test_include_and_exclude_globs(tree: Path) -> None:
    ids = [d.id for d in load(tree, include=["*.md"]).documents]
    assert ids == ["README.md", "drafts/wip.md", "guide/intro.md"]
    ids = [d.id for d in load(tree, include=["guide/**"], exclude=["*.html"]).documents]
    assert ids == ["guide/deep/more.txt", "guide/intro.md"]
    ids = [d.id for d in load(tree, exclude=["drafts", "guide/deep/**"]).documents]
    assert ids == ["README.md", "guide/intro.md", "guide/page.html"]
    ids = [d.id for d in load(tree, include=["*.{md,txt}"], exclude=["drafts/*"]).documents]
    assert ids == ["README.md", "guide/deep/more.txt", "guide/intro.md"]
    ids = [d.id for d in load(tree, include="*.md", exclude="drafts").documents]  # one glob
    assert ids == ["README.md", "guide/intro.md"]


def test_include_everything_reports_unsupported_files(tree: Path) -> None:
    report = load(tree, include=["*"])
    failed = failures(report)
    assert set(failed) == {"image.png", "Makefile"}
    assert failed["image.png"].startswith("unsupported file type '.png'; supported: .csv, ")
    assert failed["Makefile"].startswith("unsupported file type without an extension")
    assert len(report.documents) == 5


def test_named_files_missing_paths_and_duplicates(tree: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # sources of named files are the paths as given
    report = load(["kb/guide/intro.md", "./kb/guide/intro.md", "kb/image.png", "nope.md",
                   "kb/guide"])
    assert [d.id for d in report.documents] == ["kb/guide/intro.md", "deep/more.txt",
                                                "page.html"]
    assert failures(report) == {
        "kb/image.png": failures(report)["kb/image.png"],
        "nope.md": "no such file or directory"}
    assert failures(report)["kb/image.png"].startswith("unsupported file type '.png'")


def test_ids_and_texts_are_stable_across_runs(tree: Path) -> None:
    first = load(tree)
    second = load(tree)
    assert [(d.id, d.text, dict(d.metadata)) for d in first.documents] == [
        (d.id, d.text, dict(d.metadata)) for d in second.documents]


def test_one_bad_file_never_stops_the_batch(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "a")
    write(tmp_path / "b.pdf", b"%PDF junk")
    write(tmp_path / "c.docx", b"junk")
    write(tmp_path / "d.json", "{")
    write(tmp_path / "e.txt", bytes(500))
    write(tmp_path / "f.md", "f")
    report = load(tmp_path)
    assert [d.id for d in report.documents] == ["a.txt", "f.md"]
    assert [f.source for f in report.failures] == ["b.pdf", "c.docx", "d.json", "e.txt"]
    with pytest.raises(LoadError, match="4 files or records failed to load") as caught:
        report.check()
    assert caught.value.code == "load_failed"
    assert isinstance(caught.value, UsageError)


def test_check_with_one_failure_names_the_source(tmp_path: Path) -> None:
    report = load(tmp_path / "missing.txt")
    with pytest.raises(LoadError) as caught:
        report.check()
    assert caught.value.source == (tmp_path / "missing.txt").as_posix()
    assert caught.value.reason == "no such file or directory"
    assert load(write(tmp_path / "x.txt", "x")).check().documents[0].text == "x"


def test_unreadable_file_is_a_failure(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads everything")
    path = write(tmp_path / "locked.txt", "secret")
    path.chmod(0)
    try:
        assert failures(load(tmp_path)) == {"locked.txt": "Permission denied"}
    finally:
        path.chmod(0o644)


def test_custom_and_crashing_loaders(tmp_path: Path) -> None:
    write(tmp_path / "script.py", "print('hi')\n")

    class Crashing:
        type = "crash"

        def load(self, file: FileInfo) -> Iterator[Document | LoadFailure]:
            raise RuntimeError("parser exploded")
            yield  # pragma: no cover

    assert isinstance(Crashing(), Loader)
    report = load(tmp_path, loaders={".py": TextLoader(), ".PDF": Crashing()})
    assert [d.text for d in report.documents] == ["print('hi')\n"]
    write(tmp_path / "x.pdf", "whatever")
    report = load(tmp_path / "x.pdf", loaders={".pdf": Crashing()})
    assert [f.message for f in report.failures] == [
        "cannot read this crash file: RuntimeError: parser exploded"]
    with pytest.raises(UsageError, match="file extensions"):
        load(tmp_path, loaders={"py": TextLoader()})


def test_loaders_from_config_validates_everything() -> None:
    loaders = loaders_from_config({"jsonl": {"text_field": "body", "id_field": "_id"}})
    assert loaders[".jsonl"] == JsonlLoader(text_field="body", id_field="_id")
    assert loaders[".ndjson"] == loaders[".jsonl"]
    assert set(loaders) == set(default_loaders())
    assert loaders_from_config({"csv": {"text_column": "t"}})[".tsv"] == CsvLoader(
        text_column="t", delimiter="\t")
    with pytest.raises(UsageError) as caught:
        loaders_from_config({"rst": {}, "csv": {"column": "x"}, "json": {"text_field": 3},
                             "pdf": "no"})  # type: ignore[dict-item]
    message = str(caught.value)
    assert "loaders.rst: unknown loader type" in message
    assert "loaders.csv: unknown option(s) 'column'" in message
    assert "loaders.json: option(s) 'text_field' must be strings" in message
    assert "loaders.pdf: expected an object of options" in message


@pytest.mark.parametrize(("pattern", "yes", "no"), [
    ("*.md", ["a.md", "x/y/a.md"], ["a.mdx", "a.txt"]),
    ("docs/*.md", ["docs/a.md"], ["docs/x/a.md", "a.md"]),
    ("docs/**/*.md", ["docs/a.md", "docs/x/y/a.md"], ["other/a.md"]),
    ("**/test_*", ["test_a", "x/test_b.py"], ["x/atest_b"]),
    ("*.{md,txt}", ["a.md", "b/c.txt"], ["a.rst"]),
    ("file?.txt", ["file1.txt"], ["file10.txt"]),
    ("[!a]*.txt", ["b.txt"], ["a.txt"]),
    ("build/**", ["build/x", "build/x/y"], ["src/build"]),
])
def test_compile_glob(pattern: str, yes: list[str], no: list[str]) -> None:
    rx = compile_glob(pattern)
    assert all(rx.match(p) for p in yes), pattern
    assert not any(rx.match(p) for p in no), pattern


def test_compile_glob_rejects_bad_patterns() -> None:
    for bad in ("", "/abs/*.md", "*.{md,txt"):
        with pytest.raises(UsageError):
            compile_glob(bad)
