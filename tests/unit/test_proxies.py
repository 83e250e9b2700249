"""Which forwarded headers count: only those from trusted proxies (domain/proxies.py)."""

from __future__ import annotations

import pytest

from domain.proxies import Forwarded, ProxyTrust, parse_trusted_proxies, resolve


def test_parse_the_setting():
    assert parse_trusted_proxies("") == ProxyTrust()
    assert parse_trusted_proxies(" 2 ") == ProxyTrust(hops=2)
    trust = parse_trusted_proxies("10.0.0.1, 10.1.0.0/16,::1")
    assert trust.trusts("10.0.0.1") and trust.trusts("10.1.200.3") and trust.trusts("::1")
    assert not trust.trusts("10.0.0.2") and not trust.trusts("garbage")
    with pytest.raises(ValueError):
        parse_trusted_proxies("10.0.0.1,proxy.example")


def test_nothing_is_trusted_by_default():
    assert (
        resolve(ProxyTrust(), "10.0.0.1", ["6.6.6.6"], ["https"], ["evil.example"]) == Forwarded()
    )


def test_a_listed_proxy_is_believed_and_anyone_else_is_not():
    trust = parse_trusted_proxies("10.0.0.0/8")
    assert resolve(trust, "10.0.0.5", ["203.0.113.9"], ["https"], ["busbook.example"]) == (
        Forwarded("203.0.113.9", "https", "busbook.example")
    )
    assert resolve(trust, "198.51.100.7", ["203.0.113.9"], ["https"], ["x.example"]) == Forwarded()


def test_the_client_is_the_first_untrusted_address_from_the_right():
    trust = parse_trusted_proxies("10.0.0.0/8")
    # the client forged "1.1.1.1"; the edge proxy appended the real client; an inner proxy
    # appended the edge proxy
    got = resolve(trust, "10.0.0.5", ["1.1.1.1, 203.0.113.9", "10.0.0.7"], ["https, https"], [])
    assert got.client == "203.0.113.9"
    assert got.scheme == "https"


def test_a_number_of_hops():
    trust = parse_trusted_proxies("1")
    got = resolve(
        trust, "127.0.0.1", ["1.1.1.1, 203.0.113.9"], ["http, https"], ["busbook.example"]
    )
    assert got == Forwarded("203.0.113.9", "https", "busbook.example")
    assert resolve(parse_trusted_proxies("2"), "127.0.0.1", ["203.0.113.9"], [], []) == Forwarded()


def test_nonsense_values_are_ignored():
    trust = parse_trusted_proxies("10.0.0.0/8")
    got = resolve(trust, "10.0.0.5", ["unknown"], ["gopher"], ["evil.example/path"])
    assert got == Forwarded()
