"""Session 6: what an event says, checked as an analyst who trusts the numbers would.

Internet addresses in paths and UTM tags (the privacy policy promises none is stored), and
the referrer, UTM and user-agent classification edge cases found in review.
"""

from __future__ import annotations

import pytest

from analytics.paths import REDACTED, extract_utm, redact_path
from analytics.referrers import parse_referrer, referrer_parser
from analytics.useragents import classify_user_agent

R = REDACTED

# Each side of the rule: what is an Internet address (redacted) and what only looks a little
# like one (kept). A dotted quad of 0-255 values; an IPv6 address with at least two colons,
# hex groups and a digit, not glued to other letters or digits.
IP_PATHS = [
    # IPv4
    ("/whois/198.51.100.1", f"/whois/{R}"),
    ("/whois/198.51.100.1/details", f"/whois/{R}/details"),
    ("/ip/0.0.0.0", f"/ip/{R}"),
    ("/ip/255.255.255.255", f"/ip/{R}"),
    ("/ip/10.0.0.1", f"/ip/{R}"),
    ("/ip/192.168.001.010", f"/ip/{R}"),  # zero-padded, as some logs print them
    ("/lookup/host-203.0.113.9", f"/lookup/{R}"),
    ("/lookup/ip198.51.100.1", f"/lookup/{R}"),
    ("/logs/198.51.100.1.json", f"/logs/{R}"),
    ("/logs/198.51.100.1:8080", f"/logs/{R}"),
    ("/a/198.51.100.1_2", f"/a/{R}"),
    ("/ip/198%2E51%2E100%2E1", f"/ip/{R}"),  # doubly encoded: scope path decodes once
    ("/ip/198.51.100.1%2Fx", f"/ip/{R}"),
    # IPv6
    ("/u/2001:db8::1/profile", f"/u/{R}/profile"),
    ("/u/2001:DB8::1", f"/u/{R}"),
    ("/u/2001:db8:85a3:0:0:8a2e:370:7334", f"/u/{R}"),
    ("/u/2001:0db8:85a3:0000:0000:8a2e:0370:7334", f"/u/{R}"),
    ("/u/fe80::1", f"/u/{R}"),
    ("/u/fe80::1%25eth0", f"/u/{R}"),
    ("/u/::1", f"/u/{R}"),
    ("/u/::ffff:192.0.2.1", f"/u/{R}"),
    ("/u/[2001:db8::1]", f"/u/{R}"),
    ("/u/[2001:db8::1]:443", f"/u/{R}"),
    ("/u/2001%3Adb8%3A%3A1/profile", f"/u/{R}/profile"),  # doubly encoded
    ("/u/2001%3adb8%3a%3a1", f"/u/{R}"),
    ("/u/addr=2001:db8::42", f"/u/{R}"),
    ("/u/2001:db8::1.json", f"/u/{R}"),
    ("/u/x_2001:db8::1", f"/u/{R}"),
    ("/u/fd00::", f"/u/{R}"),
    ("/u/abcd::ef", f"/u/{R}"),  # no digit, still an address
    ("/cpp/a::b", f"/cpp/{R}"),  # a valid IPv6 literal: privacy wins over a rare a-f name
    # kept: versions, dates, numbers, times, code paths
    ("/v1.2.3/", "/v1.2.3/"),
    ("/releases/v1.2.3", "/releases/v1.2.3"),
    ("/releases/1.2.3.4.5", "/releases/1.2.3.4.5"),  # five parts: no address
    ("/archive/2026.11.28/", "/archive/2026.11.28/"),
    ("/archive/28.11.2026", "/archive/28.11.2026"),
    ("/blog/10.0", "/blog/10.0"),
    ("/ip/256.1.1.1", "/ip/256.1.1.1"),
    ("/ip/1.2.3.256", "/ip/1.2.3.256"),
    ("/ip/1.2.3", "/ip/1.2.3"),
    ("/python/3.11.4", "/python/3.11.4"),
    ("/files/report.2026.q3.pdf", "/files/report.2026.q3.pdf"),
    ("/schedule/12:30:45", "/schedule/12:30:45"),
    ("/events/2026-11-28T10:00:00Z", "/events/2026-11-28T10:00:00Z"),
    ("/docs/std::vec::Vec", "/docs/std::vec::Vec"),
    ("/pod/Data::Dumper", "/pod/Data::Dumper"),
    ("/ratio/16:9", "/ratio/16:9"),
    ("/mac/aa:bb:cc:dd:ee:ff:00", "/mac/aa:bb:cc:dd:ee:ff:00"),  # seven pairs: no address
    ("/ns/urn:isbn:0451450523", "/ns/urn:isbn:0451450523"),
    ("/emoji/::", "/emoji/::"),  # the unspecified address is no one's
    ("/cpp/std::vec2::x", "/cpp/std::vec2::x"),  # `ec2::` glued to a name
    ("/u/1:2:3:4:5:6:7:8:9", "/u/1:2:3:4:5:6:7:8:9"),  # nine groups: not an address
    ("/windows/10.0.19045.2006", "/windows/10.0.19045.2006"),
    ("/c/1:2:3", "/c/1:2:3"),
]


@pytest.mark.parametrize(("path", "expected"), IP_PATHS)
def test_internet_addresses_in_paths_are_redacted(path: str, expected: str) -> None:
    assert redact_path(path) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"utm_campaign=198.51.100.7", (None, None, R)),
        (b"utm_source=2001:db8::7", (R, None, None)),
        (b"utm_source=2001%3Adb8%3A%3A7", (R, None, None)),  # decoded once by the query parser
        (b"utm_source=2001%253Adb8%253A%253A7", (R, None, None)),  # doubly encoded
        (b"utm_medium=visitor%20198.51.100.7", (None, R, None)),
        (b"utm_campaign=from+198.51.100.7+ok", (None, None, R)),
        (b"ref=198.51.100.7", (R, None, None)),
        (b"utm_campaign=john%2540example.com", (None, None, R)),  # doubly encoded e-mail
        (b"utm_campaign=198%252E51%252E100%252E7", (None, None, R)),
        # kept
        (b"utm_campaign=release-1.2.3", (None, None, "release-1.2.3")),
        (b"utm_campaign=2026.11.28", (None, None, "2026.11.28")),
        (b"utm_campaign=spring%25off", (None, None, "spring%off")),
        (b"utm_campaign=10:30", (None, None, "10:30")),
    ],
)
def test_internet_addresses_in_utm_tags_are_redacted(
    query: bytes, expected: tuple[str | None, ...]
) -> None:
    assert extract_utm(query) == expected


SITE = "example.com"


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


_CHROME = "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0"
_WEBKIT = "AppleWebKit/605.1.15 (KHTML, like Gecko)"


# Current browsers, desktop and mobile: never a bot, and the device an analyst expects.
@pytest.mark.parametrize(
    ("user_agent", "device"),
    [
        (f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_CHROME} Safari/537.36", "desktop"),
        (f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) {_CHROME} Safari/537.36", "desktop"),
        (f"Mozilla/5.0 (X11; Linux x86_64) {_CHROME} Safari/537.36", "desktop"),
        (f"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) {_CHROME} Safari/537.36", "desktop"),
        (f"Mozilla/5.0 (Windows NT 10.0; ARM64) {_CHROME} Safari/537.36", "desktop"),
        (f"Mozilla/5.0 (Linux; Android 10; K) {_CHROME} Mobile Safari/537.36", "mobile"),
        (f"Mozilla/5.0 (Linux; Android 10; K) {_CHROME} Safari/537.36", "tablet"),
        (f"Mozilla/5.0 (Linux; Android 15; Pixel 9 Pro) {_CHROME} Mobile Safari/537.36", "mobile"),
        (f"Mozilla/5.0 (Linux; Android 13; SM-X200) {_CHROME} Safari/537.36", "tablet"),
        (f"Mozilla/5.0 (Linux; Android 13; Lenovo TB-J716F) {_CHROME} Safari/537.36", "tablet"),
        (
            f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) {_WEBKIT} "
            "CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
            "mobile",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "desktop",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:133.0) Gecko/20100101 Firefox/133.0",
            "desktop",
        ),
        (
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "desktop",
        ),
        ("Mozilla/5.0 (Android 15; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0", "mobile"),
        ("Mozilla/5.0 (Android 14; Tablet; rv:133.0) Gecko/133.0 Firefox/133.0", "tablet"),
        (
            f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) {_WEBKIT} FxiOS/133.0 "
            "Mobile/15E148 Safari/605.1.15",
            "mobile",
        ),
        (
            f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) {_WEBKIT} Version/18.1 "
            "Safari/605.1.15",
            "desktop",  # also what iPadOS Safari sends by default: the UA cannot tell them apart
        ),
        (
            f"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) {_WEBKIT} Version/18.1 "
            "Mobile/15E148 Safari/604.1",
            "mobile",
        ),
        (
            f"Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) {_WEBKIT} Version/18.1 "
            "Mobile/15E148 Safari/604.1",
            "tablet",
        ),
        (
            f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_CHROME} Safari/537.36 Edg/131.0.0.0",
            "desktop",
        ),
        (
            f"Mozilla/5.0 (Linux; Android 10; K) {_CHROME} Mobile Safari/537.36 EdgA/131.0.0.0",
            "mobile",
        ),
        (
            f"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) {_WEBKIT} Version/18.0 "
            "EdgiOS/131.2903.68 Mobile/15E148 Safari/605.1.15",
            "mobile",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-X710) AppleWebKit/537.36 (KHTML, like "
            "Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Safari/537.36",
            "tablet",
        ),
        (
            "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Silk/131.3.2 like Chrome/131.0.6778.200 Safari/537.36",
            "tablet",
        ),
        (
            f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) {_WEBKIT} "
            "GSA/343.0.695551749 Mobile/15E148 Safari/604.1",
            "mobile",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240905.003; wv) AppleWebKit/537.36"
            " (KHTML, like Gecko) Version/4.0 Chrome/129.0.6668.100 Mobile Safari/537.36 "
            "Instagram 352.0.0.38.100 Android (34/14; 420dpi; 1080x2400; Google/google; Pixel 8)",
            "mobile",
        ),
    ],
)
def test_current_browsers_are_people_on_the_expected_device(user_agent: str, device: str) -> None:
    assert classify_user_agent(user_agent.encode()) == (device, False)


@pytest.mark.parametrize(
    "user_agent",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
        "+https://openai.com/gptbot)",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0; "
        "+https://openai.com/bot",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Claude-User/1.0; "
        "+Claude-User@anthropic.com)",
        "WhatsApp/2.23.20.0",
        # missed before: an AI assistant fetching for its user, Bluesky's link-card fetcher,
        # and the fetch() of the JavaScript runtimes (Node's sends just "node")
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Perplexity-User/1.0; "
        "+https://perplexity.ai/perplexity-user)",
        "Mozilla/5.0 (compatible; Bluesky Cardyb/1.1; +mailto:support@bsky.app)",
        "node",
        "Node",
        "Deno/2.0.0",
        "Bun/1.1.30",
    ],
)
def test_automated_clients_are_bots(user_agent: str) -> None:
    assert classify_user_agent(user_agent.encode()) == ("bot", True)


# Android says "Mobile" on phones and nothing on tablets, so a TV, a streaming stick or a
# headset running Android looked like a tablet; like PlayStation, Switch and webOS TVs (and
# an Xbox, which says Windows), they are neither phone, tablet nor desktop: `other`.
@pytest.mark.parametrize(
    "user_agent",
    [
        "Mozilla/5.0 (Linux; Android 9; SHIELD Android TV Build/PPR1.180610.011) "
        f"{_CHROME} Safari/537.36",
        "Mozilla/5.0 (Linux; Android 9; AFTMM Build/PS7233; wv) AppleWebKit/537.36 (KHTML, "
        "like Gecko) Version/4.0 Chrome/130.0.6723.102 Safari/537.36",  # Fire TV Stick 4K
        "Mozilla/5.0 (Linux; Android 10; BRAVIA 4K VH2 Build/QTG3.200305.006.S292; wv) "
        "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/126.0.6478.134 Safari/537.36",
        f"Mozilla/5.0 (Linux; Android 13; Chromecast) {_CHROME} Safari/537.36",
        f"Mozilla/5.0 (Linux; Android 11; Smart TV Build/RP1A.201005.006) {_CHROME} Safari/537.36",
        "Mozilla/5.0 (X11; Linux x86_64; Quest 3) AppleWebKit/537.36 (KHTML, like Gecko) "
        "OculusBrowser/35.0 Chrome/128.0.0.0 VR Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox Series X) "
        f"{_CHROME} Safari/537.36 Edge/20.02",
        "Mozilla/5.0 (PlayStation; PlayStation 5/6.00) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/15.4 Safari/605.1.15",
        "Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/94.0.4606.128 Safari/537.36 WebAppManager",
    ],
)
def test_tvs_consoles_and_headsets_are_other_devices(user_agent: str) -> None:
    assert classify_user_agent(user_agent.encode()) == ("other", False)


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


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"utm_source=&utm_source=b", ("b", None, None)),  # a blank first value does not win
        (b"utm_source=%20&utm_source=b", ("b", None, None)),
        (b"utm_source=a&utm_source=b", ("a", None, None)),
        (b"utm_source=a+b%20c", ("a b c", None, None)),
        (b"utm_source=1%2B1", ("1+1", None, None)),
        (b"utm_source=caf\xe9", ("caf\ufffd", None, None)),  # Latin-1, not UTF-8
        (b"utm_source=%C2%A0news%C2%A0", ("news", None, None)),
        (b"utm_source=x;utm_medium=y", ("x;utm_medium=y", None, None)),  # `&` only separates
        (b"utm_source=" + b"a" * 98 + b"+198.51.100.7", (R, None, None)),  # cut, checked whole
    ],
)
def test_utm_edge_cases(query: bytes, expected: tuple[str | None, ...]) -> None:
    assert extract_utm(query) == expected


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
