"""State backups: JSON lines, one header then one entry per line, in (scope, key) order::

    {"format": "plait-state-backup", "version": 1, "created_at": 1700000000.0, "scope": null}
    {"scope": "tenant:acme", "key": "plan", "version": 3, "schema_version": 1,
     "type_name": null, "updated_at": 1700000000.0, "value": {"tier": "pro"}}

(each entry on one line). Values are copied as stored: not migrated (that happens lazily
after a restore, as for any read), and already free of secrets. A backup is written to
``PATH.tmp``, synced and renamed, so a crash never leaves a truncated file under ``PATH``.
While writers run, each entry is captured at some moment of the backup, not all at one.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from plait.errors import UsageError
from plait.store.secrets import redact
from plait.store.state.base import StoredRow
from plait.store.state.scope import Scope

if TYPE_CHECKING:
    from plait.store.state.base import BaseStateStore

__all__ = ["FORMAT", "read_backup", "write_backup"]

FORMAT = "plait-state-backup"
VERSION = 1


def _line(row: StoredRow) -> str:
    # the stored value is already compact JSON text: embed it as is
    return (f'{{"scope":{json.dumps(row.scope, ensure_ascii=False)},'
            f'"key":{json.dumps(row.key, ensure_ascii=False)},'
            f'"version":{row.version},"schema_version":{row.schema_version},'
            f'"type_name":{json.dumps(row.type_name)},"updated_at":{row.updated_at!r},'
            f'"value":{row.value}}}\n')


async def write_backup(store: BaseStateStore, path: str | os.PathLike[str],
                       scope: Scope | None) -> int:
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    header = {"format": FORMAT, "version": VERSION, "created_at": time.time(),
              "scope": None if scope is None else scope.key}
    count = 0
    try:
        with tmp.open("w", encoding="utf-8") as out:
            out.write(json.dumps(header) + "\n")
            after: tuple[str, str] | None = None
            while True:
                page = await store._scan(None if scope is None else scope.key, "", after,
                                         store.page_size)
                if page:
                    await asyncio.to_thread(out.write, "".join(map(_line, page)))
                    count += len(page)
                if len(page) < store.page_size:
                    break
                after = (page[-1].scope, page[-1].key)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count


def _parse(path: Path, scope: Scope | None) -> list[StoredRow]:
    if not path.is_file():
        raise UsageError(f"no backup file at {path}")
    rows: list[StoredRow] = []
    with path.open(encoding="utf-8") as lines:
        try:
            header = json.loads(next(lines, "null"))
        except json.JSONDecodeError:
            header = None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise UsageError(f"{path} is not a plait state backup")
        if header.get("version") != VERSION:
            raise UsageError(f"{path}: unsupported backup version {header.get('version')!r}")
        for number, line in enumerate(lines, start=2):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                row_scope = Scope.parse(data["scope"])
                key = data["key"]
                version, schema_version = data["version"], data["schema_version"]
                type_name, updated_at = data.get("type_name"), float(data["updated_at"])
                if not (isinstance(key, str) and key and isinstance(version, int)
                        and version >= 1 and isinstance(schema_version, int)
                        and schema_version >= 1 and (type_name is None
                                                     or isinstance(type_name, str))):
                    raise ValueError("bad key, version, schema_version or type_name")
                value = json.dumps(redact(data["value"], key=key), ensure_ascii=False,
                                   separators=(",", ":"), allow_nan=False)
            except (ValueError, KeyError, TypeError) as exc:
                raise UsageError(f"{path}:{number}: not a state entry ({exc})") from exc
            if scope is not None and row_scope != scope:
                continue
            rows.append(StoredRow(row_scope.key, key, value, version, schema_version,
                                  type_name, updated_at))
    return rows


async def read_backup(path: str | os.PathLike[str], scope: Scope | None) -> list[StoredRow]:
    return await asyncio.to_thread(_parse, Path(path), scope)
