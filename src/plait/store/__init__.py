"""Durable storage: SQLite (embedded default) and PostgreSQL through SQLAlchemy 2 (async),
with Alembic migrations. Implements the protocols the engine declares in
:mod:`plait.graph.durability` and plait's own: scoped state, sessions and artifacts."""
