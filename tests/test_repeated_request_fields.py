"""A field the consent endpoints decide by, sent more than once, is one list (RFC 9110 5.3).

Before, the last copy won: `Origin: <evil>` then `Origin: <own>` passed the cross-site check,
and so did `Sec-Fetch-Site: cross-site` then `same-origin`. A browser sends each once, so this
is hardening: a decision stands only when every copy agrees it is same-origin.
"""

from __future__ import annotations

import pytest

from tests.test_consent_request_reading import ACCEPT_JSON, JSON, assert_refused, post

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
