from __future__ import annotations

import pytest

from analytics.data.referrer_sources import ANDROID_APPS, WEB_SOURCES
from analytics.event import MEDIUMS
from analytics.referrers import (
    DIRECT,
    SPAM_HOSTS,
    normalise_site,
    origin_part,
    parse_referrer,
    referrer_parser,
)

SITE = "example.com"

# (raw Referer header, host, domain, medium, source)
CASES: list[tuple[bytes, str | None, str | None, str, str | None]] = [
    # case, www, ports, credentials, trailing dots
    (b"https://www.google.com/", "google.com", "google.com", "search", "Google"),
    (b"https://WWW.GOOGLE.COM/search?q=x", "google.com", "google.com", "search", "Google"),
    (b"https://google.com:443/", "google.com", "google.com", "search", "Google"),
    (b"https://google.com./", "google.com", "google.com", "search", "Google"),
    (
        b"https://user:pass@news.ycombinator.com:8443/item?id=1",
        "news.ycombinator.com",
        "ycombinator.com",
        "social",
        "Hacker News",
    ),
    (b"http://alice@Blog.Other.org:8080/a", "blog.other.org", "other.org", "referral", "other.org"),
    (b"  https://other.org/  ", "other.org", "other.org", "referral", "other.org"),
    # Google under any public suffix, multi-level public suffixes
    (b"https://www.google.co.uk/", "google.co.uk", "google.co.uk", "search", "Google"),
    (b"https://www.google.com.au/", "google.com.au", "google.com.au", "search", "Google"),
    (b"https://google.de/", "google.de", "google.de", "search", "Google"),
    (b"https://www.bbc.co.uk/news", "bbc.co.uk", "bbc.co.uk", "referral", "bbc.co.uk"),
    (b"https://shop.abc.com.au/x", "shop.abc.com.au", "abc.com.au", "referral", "abc.com.au"),
    (
        b"https://a.b.c.example.co.jp/",
        "a.b.c.example.co.jp",
        "example.co.jp",
        "referral",
        "example.co.jp",
    ),
    (b"https://search.yahoo.co.jp/", "search.yahoo.co.jp", "yahoo.co.jp", "search", "Yahoo!"),
    # PSL private section
    (b"https://foo.github.io/post", "foo.github.io", "foo.github.io", "referral", "foo.github.io"),
    (b"https://a.foo.github.io/", "a.foo.github.io", "foo.github.io", "referral", "foo.github.io"),
    (
        b"https://myapp.herokuapp.com/",
        "myapp.herokuapp.com",
        "myapp.herokuapp.com",
        "referral",
        "myapp.herokuapp.com",
    ),
    (b"https://github.com/org/repo", "github.com", "github.com", "referral", "GitHub"),
    # whole-label matching, most specific entry wins
    (
        b"https://en.m.wikipedia.org/wiki/X",
        "en.m.wikipedia.org",
        "wikipedia.org",
        "referral",
        "Wikipedia",
    ),
    (
        b"https://notwikipedia.org/",
        "notwikipedia.org",
        "notwikipedia.org",
        "referral",
        "notwikipedia.org",
    ),
    (b"https://notgoogle.com/", "notgoogle.com", "notgoogle.com", "referral", "notgoogle.com"),
    (b"https://gemini.google.com/app", "gemini.google.com", "google.com", "ai", "Gemini"),
    (b"https://mail.google.com/mail/u/0/", "mail.google.com", "google.com", "email", "Gmail"),
    (b"https://mail.google.co.uk/", "mail.google.co.uk", "google.co.uk", "email", "Gmail"),
    (b"https://scholar.google.de/", "scholar.google.de", "google.de", "search", "Google Scholar"),
    (b"https://news.google.com/", "news.google.com", "google.com", "referral", "Google News"),
    # search, social, AI, e-mail
    (b"https://www.bing.com/", "bing.com", "bing.com", "search", "Bing"),
    (b"https://duckduckgo.com/", "duckduckgo.com", "duckduckgo.com", "search", "DuckDuckGo"),
    (b"https://yandex.ru/search", "yandex.ru", "yandex.ru", "search", "Yandex"),
    (b"https://search.brave.com/", "search.brave.com", "brave.com", "search", "Brave Search"),
    (b"https://brave.com/", "brave.com", "brave.com", "referral", "brave.com"),
    (b"https://www.ecosia.org/", "ecosia.org", "ecosia.org", "search", "Ecosia"),
    (b"https://kagi.com/search", "kagi.com", "kagi.com", "search", "Kagi"),
    (b"https://t.co/abc", "t.co", "t.co", "social", "X (Twitter)"),
    (b"https://x.com/someone", "x.com", "x.com", "social", "X (Twitter)"),
    (b"https://lnkd.in/xyz", "lnkd.in", "lnkd.in", "social", "LinkedIn"),
    (b"https://old.reddit.com/r/python", "old.reddit.com", "reddit.com", "social", "Reddit"),
    (b"https://m.facebook.com/", "m.facebook.com", "facebook.com", "social", "Facebook"),
    (b"https://l.instagram.com/", "l.instagram.com", "instagram.com", "social", "Instagram"),
    (b"https://bsky.app/profile/x", "bsky.app", "bsky.app", "social", "Bluesky"),
    (b"https://mastodon.social/@x", "mastodon.social", "mastodon.social", "social", "Mastodon"),
    (b"https://fosstodon.org/", "fosstodon.org", "fosstodon.org", "social", "Mastodon"),
    (b"https://hachyderm.io/", "hachyderm.io", "hachyderm.io", "social", "Mastodon"),
    (b"https://infosec.exchange/", "infosec.exchange", "infosec.exchange", "social", "Mastodon"),
    (b"https://lobste.rs/s/abc", "lobste.rs", "lobste.rs", "social", "Lobsters"),
    (b"https://www.threads.net/", "threads.net", "threads.net", "social", "Threads"),
    (b"https://chatgpt.com/", "chatgpt.com", "chatgpt.com", "ai", "ChatGPT"),
    (b"https://chat.openai.com/", "chat.openai.com", "openai.com", "ai", "ChatGPT"),
    (b"https://claude.ai/chat/1", "claude.ai", "claude.ai", "ai", "Claude"),
    (b"https://www.perplexity.ai/", "perplexity.ai", "perplexity.ai", "ai", "Perplexity"),
    (
        b"https://copilot.microsoft.com/",
        "copilot.microsoft.com",
        "microsoft.com",
        "ai",
        "Microsoft Copilot",
    ),
    (b"https://outlook.live.com/mail/0/", "outlook.live.com", "live.com", "email", "Outlook"),
    (b"https://mail.yahoo.com/", "mail.yahoo.com", "yahoo.com", "email", "Yahoo! Mail"),
    (b"https://mail.proton.me/u/0/", "mail.proton.me", "proton.me", "email", "Proton Mail"),
    (
        b"https://webmail.uni-example.de/",
        "webmail.uni-example.de",
        "uni-example.de",
        "email",
        "uni-example.de",
    ),
    # internal: the site itself and its subdomains
    (b"https://example.com/pricing", "example.com", "example.com", "internal", "example.com"),
    (b"https://www.example.com/", "example.com", "example.com", "internal", "example.com"),
    (
        b"https://blog.EXAMPLE.com:8443/",
        "blog.example.com",
        "example.com",
        "internal",
        "example.com",
    ),
    (b"https://example.com.evil.org/", "example.com.evil.org", "evil.org", "referral", "evil.org"),
    (b"https://notexample.com/", "notexample.com", "notexample.com", "referral", "notexample.com"),
    # IDN: punycode in, Unicode in, mixed case, invalid punycode
    (b"https://xn--bcher-kva.de/", "bücher.de", "bücher.de", "referral", "bücher.de"),
    ("https://Bücher.DE/".encode(), "bücher.de", "bücher.de", "referral", "bücher.de"),
    (b"https://www.xn--mnchen-3ya.de/", "münchen.de", "münchen.de", "referral", "münchen.de"),
    (b"https://XN--STRAE-OQA.de/", "straße.de", "straße.de", "referral", "straße.de"),
    ("https://пример.рф/".encode(), "пример.рф", "пример.рф", "referral", "пример.рф"),
    (b"https://xn--e1afmkfd.xn--p1ai/", "пример.рф", "пример.рф", "referral", "пример.рф"),
    (b"https://blog.xn--fiqs8s/", "blog.中国", "blog.中国", "referral", "blog.中国"),
    (b"https://xn--zz-/", None, None, "direct", None),  # decodes to plain ASCII: not IDNA
    (b"https://xn--a.com/", None, None, "direct", None),  # invalid punycode
    # IP literals
    (b"http://192.168.1.10/admin", "(ip)", "(ip)", "referral", "(ip)"),
    (b"http://203.0.113.9:8080/", "(ip)", "(ip)", "referral", "(ip)"),
    (b"http://[2001:db8::1]/", "(ip)", "(ip)", "referral", "(ip)"),
    (b"http://[::ffff:192.0.2.1]:80/", "(ip)", "(ip)", "referral", "(ip)"),
    (b"http://127.1/", "(ip)", "(ip)", "referral", "(ip)"),
    (b"http://2130706433/", "(ip)", "(ip)", "referral", "(ip)"),
    # android-app
    (
        b"android-app://com.google.android.gm/",
        "com.google.android.gm",
        "com.google.android.gm",
        "email",
        "Gmail",
    ),
    (
        b"android-app://com.google.android.googlequicksearchbox/https/www.google.com",
        "com.google.android.googlequicksearchbox",
        "com.google.android.googlequicksearchbox",
        "search",
        "Google",
    ),
    (
        b"android-app://org.example.reader",
        "org.example.reader",
        "org.example.reader",
        "referral",
        "org.example.reader",
    ),
    (b"android-app://not a package/", None, None, "direct", None),
    # not web, garbage, oversized, non-UTF-8
    (b"", None, None, "direct", None),
    (b"about:blank", None, None, "direct", None),
    (b"file:///etc/passwd", None, None, "direct", None),
    (b"ftp://files.example.org/", None, None, "direct", None),
    (b"javascript:alert(1)", None, None, "direct", None),
    (b"data:text/html,<h1>x</h1>", None, None, "direct", None),
    (b"not a url at all", None, None, "direct", None),
    (b"//google.com/", None, None, "direct", None),
    (b"https://", None, None, "direct", None),
    (b"https:///path", None, None, "direct", None),
    (b"http://[::1/", None, None, "direct", None),
    (b"http://[not-ip]/", None, None, "direct", None),
    (b"https://exa mple.com/", None, None, "direct", None),
    (b"https://exa<script>.com/", None, None, "direct", None),
    (b"https://a..b.com/", None, None, "direct", None),
    (b"https://" + b"a" * 64 + b".com/", None, None, "direct", None),
    (b"https://google.com/" + b"x" * 5000, None, None, "direct", None),
    (b"https://" + b"a." * 2500 + b"com/", None, None, "direct", None),
    (b"https://caf\xe9.fr/", None, None, "direct", None),
    (b"https://\xff\xfe\xfd/", None, None, "direct", None),
    (b"https://g\xc3\x28.com/", None, None, "direct", None),
    (b"https://example.org/\x00", "example.org", "example.org", "referral", "example.org"),
]


@pytest.mark.parametrize(("raw", "host", "domain", "medium", "source"), CASES)
def test_referrer_normalisation(
    raw: bytes, host: str | None, domain: str | None, medium: str, source: str | None
) -> None:
    result = parse_referrer(raw, normalise_site(SITE))
    assert (result.host, result.domain, result.medium, result.source) == (
        host,
        domain,
        medium,
        source,
    )
    assert not result.spam


def test_enough_cases() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize(
    "raw",
    [
        b"http://0-0.fr/",  # listed host
        b"https://www.0-0.fr/page",  # listed host with www.
        b"https://sub.deeper.0-0.fr/",  # subdomain of a listed host
        b"http://0-0.FR./",  # case and trailing dot
    ],
)
def test_spam_hosts_and_their_subdomains_are_flagged(raw: bytes) -> None:
    assert "0-0.fr" in SPAM_HOSTS
    assert parse_referrer(raw, SITE).spam


def test_spam_list_is_the_shipped_copy_and_parents_only_match_on_labels() -> None:
    assert len(SPAM_HOSTS) > 2000
    assert not parse_referrer(b"https://x0-0.fr/", SITE).spam
    assert not parse_referrer(b"https://google.com/", SITE).spam


@pytest.mark.parametrize(
    ("site", "raw", "medium"),
    [
        ("Example.COM", b"https://www.example.com/", "internal"),
        ("www.example.com", b"https://example.com/", "internal"),
        ("bücher.de", b"https://xn--bcher-kva.de/", "internal"),
        ("xn--bcher-kva.de", "https://shop.bücher.de/".encode(), "internal"),
        ("blog.example.com", b"https://example.com/", "referral"),
        ("127.0.0.1", b"http://127.0.0.1:8000/", "internal"),
        ("localhost", b"http://localhost:8000/", "internal"),
    ],
)
def test_internal_follows_the_configured_site(site: str, raw: bytes, medium: str) -> None:
    assert parse_referrer(raw, normalise_site(site)).medium == medium


@pytest.mark.parametrize("site", ["", "   ", "exa mple.com", "a..b", "https://"])
def test_bad_site_names_are_refused(site: str) -> None:
    with pytest.raises(ValueError, match="site"):
        normalise_site(site)


def test_cached_parser_reuses_one_answer_per_origin() -> None:
    parse = referrer_parser(SITE)
    first = parse(b"https://www.google.com/")
    assert parse(b"https://www.google.com/search?q=something+private") is first
    assert parse(b"https://user:pw@www.google.com/") is first
    assert parse(b"") is DIRECT


@pytest.mark.parametrize(("raw", "host", "domain", "medium", "source"), CASES)
def test_cached_parser_agrees_with_the_full_parse_on_every_case(
    raw: bytes, host: str | None, domain: str | None, medium: str, source: str | None
) -> None:
    parse = referrer_parser(SITE)
    result = parse(raw)
    assert (result.host, result.domain, result.medium, result.source) == (
        host,
        domain,
        medium,
        source,
    )


@pytest.mark.parametrize(
    ("raw", "origin"),
    [
        (b"https://user:secret@Example.COM:8443/p/a?token=abc#frag", b"https://Example.COM:8443"),
        (b"  http://news.ycombinator.com/item?id=1", b"http://news.ycombinator.com"),
        (b"android-app://com.google.android.gm/path", b"android-app://com.google.android.gm"),
        (b"https://a@b@host.example/x", b"https://host.example"),
        (b"no scheme here", b""),
        (b"/relative/path?q=1", b""),
    ],
)
def test_the_cache_key_holds_no_path_query_or_credentials(raw: bytes, origin: bytes) -> None:
    # Cache keys live in process memory: the referring page's path, query and credentials
    # must never be among them.
    assert origin_part(raw) == origin


def test_table_is_consistent() -> None:
    hosts: list[str] = []
    for medium, name, entries in (*WEB_SOURCES, *ANDROID_APPS):
        assert medium in MEDIUMS
        assert medium not in ("direct", "internal")
        assert name
        for host in entries:
            assert host == host.lower()
            assert not host.startswith("www.")
            hosts.append(host)
    assert len(hosts) == len(set(hosts)), "a host is listed twice"


@pytest.mark.parametrize(
    ("referer", "host", "medium", "source"),
    [
        # `google.*` stands for Google under a country's suffix, not for a site someone
        # hosts under a platform's private suffix (google.github.io is Google's open-source
        # documentation, linked from everywhere: not a search).
        (b"https://google.github.io/styleguide/", "google.github.io", "referral", None),
        (b"https://google.blogspot.com/", "google.blogspot.com", "referral", None),
        (b"https://yahoo.netlify.app/", "yahoo.netlify.app", "referral", None),
        (b"https://yandex.pages.dev/", "yandex.pages.dev", "referral", None),
        (b"https://pinterest.vercel.app/", "pinterest.vercel.app", "referral", None),
        (b"https://google.herokuapp.com/", "google.herokuapp.com", "referral", None),
        (b"https://mail.google.github.io/", "mail.google.github.io", "referral", None),
        (b"https://google.s3.amazonaws.com/x", "google.s3.amazonaws.com", "referral", None),
        # the real ones, under ICANN suffixes, stay what they are
        (b"https://www.google.co.uk/", "google.co.uk", "search", "Google"),
        (b"https://www.google.com.au/", "google.com.au", "search", "Google"),
        (b"https://google.de/", "google.de", "search", "Google"),
        (b"https://mail.google.com/", "mail.google.com", "email", "Gmail"),
        (b"https://search.yahoo.co.jp/", "search.yahoo.co.jp", "search", "Yahoo!"),
        (b"https://yandex.com.tr/", "yandex.com.tr", "search", "Yandex"),
        (b"https://www.pinterest.co.uk/", "pinterest.co.uk", "social", "Pinterest"),
        (b"https://scholar.google.com.br/", "scholar.google.com.br", "search", "Google Scholar"),
    ],
)
def test_wildcard_sources_match_public_suffixes_not_private_ones(
    referer: bytes, host: str, medium: str, source: str | None
) -> None:
    found = parse_referrer(referer, SITE)
    assert (found.host, found.medium) == (host, medium)
    assert found.source == (source or found.domain)


# Reviewed and right already; kept so that they stay so.
@pytest.mark.parametrize(
    ("site", "referer", "expected"),
    [
        ("example.com", b"https://www.example.com/a", ("example.com", "example.com", "internal")),
        ("www.example.com", b"https://example.com/", ("example.com", "example.com", "internal")),
        (
            "example.com",
            b"https://blog.example.com/",
            ("blog.example.com", "example.com", "internal"),
        ),
        (
            "example.com",
            b"HTTPS://U:P@WWW.EXAMPLE.COM.:8443/x",
            ("example.com", "example.com", "internal"),
        ),
        (
            "example.com",
            b"https://example.com.evil.org/",
            ("example.com.evil.org", "evil.org", "referral"),
        ),
        (
            "example.com",
            b"https://notexample.com/",
            ("notexample.com", "notexample.com", "referral"),
        ),
        ("bücher.de", b"https://www.xn--bcher-kva.de/", ("bücher.de", "bücher.de", "internal")),
        (
            "xn--bcher-kva.de",
            b"https://shop.b\xc3\xbccher.de/",
            ("shop.bücher.de", "bücher.de", "internal"),
        ),
        (
            "foo.github.io",
            b"https://bar.github.io/",
            ("bar.github.io", "bar.github.io", "referral"),
        ),
        (
            "example.com",
            b"https://user:pw@www.google.com:443/",
            ("google.com", "google.com", "search"),
        ),
        ("example.com", b"https://WWW.GOOGLE.DE./search?q=x", ("google.de", "google.de", "search")),
        (
            "example.com",
            b"https://lm.facebook.com/l.php?u=x",
            ("lm.facebook.com", "facebook.com", "social"),
        ),
        (
            "example.com",
            b"android-app://com.google.android.gm/",
            ("com.google.android.gm", "com.google.android.gm", "email"),
        ),
        (
            "example.com",
            b"android-app://COM.Reddit.Frontpage",
            ("com.reddit.frontpage", "com.reddit.frontpage", "social"),
        ),
        ("example.com", b"android-app://1bad.package/", (None, None, "direct")),
        ("example.com", b"https://xn--zz-invalid.com/", (None, None, "direct")),
    ],
)
def test_referrer_normalisation_and_self_referrals(
    site: str, referer: bytes, expected: tuple[str | None, str | None, str]
) -> None:
    found = referrer_parser(site)(referer)
    assert (found.host, found.domain, found.medium) == expected


# Google's products that link out are not a Google search: a link in a shared Google Doc or a
# Google Group, the return from "Sign in with Google", a place's website on Maps.
@pytest.mark.parametrize(
    ("referer", "source"),
    [
        (b"https://docs.google.com/document/d/x/edit", "Google Docs"),
        (b"https://sites.google.com/view/x", "Google Sites"),
        (b"https://groups.google.com/g/x", "Google Groups"),
        (b"https://accounts.google.com/", "Google Accounts"),
        (b"https://maps.google.com/", "Google Maps"),
        (b"https://www.google.com/maps/place/x", "Google"),  # Maps under www: not told apart
        (b"https://play.google.com/store/apps/details?id=x", "Google Play"),
        (b"https://classroom.google.com/", "Google Classroom"),
        (b"https://drive.google.com/", "Google Drive"),
        (b"https://docs.google.co.uk/", "Google Docs"),
    ],
)
def test_google_products_are_referrals_not_searches(referer: bytes, source: str) -> None:
    found = parse_referrer(referer, SITE)
    assert (found.medium, found.source) == ("search" if source == "Google" else "referral", source)
