"""A field the consent endpoints decide by, sent more than once, is one list (RFC 9110 5.3).

Before, the last copy won: `Origin: <evil>` then `Origin: <own>` passed the cross-site check,
and so did `Sec-Fetch-Site: cross-site` then `same-origin`. A browser sends each once, so this
is hardening: a decision stands only when every copy agrees it is same-origin.
"""

from __future__ import annotations

import pytest

from tests.test_consent_request_reading import (
    ACCEPT_JSON,
    END,
    JSON,
    MULTIPART,
    assert_refused,
    part,
    post,
)

OWN = (b"origin", b"http://testserver")
EVIL = (b"origin", b"http://evil.example")
SAME_ORIGIN = (b"sec-fetch-site", b"same-origin")
CROSS_SITE = (b"sec-fetch-site", b"cross-site")


@pytest.mark.parametrize(
    "headers",
    [
        [EVIL, OWN],  # was accepted: the last Origin won
        [OWN, EVIL],
        [CROSS_SITE, SAME_ORIGIN],  # was accepted: the last Sec-Fetch-Site won
        [SAME_ORIGIN, CROSS_SITE],
        [CROSS_SITE, SAME_ORIGIN, OWN],
        [SAME_ORIGIN, (b"sec-fetch-site", b"same-site"), EVIL],
    ],
)
def test_a_repeated_origin_or_fetch_site_cannot_outvote_a_cross_site_copy(
    headers: list[tuple[bytes, bytes]],
) -> None:
    assert_refused(post([JSON, *headers], [ACCEPT_JSON]), 403)


@pytest.mark.parametrize(
    "headers",
    [
        [OWN],
        [SAME_ORIGIN],
        [SAME_ORIGIN, SAME_ORIGIN, EVIL],  # every copy says same-origin: the browser's word
        [SAME_ORIGIN, OWN],
    ],
)
def test_agreeing_copies_still_pass(headers: list[tuple[bytes, bytes]]) -> None:
    answer = post([JSON, *headers], [ACCEPT_JSON])
    assert answer.status == 200, answer.body
    assert any(cookie.startswith(b"cookiewall=") for cookie in answer.set_cookies)


def test_a_repeated_content_type_is_not_read_as_its_last_copy() -> None:
    # `text/plain` then JSON: the endpoint must not pick the copy that suits it.
    answer = post([(b"content-type", b"text/plain"), JSON, OWN], [ACCEPT_JSON])
    assert_refused(answer, 415)


def test_repeated_content_lengths_are_a_400_not_the_last_copy() -> None:
    body = ACCEPT_JSON
    lengths = [(b"content-length", b"1"), (b"content-length", str(len(body)).encode())]
    assert_refused(post([JSON, OWN, *lengths], [body]), 400)


def test_a_repeated_accept_language_is_read_as_one_list() -> None:
    # The join is what RFC 9110 says a list field means: the first copy's language still counts
    # (the last copy alone, which the gate read before, names no language it has).
    answer = post(
        [(b"accept-language", b"de"), (b"accept-language", b"xx")],
        [],
        method="GET",
        path="/consent/banner",
    )
    assert answer.status == 200
    assert b'lang="de"' in answer.body or b"lang=de" in answer.body


# -- a repeated Content-Type is refused, whichever copy comes first -----------------------
#
# The gate joins a repeated field with ", " (RFC 9110 5.3) and the README says a repeated
# Content-Type is refused. It was only when the joined value named no media type the endpoint
# reads: `application/json; charset=utf-8` then `text/plain` read as JSON (the media type is
# what comes before the first ';'), and a multipart body whose boundary line spelled the
# joined parameter ("B, text/plain") was a decision.


@pytest.mark.parametrize(
    ("copies", "body"),
    [
        ([b"application/json; charset=utf-8", b"text/plain"], ACCEPT_JSON),
        ([b"application/json; charset=utf-8", b"application/json"], ACCEPT_JSON),
        ([b"application/x-www-form-urlencoded; charset=utf-8", b"x"], b"action=accept_all"),
        (
            [b"multipart/form-data; boundary=B", b"text/plain"],
            (part(b"accept_all") + END).replace(b"--B", b"--B, text/plain"),
        ),
    ],
    ids=["json-then-text", "json-twice", "form-then-other", "multipart-joined-boundary"],
)
def test_a_repeated_content_type_is_refused_whichever_copy_is_first(
    copies: list[bytes], body: bytes
) -> None:
    headers = [(b"content-type", value) for value in copies]
    assert_refused(post([*headers, OWN], [body]), 400)


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        (JSON[1], ACCEPT_JSON, 200),
        (b"application/json; charset=utf-8", ACCEPT_JSON, 200),
        (b"application/x-www-form-urlencoded;charset=UTF-8", b"action=accept_all", 303),
        (MULTIPART[1], part(b"accept_all") + END, 303),
        # A quoted boundary may hold a ',' (RFC 2046 5.1.1 bchars): one field, still read.
        (
            b'multipart/form-data; boundary="a,b"',
            (part(b"accept_all") + END).replace(b"--B", b"--a,b"),
            303,
        ),
    ],
)
def test_one_content_type_is_still_read(content_type: bytes, body: bytes, status: int) -> None:
    answer = post([(b"content-type", content_type), OWN], [body])
    assert answer.status == status, answer.body


# -- a repeated Referer: every copy must name this origin ---------------------------------
#
# Without Origin and Sec-Fetch-Site the Referer decides. Joined, `http://testserver/a` then
# `http://evil.example/b` is one string whose origin urlsplit reads from the first copy: the
# cross-site second copy was ignored and the decision stood, where a repeated Origin is a 403.


@pytest.mark.parametrize(
    "referers",
    [
        [b"http://testserver/page", b"http://evil.example/page"],
        [b"http://evil.example/page", b"http://testserver/page"],
        [b"http://testserver/page", b"http://testserver/page"],  # a browser sends one
    ],
)
def test_a_repeated_referer_is_refused(referers: list[bytes]) -> None:
    headers = [(b"referer", value) for value in referers]
    assert_refused(post([JSON, *headers], [ACCEPT_JSON]), 403)


@pytest.mark.parametrize(
    "referer",
    [
        b"http://testserver/page",
        b"http://testserver/list?ids=1,2,3&sort=a,b",  # commas in a URL are no list
        b"http://testserver/a,b/c",
    ],
)
def test_one_referer_naming_this_origin_still_passes(referer: bytes) -> None:
    answer = post([JSON, (b"referer", referer)], [ACCEPT_JSON])
    assert answer.status == 200, answer.body
