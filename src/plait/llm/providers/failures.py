"""Provider failures mapped onto plait's error tree, in one place for every provider.

=================================================  ===========================================
what happened                                      error
=================================================  ===========================================
HTTP 429                                           ``RateLimited``, ``retry_after`` from
                                                   ``Retry-After`` (seconds or an HTTP date)
                                                   or ``retry-after-ms``
HTTP 5xx, 408, 409; timeouts; connection errors;   ``ProviderUnavailable`` (retryable)
a stream cut off before the provider said "done"
HTTP 400, 401, 403, 404, 422 and other 4xx          ``ProviderRejected`` (not retryable)
malformed JSON in a reply or in tool arguments     ``OutputInvalid``
=================================================  ===========================================

Messages quote what the provider said (its error message, shortened), with every configured
secret blanked out: a key never reaches an exception, a log line or an event.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import math
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC
from types import ModuleType
from typing import Any

import httpx
from pydantic import SecretStr

from plait.errors import (
    ModelError,
    OutputInvalid,
    ProviderRejected,
    ProviderUnavailable,
    RateLimited,
    UsageError,
)

__all__ = [
    "TRANSPORT_ERRORS",
    "cut_off",
    "invalid_json",
    "missing_extra",
    "not_json",
    "parse_retry_after",
    "provider_message",
    "redact",
    "sdk_errors",
    "status_error",
    "transport_error",
]

_MAX_MESSAGE = 500


def _transport_errors() -> tuple[type[BaseException], ...]:
    """httpx's transport errors, and httpx2's (the official SDKs' HTTP client) when present."""
    found: list[type[BaseException]] = [httpx.TransportError]
    try:
        import httpx2
    except ImportError:
        pass
    else:
        found.append(httpx2.TransportError)
    return tuple(found)


TRANSPORT_ERRORS: tuple[type[BaseException], ...] = _transport_errors()
"""Exceptions an HTTP client raises for timeouts, refused connections and broken streams."""


def parse_retry_after(headers: Mapping[str, str] | None, *,
                      now: float | None = None) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date)."""
    if not headers:
        return None
    milliseconds = _header(headers, "retry-after-ms")
    if milliseconds is not None:
        seconds = _number(milliseconds)
        if seconds is not None:
            return seconds / 1000
    value = _header(headers, "retry-after")
    if value is None:
        return None
    seconds = _number(value)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # a plain dict is case-sensitive; httpx's headers are not
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value.strip() if value is not None else None


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return max(0.0, value) if math.isfinite(value) else None


def provider_message(body: object) -> str:
    """The human part of an error body in any provider's shape (OpenAI, Anthropic, Gemini,
    Ollama, TGI), or the body itself, shortened."""
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        text = body
        try:
            body = json.loads(text)
        except ValueError:
            return _shorten(text.strip())
    if isinstance(body, list) and body:  # Gemini sometimes wraps the error in a list
        body = body[0]
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, str):
            return _shorten(error)
        for source, keys in ((error, ("message", "detail", "error")),
                             (body, ("message", "detail"))):
            if isinstance(source, dict):
                said = next((v for k in keys if isinstance(v := source.get(k), str)), None)
                if said is not None:
                    return _shorten(said)
    return _shorten(json.dumps(body)) if body is not None else ""


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "..."


def redact(text: str, secrets: Iterable[SecretStr | None]) -> str:
    """``text`` with every secret's value replaced by ``***``."""
    for secret in secrets:
        value = secret.get_secret_value() if secret is not None else ""
        if len(value) >= 4:
            text = text.replace(value, "***")
    return text


def status_error(provider: str, status: int, body: object,
                 headers: Mapping[str, str] | None = None, *,
                 secrets: Iterable[SecretStr | None] = ()) -> ModelError:
    """The error for an HTTP error status, quoting the provider's message."""
    said = redact(provider_message(body), secrets)
    message = f"HTTP {status}: {said}" if said else f"HTTP {status}"
    if status == 429:
        return RateLimited(message, provider=provider, status=status,
                           retry_after=parse_retry_after(headers))
    if status >= 500 or status in (408, 409) or status < 400:  # < 400: an error event
        # inside a stream that had started well (Anthropic's "overloaded_error", ...)
        return ProviderUnavailable(message, provider=provider, status=status,
                                   retry_after=parse_retry_after(headers))
    return ProviderRejected(message, provider=provider, status=status)


def transport_error(provider: str, error: BaseException, *,
                    secrets: Iterable[SecretStr | None] = ()) -> ProviderUnavailable:
    """A timeout, refused connection or broken stream."""
    kind = "timed out" if _is_timeout(error) else "connection failed"
    detail = redact(str(error), secrets)
    suffix = f" ({type(error).__name__}: {detail})" if detail else f" ({type(error).__name__})"
    return ProviderUnavailable(kind + suffix, provider=provider)


def _is_timeout(error: BaseException) -> bool:
    return isinstance(error, TimeoutError) or any(
        "Timeout" in cls.__name__ for cls in type(error).__mro__)


def cut_off(provider: str) -> ProviderUnavailable:
    return ProviderUnavailable("the stream was cut off before the reply finished",
                               provider=provider)


def not_json(provider: str, content_type: str) -> ProviderUnavailable:
    """A 200 reply that is not JSON at all (an HTML page from a proxy or a captive portal):
    something other than the model answered, so another try may reach it."""
    return ProviderUnavailable(f"expected JSON, got {content_type or 'no content type'}: "
                               "something other than the model answered", provider=provider)


def invalid_json(provider: str, what: str, error: ValueError) -> OutputInvalid:
    reason = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
    return OutputInvalid(f"{what} is not valid JSON: {reason}", provider=provider)


def missing_extra(model: str, package: str, extra: str) -> UsageError:
    """The error for a provider whose SDK is not installed, naming the extra to install."""
    return UsageError(f"{model} needs the {package!r} package: pip install 'plait[{extra}]'")


@contextlib.contextmanager
def sdk_errors(provider: str, sdk: ModuleType,
               secrets: tuple[SecretStr | None, ...] = ()) -> Iterator[None]:
    """Map the exceptions of the official ``openai`` and ``anthropic`` SDKs (which share one
    design: ``APIStatusError``, ``APIConnectionError``, ...) raised inside the block."""
    api: Any = sdk
    try:
        yield
    except api.APIStatusError as err:
        body = err.body if err.body is not None else err.message
        raise status_error(provider, err.status_code, body, err.response.headers,
                           secrets=secrets) from None
    except (api.APIConnectionError, *TRANSPORT_ERRORS) as err:
        raise transport_error(provider, err, secrets=secrets) from None
    except (api.APIResponseValidationError, json.JSONDecodeError) as err:
        raise invalid_json(provider, "the reply", ValueError(str(err))) from None
    except api.APIError as err:  # an error event in the middle of a stream
        raise ProviderUnavailable(f"error in stream: {redact(str(err.message), secrets)}",
                                  provider=provider) from None
