"""A session id written into the path is dropped, and the page it was written into is kept.

Servlet containers write `;jsessionid=` into every link for a visitor without cookies (PHP
`;PHPSESSID=`), and ASP.NET's cookieless sessions put the id in a segment of its own,
`/(S(…))/`. The recorder redacted the whole segment that held one, so
`/shop/item/42;jsessionid=A1B2C3D4E5F6` was stored as `/shop/item/:redacted` and
`/cart;jsessionid=…` as `/:redacted`: every page a cookieless Java visitor saw collapsed into
a few rows (an analyst's audit; Matomo strips the parameter and keeps the page). Now the
parameter, name and value up to the next `;` or the segment's end, is dropped and the rest
of the segment judged by every other rule; a cookieless session's segment is dropped whole.
Nothing of the value is stored, whatever it holds.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pyarrow as pa
import pytest

from analytics.accesslog import PrivateAccessLog
from analytics.paths import REDACTED, extract_utm, redact_path, redact_sent_path
from analytics.spool import list_segments, read_segment
from tests.recording_support import capture, stored_per_target, unhashed_recorder
from tests.test_accesslog import _record

# (path as the server decodes it, raw_path as sent, stored path, the session id's value)
CASES = [
    # the audit's page, and the one whose segment was the page's only name
    ("/shop/item/42;jsessionid=A1B2C3D4E5F6", None, "/shop/item/42", "A1B2C3D4E5F6"),
    ("/cart;jsessionid=Pangolin42", None, "/cart", "Pangolin42"),
    # the other matrix parameters stay, in their order
    ("/a;v=1;jsessionid=Quokka77;lang=en", None, "/a;v=1;lang=en", "Quokka77"),
    ("/index.php;PHPSESSID=k3jf8sl2/next", None, "/index.php/next", "k3jf8sl2"),
    ("/page;sid=a8f3k2", None, "/page", "a8f3k2"),
    ("/cart;JSESSIONID=UPPERCASE9", None, "/cart", "UPPERCASE9"),  # names in any case
    ("/cart;JSessionId=MixedCase9", None, "/cart", "MixedCase9"),
    # a servlet's id with its node's route after a dot, and two session parameters
    ("/p;jsessionid=8F3A2B.node1;phpsessid=Narwhal5", None, "/p", "Narwhal5"),
    # ASP.NET's cookieless segment: dropped whole, also with other tickets
    ("/(S(abc123))/shop/cart.aspx", None, "/shop/cart.aspx", "abc123"),
    ("/(X(1)S(lit3py55t21z5v55vlm25s55))/a.aspx", None, "/a.aspx", "lit3py55t21z5v55vlm25s55"),
    ("/app/(A(Axolotl3)F(ticket))/a.aspx", None, "/app/a.aspx", "Axolotl3"),
    # a segment that was only the id; a trailing slash kept; nothing left but the root
    ("/;jsessionid=Wombat11", None, "/", "Wombat11"),
    ("/shop/;jsessionid=Wombat12", None, "/shop/", "Wombat12"),
    ("/(S(Wombat13))/", None, "/", "Wombat13"),
    ("/(S(Wombat14))", None, "/", "Wombat14"),
    (";jsessionid=Wombat15", None, "/", "Wombat15"),
    # a segment that was only the id, mid-path: gone, not left as an empty segment
    ("/shop/;jsessionid=Wombat16/next", None, "/shop/next", "Wombat16"),
    ("/a/(S(Wombat17))/;jsessionid=Wombat18/b", None, "/a/b", "Wombat18"),
    # platforms' names and a word and a separator before `sess`
    ("/a;ASPSESSIONIDQACRCBTA=Wombat19", None, "/a", "Wombat19"),
    ("/a;CFSESSION=Wombat20", None, "/a", "Wombat20"),
    ("/a;app_session=Wombat21", None, "/a", "Wombat21"),
    # a value another rule would redact: gone all the same, the page kept
    ("/cart;jsessionid=jane.doe@example.org", None, "/cart", "jane.doe"),
    ("/cart;jsessionid=203.0.113.9", None, "/cart", "203.0.113"),
    ("/cart;jsessionid=4111111111111111", None, "/cart", "4111111111111111"),
    # the rest of the segment judged as any other: a token or an address is still redacted
    ("/reset/Zx9Qw3Er7Ty1Ui5Op2As8Df4;jsessionid=Koala1", None, "/reset/:redacted", "Koala1"),
    ("/u/jane@example.org;jsessionid=Koala2/orders", None, "/u/:redacted/orders", "Koala2"),
    ("/imei;jsessionid=Koala3/35693803564380", None, "/imei/:redacted", "Koala3"),
    # `%3B` and `%3D` sent once: servers decode them in path, so the pipeline sees `;` and `=`
    ("/cart;jsessionid=Encoded1", b"/cart%3Bjsessionid%3DEncoded1", "/cart", "Encoded1"),
    # judged as the client sent its segments (an encoded slash elsewhere): the same
    ("/cart;jsessionid=Sent1/a/b", b"/cart;jsessionid=Sent1/a%2Fb", "/cart/a%2Fb", "Sent1"),
    ("/c;jsessionid=Sent2/a/b", b"/c%3Bjsessionid%3DSent2/a%2Fb", "/c/a%2Fb", "Sent2"),
    ("/(S(Sent3))/a/b", b"/(S(Sent3))/a%2Fb", "/a%2Fb", "Sent3"),
    # a `/` sent encoded inside the value is the value's: the client's segment ends it
    ("/cart;jsessionid=Sl/ash9/next", b"/cart;jsessionid=Sl%2Fash9/next", "/cart/next", "ash9"),
    # odd bytes in the value (not UTF-8, controls, spaces, non-ASCII): all dropped
    (
        "/caf\ufffd;jsessionid=Odd\ufffd\x00 \u00e9x",
        b"/caf%E9;jsessionid=Odd%FF%00%20%C3%A9x",
        "/caf%E9",
        "Odd",
    ),
    ("/cart;jsessionid=Odd\x00\x1b[31m", None, "/cart", "Odd"),
    # under a root path a server left out of raw_path
    ("/app/(S(Root1))/x/y", b"/x%2Fy", "/app/x%2Fy", "Root1"),
    # encoded twice (`%253B`): path still holds `%3B`, no matrix parameter to a server; the
    # name still says what the value is, so the segment goes whole, as before
    ("/cart%3Bjsessionid%3DTwice1", None, f"/{REDACTED}", "Twice1"),
]


@pytest.mark.parametrize(("path", "raw_path", "stored", "value"), CASES)
def test_the_session_id_is_dropped_and_the_page_kept(
    path: str, raw_path: bytes | None, stored: str, value: str
) -> None:
    # redact_sent_path is what the recorder stores (analytics.capture) and the access log
    # logs; redact_path what it comes to without raw_path
    assert redact_sent_path(path, raw_path) == stored
    assert value not in stored
    if raw_path is None:
        assert redact_path(path) == stored


@pytest.mark.parametrize(("path", "raw_path", "stored", "value"), CASES)
def test_a_stored_path_is_stored_as_it_is_when_judged_again(
    path: str, raw_path: bytes | None, stored: str, value: str
) -> None:
    assert redact_sent_path(stored, None) == stored


def test_a_path_that_held_a_session_id_is_no_cache_key() -> None:
    path = "/shop/item/43;jsessionid=CacheKey77"
    assert redact_path(path) == "/shop/item/43"
    assert redact_path(path) == "/shop/item/43"
    assert path not in redact_path._kept  # the raw path with its id is not kept in memory


@pytest.mark.parametrize(
    "path",
    [
        "/matrix;color=red;size=10",  # matrix parameters that name no session
        "/inside;inside=yes",
        "/wiki/Python_(programming_language)",
        "/wiki/C_(S)",
        "/music/(S)ex-(S)ex",
        "/sessions/2026/keynote",
        "/docs/session-management",
        "/docs/sid",
        "/a;sess",  # a name with no value
        "/quiz;assessment=2",  # a word that holds `sess` is no session's name
        "/a;possession=3",
    ],
)
def test_readable_segments_stay(path: str) -> None:
    assert redact_path(path) == path


def test_a_session_id_in_a_campaign_tag_still_redacts_the_value() -> None:
    assert extract_utm(b"utm_campaign=spring;jsessionid=Puffin8") == (None, None, REDACTED)


def test_the_access_log_drops_it_as_the_event_does() -> None:
    record = _record(quote("/shop/item/42;jsessionid=LogValue1") + "?x=1")
    assert PrivateAccessLog().filter(record) is True
    assert record.getMessage() == '- - "GET /shop/item/42 HTTP/1.1" 200'


def _strings_and_bytes(spool: Path) -> tuple[list[str], list[bytes]]:
    """Every string value in the spool's segments, and each segment file's bytes."""
    values: list[str] = []
    files: list[bytes] = []
    for segment in list_segments(spool):
        table = read_segment(segment.path)
        for column in table.columns:
            if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                values += [value for value in column.to_pylist() if value is not None]
        files.append(segment.path.read_bytes())
    return values, files


def test_the_recorder_stores_the_page_and_no_byte_of_the_id(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    recorder = unhashed_recorder(spool)
    for path, raw_path, _, _ in CASES:
        recorder.add(capture(path, raw_path=raw_path))
    recorder.close()
    values, files = _strings_and_bytes(spool)
    assert sorted(value for value in values if value.startswith("/")) == sorted(
        stored for _, _, stored, _ in CASES
    )
    for _, _, _, value in CASES:
        assert not any(value in stored for stored in values), value
        for raw in files:
            assert value.encode() not in raw, value
            assert value.encode("utf-16-le") not in raw, value


def test_through_a_real_server_the_id_is_dropped_however_it_was_sent(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    targets = [  # (sent byte for byte, stored after its `/n<i>` prefix, the value)
        ("/shop/item/42;jsessionid=RealValue1", "/shop/item/42", "RealValue1"),
        ("/cart%3Bjsessionid%3DRealValue2", "/cart", "RealValue2"),  # decoded by the server
        ("/cart%253Bjsessionid%253DRealValue3", f"/{REDACTED}", "RealValue3"),  # twice
        ("/a;v=1;JSESSIONID=RealValue4;lang=en/b%2Fc", "/a;v=1;lang=en/b%2Fc", "RealValue4"),
        ("/(S(realvalue5abcdefghijklm))/default.aspx", "/default.aspx", "realvalue5"),
        ("/caf%E9;jsessionid=RealValue6%FF%00", "/caf%E9", "RealValue6"),
    ]
    stored = stored_per_target(spool, [sent for sent, _, _ in targets])
    assert stored == {
        f"n{number}": f"/n{number}{expected}" for number, (_, expected, _) in enumerate(targets)
    }
    values, files = _strings_and_bytes(spool)
    for _, _, value in targets:
        assert not any(value in text for text in values), value
        assert not any(value.encode() in raw for raw in files), value
