# plait — the two commands a fresh machine needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
# llama-cpp-python (the embedded local model) builds from source: a native build crashes on
# these machines, so build portable code. pip caches the built wheel: only the first install
# on a machine pays the ~5 minutes.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF

.PHONY: postgres demo test test-fast lint typecheck bench bench-quick bench-llm bench-store bench-rag clean help

help:
	@echo "make demo        set up .venv, ingest plait's docs and answer a question about them with citations (offline, no keys)"
	@echo "make test        install test dependencies and run the whole suite (lint, types, layers, tests)"
	@echo "make test-fast   unit tests only, stop at the first failure"
	@echo "make bench       compare plait with LangGraph and GraphBit (writes bench/results/)"
	@echo "make bench-llm   LLM workflows against a mock server: plait, LangGraph, GraphBit, bare clients"
	@echo "make bench-store durable execution: checkpoints, state, sessions, event bus; LangGraph's checkpointers"
	@echo "make bench-rag   vector search at 100K x 384: embedded store, faiss, Chroma, pgvector, NumPy; ingestion"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -U pip

# Re-install only when the project metadata changes.
# torch first, pinned: pip takes the CPU build that lies on this machine's disk.
$(VENV)/.installed-torch: | $(BIN)/python
	$(PIP) install "torch==2.13.0"
	@touch $@

$(VENV)/.installed-cli: pyproject.toml | $(VENV)/.installed-torch
	$(PIP) install -e ".[cli,local,rag]"
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/.installed-torch
	$(PIP) install -e ".[dev]"
	@touch $@ $(VENV)/.installed-cli

$(VENV)/.installed-bench: pyproject.toml | $(VENV)/.installed-dev
	$(PIP) install -e ".[dev,bench]"
	@touch $@

# The main job on the embedded defaults: ingest plait's own docs into the embedded vector store
# (local MiniLM embeddings) and answer a question with numbered citations (local SmolLM2).
DEMO_QUESTION ?= How does plait skip unchanged documents when it ingests a folder again?
demo: $(VENV)/.installed-cli
	$(BIN)/plait run examples/docs-qa.yaml --input source=docs --input "question=$(DEMO_QUESTION)"

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests examples bench
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

# PostgreSQL 15 + pgvector for the store and vector-store conformance suites (skips when present).
postgres:
	@bash scripts/setup-postgres.sh

test: lint typecheck postgres
	PLAIT_REQUIRE_PG=1 $(BIN)/pytest -q

test-fast: $(VENV)/.installed-dev
	$(BIN)/pytest -q -x -m "not slow"

bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench.engine

bench-quick: $(VENV)/.installed-bench
	$(BIN)/python -m bench.engine --quick

bench-llm: $(VENV)/.installed-bench
	$(BIN)/python -m bench.llm

# PostgreSQL rows need PostgreSQL 15 (make postgres); without it they are skipped.
bench-store: $(VENV)/.installed-bench
	$(BIN)/python -m bench.store

# About an hour on 2 cores (the first run also embeds 101K texts, cached in bench/data/);
# pgvector rows need PostgreSQL 15 + pgvector (make postgres), else they are skipped.
bench-rag: $(VENV)/.installed-bench
	$(BIN)/python -m bench.rag

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
