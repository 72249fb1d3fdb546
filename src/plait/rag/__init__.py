"""Retrieval-augmented generation: loaders, chunkers, embedders, vector stores, retrieval,
ingestion and evaluation. Independent of the engine, the LLM layer and the tools."""
