"""A cookie rule's `domain` is a host name, as a Set-Cookie Domain attribute must be.

Withdrawal deletes a refused cookie with `Domain=<rule.domain>`. A browser ignores a
Set-Cookie whose Domain does not domain-match the page's host (RFC 6265, 5.3 step 6), so a
domain written as a URL, with a port or a wildcard never reaches the cookie the site set:
the cookie outlives the withdrawal, silently. Such a rule is refused when the policy is made.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cookiewall import Category, CookieRule, Policy

CATEGORIES = [Category("necessary", required=True), Category("analytics")]


def policy_with_domain(domain: str) -> Policy:
    return Policy("1", CATEGORIES, [CookieRule("_ga", "analytics", domain=domain)])


@pytest.mark.parametrize(
    "domain",
    [
        "https://example.com",  # pasted from the address bar
        "example.com/",
        "example.com:443",
        "*.example.com",  # a wildcard: browsers have none, a leading dot already covers subdomains
        ".",
        "..example.com",
        "example..com",
        "example.com.",
        "exa%6Dple.com",
        "example.com?x",
        "a" * 64 + ".example.com",  # a DNS label has at most 63 characters
    ],
    ids=[
        "url",
        "trailing-slash",
        "port",
        "wildcard",
        "only-dot",
        "two-leading-dots",
        "empty-label",
        "trailing-dot",
        "percent",
        "query",
        "long-label",
    ],
)
def test_a_domain_no_browser_would_store_a_cookie_for_is_refused(domain: str) -> None:
    with pytest.raises(ValueError, match=r"cookie rule '_ga': bad domain") as raised:
        policy_with_domain(domain)
    assert repr(domain) in str(raised.value)


@pytest.mark.parametrize(
    "domain",
    [
        "example.com",
        ".example.com",  # the leading dot is ignored by browsers and kept in the header
        "Shop.Example.COM",  # host names are case-insensitive
        "xn--bcher-kva.example",  # an international name in its A-label form
        "localhost",
        "127.0.0.1",
        "my-shop.co.uk",
        "a" * 63 + ".example",
    ],
)
def test_a_host_name_is_taken_as_written(domain: str) -> None:
    rule = policy_with_domain(domain).rule_for("_ga")
    assert rule is not None
    assert rule.domain == domain


def test_the_toml_message_names_the_file_and_the_domain(tmp_path: Path) -> None:
    path = tmp_path / "cookiewall.toml"
    path.write_text(
        'version = "1"\n[[categories]]\nname = "analytics"\n'
        '[[cookies]]\npattern = "_ga"\ncategory = "analytics"\ndomain = "https://example.com"\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="bad domain") as raised:
        Policy.from_toml(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: cookie rule '_ga': bad domain 'https://example.com'")
    assert "\n" not in message
