"""One conformance suite for every state store backend.

Subclass :class:`StateStoreConformance` and provide two fixtures: ``store`` (a fresh, empty
store) and ``other_store`` (a second, independent empty store of the same backend, for
restores)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr, TypeAdapter

from plait.errors import StateConflict, StateMigrationError, UsageError
from plait.graph.bus import EventBus
from plait.store.state import BaseStateStore, Scope, StateChanged

TENANT = Scope.tenant("acme")
OTHER = Scope.tenant("globex")
SESSION = Scope.session("s-1")
NODE = Scope.node("triage", "route")


class Profile(BaseModel):
    name: str
    tier: str = "free"


class Credentials(BaseModel):
    user: str
    api_key: SecretStr
    token: str
    note: SecretStr | None = None


class StateStoreConformance:
    # -- basics ------------------------------------------------------------------------
    async def test_get_set_versions(self, store: BaseStateStore) -> None:
        assert await store.get(TENANT, "plan") is None
        assert await store.get_entry(TENANT, "plan") is None
        assert await store.set(TENANT, "plan", {"tier": "pro", "seats": 5}) == 1
        assert await store.get(TENANT, "plan") == {"tier": "pro", "seats": 5}
        assert await store.set(TENANT, "plan", {"tier": "team"}) == 2
        entry = await store.get_entry(TENANT, "plan")
        assert entry is not None
        assert (entry.scope, entry.key, entry.value, entry.version, entry.schema_version) == (
            TENANT, "plan", {"tier": "team"}, 2, 1)
        assert entry.updated_at > 0

    async def test_json_values_round_trip(self, store: BaseStateStore) -> None:
        values = [None, True, 0, -7, 2**62, 1.5, "", "héllo ✓ 😀", [1, [2, {"a": None}]],
                  {"nested": {"list": [1, 2.5, "x"], "empty": {}}, "z": 1, "a": 2}]
        for i, value in enumerate(values):
            await store.set(Scope.GLOBAL, f"v{i}", value)
        for i, value in enumerate(values):
            assert await store.get(Scope.GLOBAL, f"v{i}") == value
        entry = await store.get_entry(Scope.GLOBAL, f"v{len(values) - 1}")
        assert entry is not None
        assert isinstance(entry.value, dict)
        assert list(entry.value) == ["nested", "z", "a"]  # key order is kept

    async def test_scopes_are_isolated(self, store: BaseStateStore) -> None:
        scopes = [Scope.GLOBAL, TENANT, OTHER, SESSION, Scope.workflow("triage"), NODE,
                  Scope.node("triage", "reply"), Scope.custom("team", "blue"),
                  Scope.custom("team:x", "a:b%c")]
        for i, scope in enumerate(scopes):
            await store.set(scope, "k", i)
        for i, scope in enumerate(scopes):
            assert await store.get(scope, "k") == i
            assert await store.keys(scope) == ["k"]

    async def test_typed_reads_and_models(self, store: BaseStateStore) -> None:
        await store.set(TENANT, "profile", Profile(name="Ada", tier="pro"))
        profile = await store.get(TENANT, "profile", type=Profile)
        assert profile == Profile(name="Ada", tier="pro")
        entry = await store.get_entry(TENANT, "profile", type=Profile)
        assert entry is not None
        assert entry.value.tier == "pro"
        assert entry.type_name == "Profile"
        await store.set(TENANT, "scores", [1, 2, 3])
        assert await store.get(TENANT, "scores", type=list[int]) == [1, 2, 3]
        assert await store.get(TENANT, "scores", type=TypeAdapter(tuple[int, ...])) == (1, 2, 3)
        assert await store.get(TENANT, "missing", type=Profile) is None
        with pytest.raises(ValueError, match="validation error"):
            await store.get(TENANT, "scores", type=Profile)

    async def test_bad_keys_and_values_are_usage_errors(self, store: BaseStateStore) -> None:
        with pytest.raises(UsageError, match="non-empty string"):
            await store.set(TENANT, "", 1)
        with pytest.raises(UsageError, match="longer than"):
            await store.set(TENANT, "k" * 513, 1)
        with pytest.raises(UsageError, match="not storable as JSON"):
            await store.set(TENANT, "nan", float("nan"))
        with pytest.raises(UsageError, match="must be a Scope"):
            await store.set("tenant:acme", "k", 1)  # type: ignore[arg-type]
        assert await store.keys(TENANT) == []

    async def test_delete(self, store: BaseStateStore) -> None:
        assert await store.delete(TENANT, "k") is False
        await store.set(TENANT, "k", 1)
        await store.set(TENANT, "k", 2)
        assert await store.delete(TENANT, "k", expected_version=1) is False
        assert await store.get(TENANT, "k") == 2
        assert await store.delete(TENANT, "k", expected_version=2) is True
        assert await store.get(TENANT, "k") is None
        assert await store.set(TENANT, "k", 3) == 1  # a new life starts at version 1

    async def test_keys_and_list_by_prefix_in_byte_order(self, store: BaseStateStore) -> None:
        names = ["b", "a", "a:b", "ab", "a:a", "é", "Z", "a_%", "a%"]
        for name in names:
            await store.set(TENANT, name, name.upper())
        await store.set(OTHER, "a:c", 0)
        assert await store.keys(TENANT) == sorted(names)
        assert await store.keys(TENANT, "a:") == ["a:a", "a:b"]
        assert await store.keys(TENANT, "a%") == ["a%"]  # no LIKE wildcards
        assert await store.keys(TENANT, "a_") == ["a_%"]
        assert await store.keys(TENANT, "nope") == []
        entries = await store.list(TENANT, "a")
        assert [(e.key, e.value) for e in entries] == [
            ("a", "A"), ("a%", "A%"), ("a:a", "A:A"), ("a:b", "A:B"), ("a_%", "A_%"),
            ("ab", "AB")]
        typed = await store.list(OTHER, type=int)
        assert [(e.key, e.value) for e in typed] == [("a:c", 0)]

    async def test_many_keys_page_through(self, store: BaseStateStore,
                                          other_store: BaseStateStore, tmp_path: Path) -> None:
        store.page_size = other_store.page_size = 4
        for i in range(19):
            await store.set(SESSION if i % 3 else TENANT, f"m{i:02d}", i)
        keys = await store.keys(SESSION)
        assert len(keys) == 12
        assert keys == sorted(keys)
        assert len(await store.list(TENANT)) == 7
        assert await store.backup(tmp_path / "b.jsonl") == 19
        assert (await other_store.restore(tmp_path / "b.jsonl")).restored == 19
        store.register_migration("m*", 1, lambda v: v)
        assert await store.migrate_all() == 19

    # -- compare-and-set ---------------------------------------------------------------
    async def test_cas(self, store: BaseStateStore) -> None:
        assert await store.cas(TENANT, "n", 1, "x") is False  # absent is version 0
        assert await store.cas(TENANT, "n", 0, "a") is True
        assert await store.cas(TENANT, "n", 0, "b") is False
        assert await store.cas(TENANT, "n", 1, "b") is True
        assert await store.cas(TENANT, "n", 1, "c") is False
        entry = await store.get_entry(TENANT, "n")
        assert entry is not None
        assert (entry.value, entry.version) == ("b", 2)
        with pytest.raises(UsageError, match="expected_version"):
            await store.cas(TENANT, "n", -1, "c")

    async def test_concurrent_cas_has_exactly_one_winner(self, store: BaseStateStore) -> None:
        for version in range(4):  # creation (0), then updates of an existing key
            results = await asyncio.gather(
                *(store.cas(TENANT, "leader", version, f"task-{i}") for i in range(16)))
            assert sum(results) == 1, results
            entry = await store.get_entry(TENANT, "leader")
            assert entry is not None
            assert entry.version == version + 1
            assert entry.value == f"task-{results.index(True)}"

    async def test_concurrent_updates_lose_nothing(self, store: BaseStateStore) -> None:
        async def bump() -> None:
            for _ in range(5):
                await store.update(TENANT, "counter", lambda v: (v or 0) + 1)

        await asyncio.gather(*(bump() for _ in range(8)))
        entry = await store.get_entry(TENANT, "counter")
        assert entry is not None
        assert entry.value == 40
        assert entry.version == 40

    async def test_typed_update(self, store: BaseStateStore) -> None:
        await store.set(TENANT, "p", Profile(name="Ada"))
        entry = await store.update(
            TENANT, "p", lambda p: p.model_copy(update={"tier": "pro"}) if p else None,
            type=Profile)
        assert entry.value == {"name": "Ada", "tier": "pro"}
        assert entry.version == 2

    async def test_update_gives_up_after_its_attempts(self, store: BaseStateStore,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
        await store.set(TENANT, "hot", 0)
        calls = 0

        def bump(value: object) -> int:
            nonlocal calls
            calls += 1
            return calls

        async def always_beaten(*args: object) -> None:  # another writer wins every time
            return None

        monkeypatch.setattr(store, "_cas", always_beaten)
        with pytest.raises(StateConflict, match="lost 3 compare-and-sets") as info:
            await store.update(TENANT, "hot", bump, attempts=3)
        assert info.value.keys == ("tenant:acme/hot",)
        assert calls == 3

    # -- migrations --------------------------------------------------------------------
    async def test_values_migrate_on_read_and_are_written_back(
            self, store: BaseStateStore) -> None:
        await store.set(TENANT, "profile:ada", {"name": "Ada Lovelace"})
        await store.set(TENANT, "other", {"name": "kept"})
        calls: list[object] = []

        def split_name(value: object) -> object:
            calls.append(value)
            assert isinstance(value, dict)
            first, _, last = str(value.pop("name")).partition(" ")
            return {**value, "first": first, "last": last}

        store.register_migration("profile:*", 1, split_name)
        store.register_migration("profile:*", 2, lambda v: {**v, "v3": True}  # type: ignore
                                 )
        entry = await store.get_entry(TENANT, "profile:ada")
        assert entry is not None
        assert entry.value == {"first": "Ada", "last": "Lovelace", "v3": True}
        assert (entry.schema_version, entry.version) == (3, 2)
        assert await store.get(TENANT, "profile:ada") == entry.value
        assert len(calls) == 1  # written back: the second read needs no migration
        await store.set(TENANT, "profile:bob", {"first": "Bob"})  # new writes are current
        bob = await store.get_entry(TENANT, "profile:bob")
        assert bob is not None
        assert bob.schema_version == 3
        assert bob.value == {"first": "Bob"}
        other = await store.get_entry(TENANT, "other")
        assert other is not None
        assert other.schema_version == 1

    async def test_migrations_by_model_type(self, store: BaseStateStore) -> None:
        await store.set(SESSION, "me", Profile(name="Ada"))
        store.register_migration(Profile, 1, lambda v: {**v, "tier": "legacy"}  # type: ignore
                                 )
        assert await store.get(SESSION, "me", type=Profile) == Profile(name="Ada", tier="legacy")
        entries = await store.list(SESSION, type=Profile)
        assert [e.value.tier for e in entries] == ["legacy"]

    async def test_migrate_all_and_failures(self, store: BaseStateStore) -> None:
        for i in range(7):
            await store.set(Scope.GLOBAL, f"doc:{i}", {"n": i})
        await store.set(TENANT, "doc:x", {"n": -1})
        store.register_migration("doc:*", 1, lambda v: {**v, "m": 1}  # type: ignore
                                 )
        assert await store.migrate_all(Scope.GLOBAL) == 7
        assert await store.migrate_all() == 1
        assert await store.migrate_all() == 0
        assert await store.get(Scope.GLOBAL, "doc:3") == {"n": 3, "m": 1}

        await store.set(TENANT, "broken:1", {"a": 1})
        store.register_migration("broken:*", 1, lambda v: 1 / 0)
        with pytest.raises(StateMigrationError, match="from schema version 1: ZeroDivision"):
            await store.get(TENANT, "broken:1")
        await store.set(TENANT, "gap:1", 1)
        store.register_migration("gap:*", 2, lambda v: v)  # no step from 1
        with pytest.raises(StateMigrationError, match="no migration registered"):
            await store.get(TENANT, "gap:1")

    # -- backup and restore ------------------------------------------------------------
    async def _fill(self, store: BaseStateStore) -> None:
        await store.set(Scope.GLOBAL, "flag", True)
        await store.set(TENANT, "plan", {"tier": "pro"})
        await store.set(TENANT, "plan", {"tier": "team"})
        await store.set(OTHER, "plan", {"tier": "free"})
        await store.set(NODE, "cache", ["a", "é", {"x": None}])
        await store.set(SESSION, "me", Profile(name="Ada"))

    async def test_backup_and_restore_into_an_empty_store(
            self, store: BaseStateStore, other_store: BaseStateStore, tmp_path: Path) -> None:
        await self._fill(store)
        path = tmp_path / "state.jsonl"
        assert await store.backup(path) == 5
        lines = path.read_text(encoding="utf-8").splitlines()
        assert json.loads(lines[0])["format"] == "plait-state-backup"
        assert [json.loads(line)["scope"] for line in lines[1:]] == sorted(
            ["global", "tenant:acme", "tenant:globex", "node:triage:route", "session:s-1"])
        report = await other_store.restore(path)
        assert (report.restored, report.skipped) == (5, 0)
        for scope, key in [(Scope.GLOBAL, "flag"), (TENANT, "plan"), (OTHER, "plan"),
                           (NODE, "cache"), (SESSION, "me")]:
            a = await store.get_entry(scope, key)
            b = await other_store.get_entry(scope, key)
            assert a == b
        assert [name for name in os.listdir(tmp_path) if name.endswith(".tmp")] == []

    async def test_backup_one_scope_and_restore_one_scope(
            self, store: BaseStateStore, other_store: BaseStateStore, tmp_path: Path) -> None:
        await self._fill(store)
        assert await store.backup(tmp_path / "acme.jsonl", scope=TENANT) == 1
        assert await store.backup(tmp_path / "all.jsonl") == 5
        assert (await other_store.restore(tmp_path / "all.jsonl", scope=NODE)).restored == 1
        assert await other_store.keys(TENANT) == []
        assert await other_store.get(NODE, "cache") == ["a", "é", {"x": None}]
        assert (await other_store.restore(tmp_path / "acme.jsonl")).restored == 1
        assert await other_store.get(TENANT, "plan") == {"tier": "team"}

    async def test_restore_conflict_policies(
            self, store: BaseStateStore, other_store: BaseStateStore, tmp_path: Path) -> None:
        await self._fill(store)
        path = tmp_path / "state.jsonl"
        await store.backup(path)
        for _ in range(4):
            await other_store.set(TENANT, "plan", {"tier": "mine"})
        await other_store.set(Scope.GLOBAL, "extra", 1)

        with pytest.raises(StateConflict, match=r"1 key\(s\).*tenant:acme/plan") as info:
            await other_store.restore(path, on_conflict="error")
        assert info.value.keys == ("tenant:acme/plan",)
        assert await other_store.keys(OTHER) == []  # nothing was written

        report = await other_store.restore(path, on_conflict="skip")
        assert (report.restored, report.skipped) == (4, 1)
        assert await other_store.get(TENANT, "plan") == {"tier": "mine"}

        report = await other_store.restore(path, on_conflict="newer")  # ours is newer
        assert (report.restored, report.skipped) == (0, 5)

        report = await other_store.restore(path, on_conflict="overwrite")
        assert report.restored == 5
        entry = await other_store.get_entry(TENANT, "plan")
        assert entry is not None
        assert entry.value == {"tier": "team"}
        assert entry.version == 5  # never goes back: stale compare-and-sets still fail
        assert await other_store.get(Scope.GLOBAL, "extra") == 1

        await store.set(TENANT, "plan", {"tier": "newest"})
        await store.backup(path)
        report = await other_store.restore(path, on_conflict="newer")
        assert report.restored == 1
        assert await other_store.get(TENANT, "plan") == {"tier": "newest"}
        with pytest.raises(UsageError, match="unknown conflict policy"):
            await other_store.restore(path, on_conflict="merge")

    async def test_restore_rejects_bad_files(self, store: BaseStateStore,
                                             tmp_path: Path) -> None:
        with pytest.raises(UsageError, match="no backup file"):
            await store.restore(tmp_path / "missing.jsonl")
        bad = tmp_path / "bad.jsonl"
        bad.write_text('{"hello": 1}\n')
        with pytest.raises(UsageError, match="not a plait state backup"):
            await store.restore(bad)
        bad.write_text('{"format": "plait-state-backup", "version": 1}\n'
                       '{"scope": "global", "key": "ok", "version": 1, "schema_version": 1,'
                       ' "updated_at": 1.0, "value": 1}\n'
                       '{"scope": "planet:mars", "key": "k"}\n')
        with pytest.raises(UsageError, match=r"bad.jsonl:3: not a state entry"):
            await store.restore(bad)
        assert await store.keys(Scope.GLOBAL) == []  # checked before anything was written

    # -- secrets and events ------------------------------------------------------------
    async def test_secrets_are_redacted_before_storage(self, store: BaseStateStore) -> None:
        creds = Credentials(user="ada", api_key=SecretStr("sk-live-123"), token="tok-456",
                            note=SecretStr("hush"))
        await store.set(TENANT, "creds", creds)
        assert await store.get(TENANT, "creds") == {
            "user": "ada", "api_key": "***", "token": "***", "note": "***"}
        await store.set(TENANT, "openai_api_key", "sk-live-123")
        await store.set(TENANT, "config", {"headers": {"Authorization": "Bearer x",
                                                       "X-Api-Key": "k"},
                                           "max_tokens": 5, "password": None,
                                           "nested": [{"clientSecret": "s"}]})
        assert await store.get(TENANT, "openai_api_key") == "***"
        assert await store.get(TENANT, "config") == {
            "headers": {"Authorization": "***", "X-Api-Key": "***"}, "max_tokens": 5,
            "password": None, "nested": [{"clientSecret": "***"}]}
        assert await store.cas(TENANT, "creds", 1, {"password": "hunter2"})
        assert await store.get(TENANT, "creds") == {"password": "***"}

    async def test_writes_publish_redacted_events(self, store: BaseStateStore) -> None:
        bus = EventBus()
        sub = bus.subscribe("state.**")
        store.bus = bus
        try:
            await store.set(TENANT, "k", {"token": "abc", "n": 1})
            await store.cas(Scope.GLOBAL, "g", 0, 1)
            await store.delete(TENANT, "k")
            await store.cas(Scope.GLOBAL, "g", 0, 2)  # lost: no event
        finally:
            store.bus = None
        envs = sub.drain()
        assert [e.topic for e in envs] == ["state.tenant.set", "state.global.set",
                                           "state.tenant.delete"]
        first = envs[0].payload
        assert isinstance(first, StateChanged)
        assert (first.scope, first.key, first.version, first.value) == (
            "tenant:acme", "k", 1, {"token": "***", "n": 1})
