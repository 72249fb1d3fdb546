"""Network rules shared by the HTTP tools, and the one fetch function that obeys them.

A URL is fetched only if:

* its scheme is ``http`` or ``https`` (``file:``, ``ftp:``, ``gopher:``... are refused);
* its host matches the allowlist: an exact name (``api.example.com``), a wildcard for
  subdomains (``*.example.com``, not the apex), an IP address, a CIDR network
  (``10.0.0.0/8``), or ``*`` for any host;
* every address the host resolves to is public, unless an IP or CIDR entry of the allowlist
  covers it: loopback, private, link-local (cloud metadata), multicast and reserved
  addresses need that explicit entry. A name entry (even ``localhost``) never unlocks them.

The connection then goes to the address that was checked (the ``Host`` header and TLS SNI
keep the name), so DNS can't answer differently between the check and the request. Every
redirect hop is checked the same way. Responses are read up to ``max_response_bytes``
(after decompression); the whole exchange has one ``timeout``. Proxy variables of the
environment are ignored.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from plait.errors import UsageError
from plait.tools.errors import (
    SandboxViolation,
    ToolArgumentError,
    ToolFailed,
    ToolLimitExceeded,
    ToolTimeout,
)

if TYPE_CHECKING:
    import httpx

__all__ = ["Fetched", "NetworkPolicy", "as_policy", "fetch"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_DROPPED_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}
_REDIRECTS = {301, 302, 303, 307, 308}
_HOST = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$")


def _is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


class NetworkPolicy:
    """Which hosts may be reached, and the limits of one exchange."""

    def __init__(self, allowlist: Sequence[str], *, timeout: float = 10.0,
                 max_response_bytes: int = 2 * 1024 * 1024, max_redirects: int = 5) -> None:
        if isinstance(allowlist, str):
            raise UsageError("allowlist must be a list of hosts, not a string")
        if timeout <= 0 or max_response_bytes <= 0 or max_redirects < 0:
            raise UsageError("timeout and max_response_bytes must be positive")
        self.allowlist = tuple(allowlist)
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self.max_redirects = max_redirects
        self._any = False
        self._names: set[str] = set()
        self._suffixes: list[str] = []
        self._networks: list[IPNetwork] = []
        for raw in self.allowlist:
            entry = raw.strip().lower().rstrip(".")
            if entry == "*":
                self._any = True
            elif entry.startswith("*."):
                self._suffixes.append("." + _idna(entry[2:]))
            else:
                try:
                    self._networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                except ValueError:
                    if not entry or "/" in entry or ":" in entry or "*" in entry:
                        raise UsageError(f"invalid allowlist entry {raw!r}") from None
                    self._names.add(_idna(entry))

    def __repr__(self) -> str:
        return f"NetworkPolicy({list(self.allowlist)!r})"

    def _unlocked(self, address: IPAddress) -> bool:
        return any(address.version == net.version and address in net for net in self._networks)

    def host_allowed(self, host: str) -> bool:
        """Whether the allowlist names ``host`` (a lower-case name or an IP address)."""
        try:
            return self._any or self._unlocked(ipaddress.ip_address(host))
        except ValueError:
            pass
        return (self._any or host in self._names
                or any(host.endswith(suffix) for suffix in self._suffixes))

    async def check(self, url: str) -> _Target:
        """Parse ``url`` and apply every rule; the address to connect to."""
        import httpx

        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise ToolArgumentError.single("url", f"invalid URL {url!r}: {exc}") from None
        if parsed.scheme not in ("http", "https"):
            raise SandboxViolation(f"URL scheme {parsed.scheme or '(none)'!r} is not allowed; "
                                   "only http and https are", rule="scheme")
        host = parsed.raw_host.decode("ascii").lower().rstrip(".")
        if not host:
            raise ToolArgumentError.single("url", f"URL {url!r} has no host")
        if not _HOST.match(host) and not _is_ip(host):
            raise ToolArgumentError.single("url", f"URL {url!r} has an invalid host {host!r}")
        if not self.host_allowed(host):
            raise SandboxViolation(f"host {host!r} is not in the allowlist",
                                   rule="host_not_allowed")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        if not 0 < port < 65536:
            raise ToolArgumentError.single("url", f"URL {url!r} has an invalid port {port}")
        addresses = await _resolve(host, port)
        blocked = [a for a in addresses if not _is_public(a) and not self._unlocked(a)]
        if blocked:
            shown = ", ".join(str(a) for a in blocked)
            raise SandboxViolation(
                f"host {host!r} resolves to a non-public address ({shown}); add the address "
                "itself to the allowlist to allow it", rule="private_address")
        return _Target(parsed, host, str(addresses[0]))


def as_policy(allowlist: NetworkPolicy | Sequence[str]) -> NetworkPolicy:
    """``allowlist`` as is if it is a policy, else a policy with default limits."""
    return allowlist if isinstance(allowlist, NetworkPolicy) else NetworkPolicy(allowlist)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _idna(name: str) -> str:
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        raise UsageError(f"invalid host name {name!r} in the allowlist") from None


async def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ToolFailed(f"cannot resolve host {host!r}: {exc}", cause=exc) from None
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise ToolFailed(f"host {host!r} has no address")
    return found


@dataclass(frozen=True, slots=True)
class _Target:
    url: httpx.URL
    host: str
    address: str

    def request_url(self) -> httpx.URL:
        return self.url.copy_with(host=self.address)

    def host_header(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"{shown}:{self.url.port}" if self.url.port else shown


@dataclass(frozen=True, slots=True)
class Fetched:
    """A response read within the policy's limits."""

    status: int
    reason: str
    url: str
    headers: dict[str, str]
    content: bytes
    content_type: str
    charset: str | None

    def text(self) -> str:
        """The body decoded with its charset (UTF-8 if none or unknown)."""
        try:
            return self.content.decode(self.charset or "utf-8", errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")


async def fetch(policy: NetworkPolicy, method: str, url: str, *,
                headers: Mapping[str, str] | None = None,
                content: bytes | None = None) -> Fetched:
    """One request under ``policy``: checked, pinned, redirects re-checked, size capped."""
    try:
        import httpx
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise UsageError("the HTTP tools need httpx: pip install 'plait[tools]'") from None
    sent = {k: v for k, v in (headers or {}).items() if k.lower() not in _DROPPED_HEADERS}
    try:
        async with asyncio.timeout(policy.timeout), httpx.AsyncClient(
                trust_env=False, follow_redirects=False, verify=_tls_context(),
                timeout=httpx.Timeout(policy.timeout)) as client:
            for _hop in range(policy.max_redirects + 1):
                target = await policy.check(url)
                extensions = {"sni_hostname": target.host} if target.url.scheme == "https" else {}
                request = client.build_request(
                    method, target.request_url(), content=content,
                    headers={**sent, "Host": target.host_header()}, extensions=extensions)
                response = await client.send(request, stream=True)
                try:
                    location = response.headers.get("location")
                    if response.status_code in _REDIRECTS and location:
                        url = str(target.url.join(location))
                        if response.status_code == 303 or (
                                response.status_code in (301, 302) and method != "HEAD"):
                            method, content = ("GET" if method != "HEAD" else method), None
                        continue
                    body = await _read_capped(response, policy.max_response_bytes)
                finally:
                    await response.aclose()
                return Fetched(
                    status=response.status_code, reason=response.reason_phrase,
                    url=str(target.url), headers=dict(response.headers.items()),
                    content=body,
                    content_type=response.headers.get("content-type", "").split(";")[0]
                    .strip().lower(),
                    charset=response.charset_encoding)
            raise ToolFailed(f"more than {policy.max_redirects} redirects")
    except TimeoutError:
        raise ToolTimeout(f"no complete response within {policy.timeout:g}s",
                          seconds=policy.timeout) from None
    except httpx.TimeoutException:
        raise ToolTimeout(f"no complete response within {policy.timeout:g}s",
                          seconds=policy.timeout) from None
    except httpx.HTTPError as exc:
        raise ToolFailed(f"request failed: {type(exc).__name__}: {exc}", cause=exc) from None


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default verifying context, built once (loading CA certificates is slow)."""
    import httpx

    return httpx.create_ssl_context()


async def _read_capped(response: httpx.Response, cap: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise ToolLimitExceeded(f"the response has {declared} bytes, more than the {cap} "
                                "allowed", limit="max_response_bytes")
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > cap:
            raise ToolLimitExceeded(f"the response is larger than the {cap} bytes allowed",
                                    limit="max_response_bytes")
    return bytes(body)
