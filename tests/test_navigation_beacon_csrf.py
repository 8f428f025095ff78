"""A navigation beacon with none of `Sec-Fetch-Site`, `Origin` and `Referer` is refused (403,
nothing recorded) unless its body is JSON.

IE 11 and Firefox before 70 send neither an Origin nor Fetch Metadata with a form or a
no-cors post, and an attacker's page with `Referrer-Policy: no-referrer` leaves out the
Referer: its form with `enctype="text/plain"` (a JSON body written as `name=value`), its
`sendBeacon` or its `fetch(url, {mode: "no-cors"})` reached the beacon with nothing to tell
it from the site's own, and added page views under its visitors. JSON needs a CORS preflight,
which the beacon never grants, so only a client that is no browser can post it: that one is
still let through, as before. Chromium always sends an Origin with the real beacon
(tests/test_browser_navigation_beacon_without_fetch_metadata.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics import Recorder, TrafficMiddleware
from analytics.middleware import Message, Scope
from tests.recording_support import SITE, html_app, spooled

BEACON = "/_navigation"
OWN = f"https://{SITE}"
BODY = json.dumps({"path": "/next", "from": "/now"}).encode()
# What `<form enctype="text/plain">` with one field named `{"path":"/next","from":"/now","x":"`
# and the value `"}` posts: a JSON object, which the beacon reads as a navigation.
FORM_TEXT_BODY = b'{"path":"/next","from":"/now","x":"="}\r\n'
NO_SIGNAL = (
    "cross-site request refused: a beacon must carry this site's Origin or Referer"
    " (a client that is not a browser can post application/json)"
)


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    recorder = Recorder(spool_dir=tmp_path / "spool", site=SITE)
    yield recorder
    recorder.close()


def _post(
    recorder: Recorder, headers: list[tuple[bytes, bytes]], body: bytes = BODY
) -> tuple[int, bytes]:
    app = TrafficMiddleware(html_app, recorder=recorder, navigation_beacon=BEACON)
    scope: Scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                    "method": "POST", "scheme": "https", "path": BEACON,
                    "raw_path": BEACON.encode(), "query_string": b"", "root_path": "",
                    "headers": [(b"host", SITE.encode()), (b"user-agent", b"Mozilla/5.0"),
                                *headers],
                    "client": ("198.51.100.9", 40000), "server": ("10.0.0.5", 443)}  # fmt: skip
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], sent[1]["body"]


def _typed(value: bytes | None) -> list[tuple[bytes, bytes]]:
    return [] if value is None else [(b"content-type", value)]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        pytest.param(b"text/plain;charset=UTF-8", BODY, id="sendBeacon-or-no-cors-fetch"),
        pytest.param(b"text/plain", FORM_TEXT_BODY, id="form-enctype-text-plain"),
        pytest.param(b"TEXT/Plain ; charset=utf-8", BODY, id="text-plain-any-case"),
        pytest.param(b"application/x-www-form-urlencoded", b"path=/next", id="urlencoded-form"),
        pytest.param(b"multipart/form-data; boundary=x", b"--x--\r\n", id="multipart-form"),
        pytest.param(None, BODY, id="no-type-a-blob-without-one"),
        pytest.param(b"image/png", BODY, id="another-type"),
    ],
)
def test_a_post_any_page_can_send_without_origin_or_referer_is_refused(
    recorder: Recorder, content_type: bytes | None, body: bytes
) -> None:
    status, answer = _post(recorder, _typed(content_type), body)
    assert (status, json.loads(answer)) == (403, {"error": NO_SIGNAL})
    assert spooled(recorder) == []


@pytest.mark.parametrize(
    "content_type",
    [b"application/json", b"application/json; charset=utf-8", b"Application/JSON"],
)
def test_json_without_origin_or_referer_is_a_client_that_is_no_browser_and_is_recorded(
    recorder: Recorder, content_type: bytes
) -> None:
    # No page of another origin can post JSON here: that takes a preflight, never granted.
    assert _post(recorder, _typed(content_type))[0] == 204
    assert [(event["path"], event["referrer_medium"]) for event in spooled(recorder)] == [
        ("/next", "internal")
    ]


@pytest.mark.parametrize(
    "signal",
    [
        pytest.param([(b"origin", OWN.encode())], id="origin"),
        pytest.param([(b"referer", f"{OWN}/now".encode())], id="referer"),
        pytest.param([(b"sec-fetch-site", b"same-origin")], id="fetch-metadata"),
    ],
)
@pytest.mark.parametrize("body", [BODY, FORM_TEXT_BODY], ids=["beacon", "form-shaped"])
def test_text_plain_with_one_of_the_signals_naming_this_site_is_recorded(
    recorder: Recorder, signal: list[tuple[bytes, bytes]], body: bytes
) -> None:
    # The control: the same bodies are navigations, so the refusal above is the signal's.
    assert (
        _post(recorder, [(b"content-type", b"text/plain;charset=UTF-8"), *signal], body)[0] == 204
    )
    assert [event["path"] for event in spooled(recorder)] == ["/next"]


@pytest.mark.parametrize(
    "signal",
    [
        pytest.param([(b"origin", b"null")], id="origin-null"),
        pytest.param([(b"origin", b"https://evil.example")], id="other-origin"),
        pytest.param([(b"referer", b"https://evil.example/a")], id="other-referer"),
        pytest.param([(b"sec-fetch-site", b"cross-site")], id="fetch-metadata-cross-site"),
    ],
)
def test_other_origins_are_still_refused_whatever_the_type(
    recorder: Recorder, signal: list[tuple[bytes, bytes]]
) -> None:
    for content_type in (b"text/plain", b"application/json"):
        status, answer = _post(recorder, [(b"content-type", content_type), *signal])
        assert (status, json.loads(answer)) == (403, {"error": "cross-site request refused"})
    assert spooled(recorder) == []
