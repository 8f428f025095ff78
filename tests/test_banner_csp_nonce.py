"""Which nonce of a page's Content-Security-Policy the injected script and stylesheet carry.

Under a nonce-based CSP a script or stylesheet without the page's nonce is blocked (see
test_browser_banner_csp_nonce.py for Chromium doing so). The gate uses only a nonce the page's
own policy names, in the directive that governs the element, and only one made of base64
characters: a header value must never become markup.
"""

from __future__ import annotations

import pytest
from starlette.types import Receive, Scope, Send

from cookiewall import ConsentMiddleware
from cookiewall.banner import csp_nonces
from tests.test_cookiewall_support import SECRET, call, make_policy

N = "abc123+/_-=="
NONCE_TABLE = [
    # (enforced header values, report-only values, script nonce, style nonce)
    ([f"script-src 'nonce-{N}' 'strict-dynamic'"], [], N, None),
    ([f"default-src 'nonce-{N}'"], [], N, N),
    ([f"default-src 'self'; script-src 'nonce-{N}'"], [], N, None),
    ([f"style-src 'nonce-{N}'"], [], None, N),
    ([f"script-src-elem 'nonce-{N}'; style-src-elem 'nonce-s1'"], [], N, "s1"),
    # The governing directive wins: default-src's nonce does not apply under script-src.
    ([f"default-src 'nonce-{N}'; script-src 'self'"], [], None, N),
    ([f"script-src 'self'; script-src-elem 'unsafe-inline'; default-src 'nonce-{N}'"], [], None, N),
    # Names and the nonce- keyword in any case; the value as written.
    ([f"Script-Src 'NONCE-{N}'"], [], N, None),
    # A repeated directive is ignored (CSP3): the first one governs.
    ([f"script-src 'self'; script-src 'nonce-{N}'"], [], None, None),
    # Several policies, in one header (comma) or several: the first that has one.
    ([f"frame-ancestors 'none', script-src 'nonce-{N}'"], [], N, None),
    (["frame-ancestors 'none'", f"script-src 'nonce-{N}'"], [], N, None),
    (["script-src 'nonce-first'", "script-src 'nonce-second'"], [], "first", None),
    # Report-only only when no enforced policy has one.
    ([], [f"script-src 'nonce-{N}'"], N, None),
    (["script-src 'nonce-enforced'"], ["script-src 'nonce-reported'"], "enforced", None),
    # Never invented, never anything but base64 characters.
    (["script-src 'self' 'strict-dynamic'"], [], None, None),
    ([""], [], None, None),
    ([";;; ,,"], [], None, None),
    (["script-src 'nonce-'"], [], None, None),
    (["script-src 'nonce-abc"], [], None, None),
    (["script-src nonce-abc"], [], None, None),
    (["script-src 'nonce-a\"><script>alert(1)</script>'"], [], None, None),
    (["script-src 'nonce-a\"onload=alert(1)//'"], [], None, None),
    (["script-src 'nonce-a=b'"], [], None, None),
    (["script-src 'nonce-abc==='"], [], None, None),
    (["script-src 'nonce-bad<' 'nonce-good'"], [], "good", None),
    (["script-src 'nonce-caf\xe9'"], [], None, None),
    (["script-src 'sha256-AAAA'"], [], None, None),
]


@pytest.mark.parametrize(("enforced", "report_only", "script", "style"), NONCE_TABLE)
def test_the_nonce_comes_from_the_directive_that_governs_the_element(
    enforced: list[str], report_only: list[str], script: str | None, style: str | None
) -> None:
    encoded = [value.encode("latin-1") for value in enforced]
    reported = [value.encode("latin-1") for value in report_only]
    assert csp_nonces(encoded, reported) == (script, style)


def _gate(csp: list[tuple[bytes, bytes]]) -> ConsentMiddleware:
    page = b"<!doctype html><html><body><p>Hello</p></body></html>"

    async def site(scope: Scope, receive: Receive, send: Send) -> None:
        length = str(len(page)).encode()
        headers = [(b"content-type", b"text/html"), (b"content-length", length), *csp]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": page})

    return ConsentMiddleware(site, policy=make_policy(), secret_key=SECRET, inject_banner=True)


PAGES = [
    ([(b"Content-Security-Policy", f"script-src 'nonce-{N}'".encode())], N, None),
    ([(b"content-security-policy", f"default-src 'nonce-{N}'".encode())], N, N),
    ([(b"content-security-policy-report-only", f"style-src 'nonce-{N}'".encode())], None, N),
    ([(b"content-security-policy", b"script-src 'nonce-x\"><b>'")], None, None),
    ([(b"content-security-policy", b"default-src 'self'")], None, None),
    ([], None, None),
]


@pytest.mark.parametrize(("csp", "script", "style"), PAGES)
def test_the_injected_script_and_link_carry_the_pages_own_nonce(
    csp: list[tuple[bytes, bytes]], script: str | None, style: str | None
) -> None:
    response = call(_gate(csp), "GET", "/")
    assert response.status_code == 200
    body = response.text
    link = body[body.index("<link ") : body.index(">", body.index("<link ")) + 1]
    tag = body[body.index("<script ") : body.index("</script>")]
    assert ("nonce=" in link) is (style is not None)
    assert ("nonce=" in tag) is (script is not None)
    if style:
        assert f'nonce="{style}"' in link
    if script:
        assert f'nonce="{script}"' in tag
    assert "<b>" not in body
    assert response.headers["content-length"] == str(len(response.content))


def test_a_decided_visitor_gets_the_page_as_the_app_sent_it() -> None:
    # No banner, so nothing to read: the CSP is looked at only for a page being injected.
    gate = _gate([(b"content-security-policy", f"script-src 'nonce-{N}'".encode())])
    decided = call(gate, "POST", "/consent", data={"action": "reject_all"})
    cookie = decided.headers["set-cookie"].split(";", 1)[0]
    response = call(gate, "GET", "/", headers={"cookie": cookie})
    assert response.text == "<!doctype html><html><body><p>Hello</p></body></html>"
