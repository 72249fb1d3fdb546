"""The in-memory state store passes the conformance suite; scopes and redaction rules."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, SecretBytes, SecretStr

from plait.errors import RegistryError, UsageError
from plait.store.secrets import is_secret_name, redact
from plait.store.state import MemoryStateStore, MigrationRegistry, Scope, ScopeKind, StateStore

from .conformance_state import StateStoreConformance


class TestMemoryStateStore(StateStoreConformance):
    @pytest.fixture
    def store(self) -> MemoryStateStore:
        return MemoryStateStore()

    @pytest.fixture
    def other_store(self) -> MemoryStateStore:
        return MemoryStateStore()


def test_stores_satisfy_the_protocol() -> None:
    assert isinstance(MemoryStateStore(), StateStore)


@pytest.mark.parametrize(
    ("scope", "key"),
    [
        (Scope.GLOBAL, "global"),
        (Scope.tenant("acme"), "tenant:acme"),
        (Scope.session("s1"), "session:s1"),
        (Scope.workflow("triage"), "workflow:triage"),
        (Scope.node("triage", "route"), "node:triage:route"),
        (Scope.custom("team", "blue"), "custom:team:blue"),
        (Scope.tenant("a:b%c"), "tenant:a%3Ab%25c"),
        (Scope.custom("x:y", "%3A"), "custom:x%3Ay:%253A"),
    ],
)
def test_scopes_render_stable_keys(scope: Scope, key: str) -> None:
    assert scope.key == str(scope) == key
    assert Scope.parse(key) == scope


def test_scopes_are_validated() -> None:
    with pytest.raises(UsageError, match="non-empty strings"):
        Scope.tenant("")
    with pytest.raises(UsageError, match="2 part"):
        Scope(ScopeKind.NODE, ("only-one",))
    with pytest.raises(UsageError, match="unknown scope kind"):
        Scope.parse("planet:mars")
    assert Scope("tenant", ("a",)).kind is ScopeKind.TENANT  # type: ignore[arg-type]
    assert Scope(ScopeKind.GLOBAL) == Scope.GLOBAL


def test_migration_registry_refuses_mistakes() -> None:
    registry = MigrationRegistry()
    registry.register("a:*", 1, lambda v: v)
    with pytest.raises(RegistryError, match="already registered"):
        registry.register("a:*", 1, lambda v: v)
    with pytest.raises(RegistryError, match="starts at 1"):
        registry.register("a:*", 0, lambda v: v)
    assert registry.current("a:1", None) == 2
    assert registry.current("b:1", None) == 1
    assert registry.upgrade("b:1", None, {"x": 1}, 1) == ({"x": 1}, 1)
    assert registry.upgrade("a:1", None, "v", 5) == ("v", 5)  # newer than known: untouched


@pytest.mark.parametrize(
    ("name", "secret"),
    [("api_key", True), ("apiKey", True), ("X-Api-Key", True), ("OPENAI_API_KEY", True),
     ("password", True), ("db_password", True), ("access_token", True), ("refreshToken", True),
     ("client_secret", True), ("Authorization", True), ("private_key", True),
     ("credentials", True), ("max_tokens", False), ("tokens", False), ("tokenizer", False),
     ("keyboard", False), ("key", False), ("monkey", False), ("name", False),
     ("secretary", False), ("author", False)],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


def test_redact_walks_models_dataclasses_and_containers() -> None:
    from dataclasses import dataclass

    class Inner(BaseModel):
        blob: SecretBytes
        ok: int = 1

    @dataclass
    class Outer:
        inner: Inner
        items: tuple[SecretStr, ...]
        password: str

    value = Outer(Inner(blob=SecretBytes(b"raw")), (SecretStr("a"),), "hunter2")
    assert redact(value) == {"inner": {"blob": "***", "ok": 1}, "items": ["***"],
                             "password": "***"}
    assert redact("sk-1", key="api_key") == "***"
    assert redact(None, key="api_key") is None
    assert redact({"token": ""}) == {"token": "***"}


def test_the_logging_filter_redacts_extras_and_arguments(
        caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from plait.store.secrets import RedactSecrets

    logger = logging.getLogger("plait.tests.secrets")
    logger.addFilter(RedactSecrets())
    try:
        with caplog.at_level(logging.INFO, logger="plait.tests.secrets"):
            logger.info("calling %s with %s", "api", {"api_key": "sk-1", "model": "m"},
                        extra={"access_token": "tok-1", "run_id": "r1"})
            logger.info("config %(password)s %(user)s", {"password": "pw-1", "user": "ada"})
            logger.info("key %s", SecretStr("sk-2"))
    finally:
        logger.filters.clear()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "sk-1" not in text
    assert "pw-1" not in text
    assert "sk-2" not in text
    assert "'model': 'm'" in text
    assert "ada" in text
    first = caplog.records[0]
    assert first.access_token == "***"  # type: ignore[attr-defined]
    assert first.run_id == "r1"  # type: ignore[attr-defined]
