"""Secrets never reach storage, events or logs: :func:`redact` turns a value into plain JSON
with every secret replaced by ``"***"``.

A secret is

- a ``pydantic.SecretStr`` or ``SecretBytes`` anywhere in the value (pydantic models and
  dataclasses included), or
- the value of a mapping entry (or model field) whose name looks like a secret: its words
  (split at ``_``, ``-``, ``.``, spaces and camelCase) contain ``password``, ``passwd``,
  ``passphrase``, ``secret``, ``token``, ``credential(s)``, ``authorization``, ``cookie``,
  ``apikey``, or a pair such as ``api key``, ``private key``, ``access key``.
  ``max_tokens`` or ``tokenizer`` are not secrets; ``access_token`` and ``clientSecret`` are.

:class:`RedactSecrets` is a logging filter that applies the same rule to a record's ``extra``
fields and mapping arguments.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import re
from collections.abc import Mapping
from functools import lru_cache

from pydantic import BaseModel, SecretBytes, SecretStr
from pydantic_core import to_jsonable_python

from plait.types import JsonValue

__all__ = ["REDACTED", "RedactSecrets", "is_secret_name", "redact"]

REDACTED = "***"

_SECRET_WORDS = frozenset({
    "password", "passwd", "passphrase", "secret", "secrets", "token", "credential",
    "credentials", "authorization", "cookie", "apikey", "privatekey", "secretkey",
})
_SECRET_PAIRS = frozenset({
    ("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key"),
    ("auth", "key"), ("client", "secret"), ("session", "key"), ("signing", "key"),
})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SPLIT = re.compile(r"[^A-Za-z0-9]+")


@lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Whether a key or field called ``name`` holds a secret (``api_key``, ``X-Api-Key``,
    ``refresh_token``, ``password``...)."""
    words = [w.lower() for part in _SPLIT.split(name) for w in _CAMEL.split(part) if w]
    if any(w in _SECRET_WORDS for w in words):
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(words))


def redact(value: object, *, key: str | None = None) -> JsonValue:
    """``value`` as plain JSON (models, dataclasses, dates... converted), secrets replaced by
    ``"***"``. With ``key``, the whole value is redacted when the key names a secret.
    ``None`` stays ``None`` (there is nothing to hide)."""
    if key is not None and value is not None and is_secret_name(key):
        return REDACTED
    return _redact(value)


def _redact(value: object) -> JsonValue:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, SecretStr | SecretBytes):
        return REDACTED
    if isinstance(value, Mapping):
        return {str(k): (REDACTED if v is not None and is_secret_name(str(k)) else _redact(v))
                for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact(v) for v in value]
    if isinstance(value, BaseModel):
        return _redact(value.model_dump(by_alias=True))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _redact({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    plain: JsonValue = to_jsonable_python(value)
    return plain


class RedactSecrets(logging.Filter):
    """A logging filter: ``extra`` fields and mapping arguments that name secrets, and
    ``SecretStr`` values, are replaced by ``"***"`` before any handler formats the record::

        handler.addFilter(RedactSecrets())
    """

    _STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)))

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in list(vars(record).items()):
            if name in self._STANDARD:
                continue
            if is_secret_name(name) and value is not None:
                setattr(record, name, REDACTED)
            elif isinstance(value, SecretStr | SecretBytes | Mapping | BaseModel):
                setattr(record, name, redact(value))
        args = record.args
        if isinstance(args, Mapping):
            record.args = {k: redact(v, key=str(k)) for k, v in args.items()}
        elif isinstance(args, tuple) and any(
                isinstance(a, SecretStr | SecretBytes | Mapping | BaseModel) for a in args):
            record.args = tuple(
                redact(a) if isinstance(a, SecretStr | SecretBytes | Mapping | BaseModel)
                else a for a in args)
        return True
