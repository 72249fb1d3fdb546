"""The network policy on its own (no request leaves the machine)."""

from __future__ import annotations

import pytest

from plait.errors import UsageError
from plait.tools import NetworkPolicy, SandboxViolation, ToolArgumentError


def test_allowlist_matching() -> None:
    policy = NetworkPolicy(["api.example.com", "*.docs.example.org", "10.0.0.0/8", "::1",
                            "Bücher.example"])
    assert policy.host_allowed("api.example.com")
    assert not policy.host_allowed("example.com")
    assert not policy.host_allowed("evil-api.example.com")
    assert policy.host_allowed("v2.docs.example.org")
    assert not policy.host_allowed("docs.example.org")  # the wildcard is for subdomains
    assert not policy.host_allowed("docs.example.org.evil.com")
    assert policy.host_allowed("10.1.2.3")
    assert not policy.host_allowed("11.1.2.3")
    assert policy.host_allowed("::1")
    assert policy.host_allowed("xn--bcher-kva.example")
    assert NetworkPolicy(["*"]).host_allowed("anything.at.all")


@pytest.mark.parametrize("entry", ["", "a/b", "exa*mple.com", "http://x.com"])
def test_invalid_entries(entry: str) -> None:
    with pytest.raises(UsageError, match="invalid"):
        NetworkPolicy([entry])


def test_the_allowlist_is_a_list() -> None:
    with pytest.raises(UsageError, match="list"):
        NetworkPolicy("example.com")  # type: ignore[arg-type]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x",
                                 "gopher://example.com", "javascript:alert(1)",
                                 "//example.com/x"])
async def test_only_http_and_https(url: str) -> None:
    with pytest.raises(SandboxViolation) as info:
        await NetworkPolicy(["*"]).check(url)
    assert info.value.rule == "scheme"


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://localhost/", "http://127.1/", "http://2130706433/",
    "http://0x7f.0.0.1/", "http://0.0.0.0/", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
    "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://192.168.1.1/",
    "http://[fe80::1]/", "http://224.0.0.1/",
])
async def test_non_public_addresses_need_an_address_entry(url: str) -> None:
    with pytest.raises(SandboxViolation) as info:
        await NetworkPolicy(["*"]).check(url)
    assert info.value.rule == "private_address"


async def test_a_name_entry_does_not_unlock_loopback() -> None:
    with pytest.raises(SandboxViolation, match="add the address"):
        await NetworkPolicy(["localhost"]).check("http://localhost:8080/")
    target = await NetworkPolicy(["localhost", "127.0.0.1", "::1"]).check(
        "http://localhost:8080/")
    assert target.address in ("127.0.0.1", "::1")
    assert target.host_header() == "localhost:8080"


async def test_hosts_outside_the_allowlist() -> None:
    with pytest.raises(SandboxViolation) as info:
        await NetworkPolicy(["example.com"]).check("https://example.org/")
    assert info.value.rule == "host_not_allowed"
    assert str(info.value) == "host 'example.org' is not in the allowlist"


async def test_public_ip_literals_need_no_dns() -> None:
    target = await NetworkPolicy(["93.184.216.34"]).check("https://93.184.216.34/x")
    assert target.address == "93.184.216.34"
    assert str(target.request_url()) == "https://93.184.216.34/x"


async def test_malformed_urls() -> None:
    with pytest.raises(ToolArgumentError):
        await NetworkPolicy(["*"]).check("http://exa mple.com/")
    with pytest.raises(ToolArgumentError):
        await NetworkPolicy(["*"]).check("http://example.com:99999/")
    with pytest.raises(ToolArgumentError, match="no host"):
        await NetworkPolicy(["*"]).check("http:///path")
