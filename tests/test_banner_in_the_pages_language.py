"""`banner_language="page"`: on a multilingual site the injected banner speaks the page's
language (its `<html lang>`), not the visitor's browser's, and so does everything the banner
leads to: its "Cookie details" link, the live-region texts, the page a no-JS decision
returns to. A page that names no language the policy has texts for falls back to the
visitor's Accept-Language; the default (`"visitor"`) is Accept-Language alone, as before."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import pytest
from starlette.types import Receive, Scope, Send

from cookiewall import ConsentMiddleware, Policy
from cookiewall.banner import head_policies_and_language, meta_policies, page_language
from cookiewall.policy import Category, CookieRule
from tests.shop_support import SHOP_SECRET, call_shop, shop_policy

ENGLISH_VISITOR = {"accept-language": "en-GB,en;q=0.9"}
GERMAN_VISITOR = {"accept-language": "de-CH, de;q=0.9"}
PAGE_DOCUMENT = {"sec-fetch-dest": "document"}  # a browser opening the URL itself
REST = b"<head><title>t</title></head><body><main><p>page</p></main></body></html>"
_SECTION = re.compile(r'<section class="cookiewall"[^>]*\blang="([^"]*)" dir="([^"]*)"')
# What each language's banner says on its first button, and after a choice (live region).
ACCEPT_ALL = {"en": "Accept all", "de": "Alle akzeptieren", "fr": "Tout accepter"}


def _page_app(page: bytes, pieces: int | None) -> Callable[[Scope, Receive, Send], object]:
    """An app that answers `page` whole with its length (held by the gate), or streamed in
    `pieces`-byte messages with no length (passed on as it comes)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        if pieces is None:
            headers.append((b"content-length", str(len(page)).encode()))
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": page})
            return
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for at in range(0, len(page), pieces):
            last = at + pieces >= len(page)
            await send(
                {
                    "type": "http.response.body",
                    "body": page[at : at + pieces],
                    "more_body": not last,
                }
            )

    return app


def _gate(
    app: object, banner_language: str | None, policy: Policy | None = None
) -> ConsentMiddleware:
    options = {} if banner_language is None else {"banner_language": banner_language}
    return ConsentMiddleware(
        app,  # type: ignore[arg-type]
        policy=policy or shop_policy(),
        secret_key=SHOP_SECRET,
        inject_banner=True,
        **options,  # type: ignore[arg-type]
    )


def _banner_language(text: str) -> tuple[str, str]:
    found = _SECTION.search(text)
    assert found is not None, "no banner in the page"
    return found.group(1), found.group(2)


# The page's start -> the language its banner speaks with banner_language="page", for an
# English visitor (None: the page names none the policy has texts for: the visitor's, `en`).
PAGES: list[tuple[str, bytes, str | None]] = [
    ("fr", b'<!doctype html><html lang="fr">', "fr"),
    ("region in capitals", b'<!DOCTYPE html><html lang="FR-ch">', "fr"),
    ("de-AT finds de", b"<!doctype html><html lang='de-AT'>", "de"),
    ("private-use tag", b'<!doctype html><html lang="x-klingon">', None),
    ("empty: unknown", b'<!doctype html><html lang="">', None),
    ("missing", b"<!doctype html><html>", None),
    ("on <body> only", b'<!doctype html><html><head></head><body lang="fr">', None),
    ("unquoted", b"<!doctype html><html lang=fr>", "fr"),
    ("spaced, upper-case name", b'<!doctype html>\n<HTML\n  LANG = "fr"\n  class="x">', "fr"),
    ("xml:lang has no effect in HTML", b'<!doctype html><html xml:lang="fr">', None),
    ("xml:lang beside lang", b'<!doctype html><html xml:lang="de" lang="fr">', "fr"),
    ("repeated: the first counts", b'<!doctype html><html lang="fr" lang="de">', "fr"),
    ("character reference", b'<!doctype html><html lang="&#102;r">', "fr"),
    ("in a comment before <html>", b'<!-- <html lang="de"> --><html lang="fr">', "fr"),
    ("only in a comment", b'<!doctype html><!-- <html lang="fr"> --><html>', None),
    (
        "in a script before <html>",
        b'<!doctype html><script>document.write(\'<html lang="de">\')</script><html lang="fr">',
        "fr",  # HTML's parser adds a later <html>'s attributes to the root the script opened
    ),
    ("only in a script", b"<!doctype html><script>var s = '<html lang=fr>'</script><html>", None),
    ("XML declaration first", b'<?xml version="1.0"?>\n<html lang="de-DE">', "de"),
    ("byte-order mark", b'\xef\xbb\xbf<!doctype html><html lang="fr-FR">', "fr"),
    ("longer than any tag", b'<!doctype html><html lang="fr-' + b"x" * 70 + b'">', None),
    ("bytes that are no text", b'<!doctype html><html lang="fr\xff\xfe">', None),
]


@pytest.mark.parametrize("pieces", [None, 5], ids=["held", "streamed"])
@pytest.mark.parametrize("banner_language", [None, "visitor", "page"])
@pytest.mark.parametrize(("start", "expected"), [p[1:] for p in PAGES], ids=[p[0] for p in PAGES])
def test_the_banner_speaks_the_pages_language_only_when_asked(
    start: bytes, expected: str | None, banner_language: str | None, pieces: int | None
) -> None:
    app = _gate(_page_app(start + REST, pieces), banner_language)
    response = call_shop(app, "GET", "/fr/", headers=ENGLISH_VISITOR)
    language = expected if banner_language == "page" and expected is not None else "en"
    assert response.status_code == 200
    assert _banner_language(response.text) == (language, "ltr")
    assert ACCEPT_ALL[language] in response.text
    # The page itself is left as it came: its start, its end after the banner.
    assert response.content.startswith(start)
    assert response.content.endswith(b"</body></html>")


@pytest.mark.parametrize(
    ("start", "visitor", "expected"),
    [
        (b'<!doctype html><html lang="x-klingon">', GERMAN_VISITOR, "de"),
        (b"<!doctype html><html>", GERMAN_VISITOR, "de"),
        (b'<!doctype html><html lang="">', {"accept-language": "fr"}, "fr"),
        (b'<!doctype html><html lang="it">', {}, "en"),  # no texts, no header: English
        (b'<!doctype html><html lang="en-US">', GERMAN_VISITOR, "en"),  # the page wins
    ],
)
def test_a_page_without_a_language_of_the_policy_falls_back_to_the_visitors(
    start: bytes, visitor: dict[str, str], expected: str
) -> None:
    app = _gate(_page_app(start + REST, None), "page")
    response = call_shop(app, "GET", "/", headers=visitor)
    assert _banner_language(response.text)[0] == expected


def test_dir_follows_the_pages_language_and_the_policys_own_texts() -> None:
    policy = Policy(
        "1",
        [Category("necessary", required=True), Category("analytics")],
        [CookieRule("_ga*", "analytics")],
        texts={"ar": {"title": "ملفات تعريف الارتباط", "accept_all": "قبول الكل"}},
    )
    app = _gate(
        _page_app(b'<!doctype html><html lang="ar-EG" dir="rtl">' + REST, None), "page", policy
    )
    response = call_shop(app, "GET", "/ar/", headers=ENGLISH_VISITOR)
    assert _banner_language(response.text) == ("ar", "rtl")
    assert "قبول الكل" in response.text


def _links(text: str) -> dict[str, str]:
    """The banner's "Cookie details" link and each button's live-region text."""
    details = re.search(r'<p class="cookiewall-more"><a href="([^"]*)"', text)
    assert details is not None
    saved = re.findall(r'value="(\w+)" data-cookiewall-saved="([^"]*)"', text)
    return {"details": html.unescape(details.group(1)), **{k: html.unescape(v) for k, v in saved}}


def test_everything_the_french_banner_leads_to_is_french_for_an_english_visitor() -> None:
    app = _gate(_page_app(b'<!doctype html><html lang="fr-CH">' + REST, None), "page")
    page = call_shop(app, "GET", "/fr/boutique?x=1", headers=ENGLISH_VISITOR)
    links = _links(page.text)
    # What the live region says after each button (banner.js reads it off the button).
    assert links["accept_all"] == "Votre choix est enregistré : tous les cookies sont acceptés."
    assert "refusés" in links["reject_all"]
    # The cookie list the banner links to names the banner's language: a French list,
    # whatever the browser asks for; the URL says so, so no cache can mix the two.
    assert links["details"] == "/consent/cookies?format=html&lang=fr"
    listing = call_shop(app, "GET", links["details"], headers={**ENGLISH_VISITOR, **PAGE_DOCUMENT})
    assert listing.status_code == 200
    assert listing.text.startswith('<!doctype html><html lang="fr">')
    assert "Catégorie" in listing.text
    assert listing.headers["content-language"] == "fr"
    # A no-JS decision posted from that page returns to it (its banner gone): the French page.
    decided = call_shop(
        app,
        "POST",
        "/consent",
        data={"action": "accept_all", "next": "/fr/boutique?x=1"},
        headers={"origin": "http://shop.example"},
    )
    assert decided.status_code == 303
    assert decided.headers["location"] == "/fr/boutique?x=1"


def test_the_visitors_banner_links_to_the_list_as_before() -> None:
    app = _gate(_page_app(b'<!doctype html><html lang="fr">' + REST, None), None)
    page = call_shop(app, "GET", "/", headers=GERMAN_VISITOR)
    assert _links(page.text)["details"] == "/consent/cookies?format=html"


@pytest.mark.parametrize(
    ("query", "visitor", "expected"),
    [
        ("&lang=fr", ENGLISH_VISITOR, "fr"),
        ("&lang=FR-ch", ENGLISH_VISITOR, "fr"),
        ("&lang=de-AT", ENGLISH_VISITOR, "de"),
        ("&lang=x-klingon", GERMAN_VISITOR, "de"),
        ("&lang=", GERMAN_VISITOR, "de"),
        ("&lang=%00%ff", GERMAN_VISITOR, "de"),
        ("&lang=" + "fr-" * 40, ENGLISH_VISITOR, "en"),
        ("", GERMAN_VISITOR, "de"),
    ],
)
@pytest.mark.parametrize("banner_language", ["visitor", "page"])
def test_under_page_language_the_list_and_the_banner_page_speak_the_language_their_url_names(
    query: str, visitor: dict[str, str], expected: str, banner_language: str
) -> None:
    app = _gate(_page_app(b"<!doctype html><html>" + REST, None), banner_language)
    if banner_language == "visitor":  # its banner links without `lang`: the URL's is not read
        expected = "en" if visitor is ENGLISH_VISITOR else "de"
    listing = call_shop(app, "GET", f"/consent/cookies?format=html{query}", headers=visitor)
    assert listing.status_code == 200
    assert listing.headers["content-language"] == expected
    assert "accept-language" in listing.headers["vary"].lower()  # the fallback varies with it
    reopened = call_shop(app, "GET", f"/consent/banner?next=/fr/{query}", headers=visitor)
    assert reopened.status_code == 200
    assert reopened.headers["content-language"] == expected
    assert _banner_language(reopened.text)[0] == expected
    assert ACCEPT_ALL[expected] in reopened.text


@pytest.mark.parametrize("banner_language", ["visitor", "page"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_page_with_the_banner_stays_private_and_varies_with_the_visitor(
    banner_language: str, method: str
) -> None:
    app = _gate(_page_app(b'<!doctype html><html lang="fr">' + REST, None), banner_language)
    response = call_shop(app, method, "/fr/", headers=ENGLISH_VISITOR)
    vary = {token.strip().lower() for token in response.headers["vary"].split(",")}
    assert {"cookie", "accept-language"} <= vary
    assert "private" in response.headers["cache-control"]


def test_a_decided_visitor_gets_the_page_as_it_came() -> None:
    page = b'<!doctype html><html lang="fr">' + REST
    app = _gate(_page_app(page, None), "page")
    decided = call_shop(
        app,
        "POST",
        "/consent",
        json={"action": "reject_all"},
        headers={"origin": "http://shop.example"},
    )
    cookie = decided.headers["set-cookie"].split(";", 1)[0]
    response = call_shop(app, "GET", "/fr/", headers={"cookie": cookie, **ENGLISH_VISITOR})
    assert response.content == page


@pytest.mark.parametrize("value", ["document", "browser", "PAGE", "", None, True, ["page"]])
def test_a_banner_language_other_than_visitor_or_page_is_a_value_error(value: object) -> None:
    with pytest.raises(ValueError, match=r"banner_language must be 'visitor' .* or 'page'"):
        ConsentMiddleware(
            _page_app(b"", None),  # type: ignore[arg-type]
            policy=shop_policy(),
            secret_key=SHOP_SECRET,
            banner_language=value,  # type: ignore[arg-type]
        )


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (b'<html lang="fr">', "fr"),
        (b'<html lang="fr', None),  # cut in the tag: a later piece may finish it
        (b"<html><head><title>x</title></head><body lang=fr>", None),
        (b'<!doctype html><html><head><meta charset="utf-8"><html lang="DE">', "de"),
        (b'<html lang="">', ""),
        (b"", None),
    ],
)
def test_page_language_reads_the_start_as_the_browser_does(
    start: bytes, expected: str | None
) -> None:
    assert page_language(start) == expected


CSP_HEAD = (
    b'<!doctype html><html lang="fr"><head><style>p { color: red }</style>'
    b'<meta http-equiv="Content-Security-Policy" content="script-src &#39;nonce-abc123&#39;">'
    b"<title>t</title></head><body>"
)


@pytest.mark.parametrize("start", [CSP_HEAD, *(p[1] for p in PAGES)])
def test_one_reading_of_the_head_finds_what_the_two_find(start: bytes) -> None:
    assert head_policies_and_language(start) == (list(meta_policies(start)), page_language(start))


@pytest.mark.parametrize("pieces", [None, 7], ids=["held", "streamed"])
def test_the_french_banner_keeps_the_nonce_of_the_pages_meta_csp(pieces: int | None) -> None:
    app = _gate(_page_app(CSP_HEAD + b"<p>x</p></body></html>", pieces), "page")
    response = call_shop(app, "GET", "/fr/", headers=ENGLISH_VISITOR)
    assert _banner_language(response.text)[0] == "fr"
    assert re.search(r'<script src="[^"]*banner\.js[^"]*"[^>]* nonce="abc123"', response.text)
