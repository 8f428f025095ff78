from __future__ import annotations

import pytest

from analytics.paths import MAX_PATH_LENGTH, MAX_TAG_LENGTH, REDACTED, extract_utm, redact_path

R = REDACTED


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", "/"),
        ("", "/"),
        ("/about", "/about"),
        ("/blog/a-perfectly-normal-post-title", "/blog/a-perfectly-normal-post-title"),
        ("/blog/How-To-Fix-Error-404-In-Python-3-12", "/blog/How-To-Fix-Error-404-In-Python-3-12"),
        ("/blog/an_underscored_slug_with_many_words", "/blog/an_underscored_slug_with_many_words"),
        ("/docs/v2/api/reference.html", "/docs/v2/api/reference.html"),
        ("/products/123456", "/products/123456"),
        ("/trailing/", "/trailing/"),
        ("/Straße/café", "/Straße/café"),
        ("/ABCDEFGHIJKLMNOPQRSTUVWXYZ", "/ABCDEFGHIJKLMNOPQRSTUVWXYZ"),  # no digits, no lower
        # e-mail addresses
        ("/users/john.doe@example.com", f"/users/{R}"),
        ("/users/john.doe@example.com/settings", f"/users/{R}/settings"),
        ("/unsubscribe/JOHN+news@Example.CO.UK", f"/unsubscribe/{R}"),
        ("/u/john%40example.com", f"/u/{R}"),  # doubly encoded (scope path decodes once)
        ("/@mastodon_handle", "/@mastodon_handle"),
        # UUIDs, with and without dashes, any case
        ("/orders/123e4567-e89b-12d3-a456-426614174000", f"/orders/{R}"),
        ("/orders/123E4567-E89B-12D3-A456-426614174000/items", f"/orders/{R}/items"),
        ("/o/123e4567e89b12d3a456426614174000", f"/o/{R}"),
        ("/file-123e4567-e89b-12d3-a456-426614174000.pdf", f"/{R}"),
        # hex tokens (>= 24 hex characters)
        ("/reset/0123456789abcdef01234567", f"/reset/{R}"),
        ("/reset/0123456789abcdef0123456", "/reset/0123456789abcdef0123456"),  # 23: stays
        ("/c/DEADBEEFDEADBEEFDEADBEEFDEADBEEF", f"/c/{R}"),
        ("/commit/9fceb02d0ae598e95dc970b74767f19372d61af8", f"/commit/{R}"),
        # base64 / base64url tokens mixing upper, lower, digits
        ("/verify/AbCdEfGhIjKlMnOpQrStUvWx12", f"/verify/{R}"),
        ("/s/aGVsbG8gd29ybGQgaGVsbG8gd29ybGQ=", f"/s/{R}"),
        ("/s/Zm9v-YmFyYmF6_cXV4cXV1eDEyMzQ1Njc4OQ", f"/s/{R}"),
        ("/magic/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig", f"/magic/{R}"),
        ("/share/AbCdEfGhIjKlMnOp1234", "/share/AbCdEfGhIjKlMnOp1234"),  # 20: stays
        ("/a/b/AbCdEfGhIjKlMnOpQrStUvWx12/c/d", f"/a/b/{R}/c/d"),
        # several at once
        (
            "/u/a@b.io/t/0123456789abcdef01234567/p/title-of-the-page",
            f"/u/{R}/t/{R}/p/title-of-the-page",
        ),
    ],
)
def test_path_redaction(path: str, expected: str) -> None:
    assert redact_path(path) == expected


def test_long_paths_are_cut_at_a_segment_boundary() -> None:
    path = "/section" * 200 + "/AbCdEfGhIjKlMnOpQrStUvWx12"
    stored = redact_path(path)
    assert len(stored) <= MAX_PATH_LENGTH + 2
    assert stored.endswith("/…")
    assert "AbCdEfGh" not in stored
    assert all(part in ("", "section", "…") for part in stored.split("/"))


def test_redaction_is_cached() -> None:
    redact_path.cache_clear()
    redact_path("/x/y")
    redact_path("/x/y")
    assert redact_path.cache_info().hits == 1


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"", (None, None, None)),
        (b"q=shoes&page=2", (None, None, None)),
        (
            b"utm_source=newsletter&utm_medium=email&utm_campaign=spring",
            ("newsletter", "email", "spring"),
        ),
        (b"utm_campaign=spring&utm_source=newsletter", ("newsletter", None, "spring")),
        (b"ref=producthunt", ("producthunt", None, None)),
        (b"source=hn", ("hn", None, None)),
        (b"ref=a&utm_source=b", ("b", None, None)),  # the explicit tag wins
        (b"source=a&ref=b", ("a", None, None)),
        (b"utm_source=News%20Letter", ("News Letter", None, None)),
        (b"utm_source=News+Letter", ("News Letter", None, None)),
        (b"utm_source=%20%20padded%20%20", ("padded", None, None)),
        (b"utm_source=", (None, None, None)),
        (b"utm_source=%20", (None, None, None)),
        (b"utm_source=a&utm_source=b", ("a", None, None)),
        (b"utm_medium=cpc&token=s3cr3t&session=abc", (None, "cpc", None)),
        (b"utm_source=caf%C3%A9", ("café", None, None)),
        (b"utm_source=%FF%FE", ("\ufffd\ufffd", None, None)),
        (b"utm_source=john.doe%40example.com", (REDACTED, None, None)),
        (b"utm_campaign=0123456789abcdef0123456789", (None, None, REDACTED)),
        (b"UTM_SOURCE=x", (None, None, None)),  # keys are case-sensitive, as in GA
        (b"utm_source=" + b"x" * 500, ("x" * MAX_TAG_LENGTH, None, None)),
        (b"utm_source=a%0Ab%09c", ("a b c", None, None)),
        (b"&&&utm_source=x&&", ("x", None, None)),
        (b"noutm_source=x", (None, None, None)),
        (b"preferred=1", (None, None, None)),
    ],
)
def test_utm_extraction(query: bytes, expected: tuple[str | None, ...]) -> None:
    assert extract_utm(query) == expected


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


@pytest.mark.parametrize(
    ("segment", "redacted"),
    [
        ("john.doe@example.com", True),
        ("a@b.co", True),
        ("contact-us-at-jane+news@mail.example.org-now", True),
        ("john%40example.com", True),
        ("@handle", False),
        ("user@localhost", False),
        ("name@domain.", False),
        ("a-perfectly-normal-post-title", False),
        ("x" * 30 + "@" + "y" * 30 + ".de", True),
    ],
)
def test_email_segments_are_still_redacted(segment: str, redacted: bool) -> None:
    from analytics.paths import REDACTED, redact_path

    assert (redact_path(f"/u/{segment}/edit") == f"/u/{REDACTED}/edit") is redacted


@pytest.mark.parametrize(
    "query",
    [
        # The address starts before the 100-character cap: cut first, "john.doe@exa" was kept.
        b"utm_campaign=" + b"spring+sale+" * 7 + b"john.doe@example.com",
        b"utm_source=" + b"newsletter+" * 8 + b"jane@example.org",
        b"ref=" + b"a+" * 45 + b"0123456789abcdef0123456789abcdef",
        b"utm_medium=" + b"x+" * 48 + b"AbCdEfGhIjKlMnOpQrStUvWxYz012345",
    ],
)
def test_utm_value_with_an_identifier_past_the_cap_is_redacted(query: bytes) -> None:
    from analytics.paths import REDACTED, extract_utm

    tags = extract_utm(query)
    assert REDACTED in tags
    for tag in tags:
        assert tag is None or ("@" not in tag and "0123456789" not in tag and "AbCd" not in tag)


def test_redacted_paths_are_always_storable_text() -> None:
    from analytics.paths import redact_path

    for path in ("/caf\udce9", "/\ud83d\ude00", "/ok/\u00e9t\u00e9"):
        redact_path(path).encode("utf-8")  # what Arrow and the access log need
    assert redact_path("/ok/\u00e9t\u00e9") == "/ok/\u00e9t\u00e9"


@pytest.mark.parametrize(
    ("path", "stored"),
    [
        ("/" + "word-" * 120, "/…"),  # one long segment: was "//…", a path with an empty segment
        ("/" + "word-" * 120 + "/tail", "/…"),
        ("/a/" + "word-" * 120, "/a/…"),
        ("/a/b/" + "word-" * 120 + "/c", "/a/b/…"),
    ],
)
def test_a_long_path_is_cut_on_a_segment_boundary(path: str, stored: str) -> None:
    from analytics.paths import redact_path

    assert redact_path(path) == stored
