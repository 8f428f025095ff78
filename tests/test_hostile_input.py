"""Hostile input through the FULL stack, called as ASGI with crafted scopes (raw bytes).

Promises (SPEC 3.2 "never a 500", 3.3 "malformed bodies get 400, never a 500", 4.1 "never
stored: IP, X-Forwarded-For, user agent, cookies, query string", SPEC 1 promises 1 and 3):
whatever a client sends — consent cookies, Cookie headers (duplicates, empty names, huge,
non-ASCII, raw latin-1 bytes), consent bodies (form, JSON: wrong types, deep nesting, huge),
Referer, User-Agent, paths and raw paths (percent-encoding, overlong, invalid UTF-8), Host,
X-Forwarded-For — no request gets a 500, no exception escapes a middleware (nor is logged as
one), no cookie the visitor has not allowed is let through, and the spool holds only valid
events, without any of the secrets sent.

Whatever an application sends in Set-Cookie (odd attributes, case, whitespace, dates a
browser cannot parse) — the gate never lets a forbidden cookie through; the oracle is what a
browser stores (RFC 6265 section 5.2/5.3), written out here case by case.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import logging
import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.event import CONSENT_STATES, DEVICES, EVENT_SCHEMA, MEDIUMS
from analytics.recorder import Recorder
from analytics.spool import list_segments, read_segment
from cookiewall import ConsentMiddleware
from cookiewall.consent import ConsentCodec
from tests.apps.full_stack_app import PAGE_COOKIES, SECRETS, create_app, make_policy
from tests.support import ROOT
from tests.test_cookiewall_support import with_a_wrong_signature

SECRET = "S3CRETMARK"  # put in every header and query the recorder must not store
CLIENT_IP = "198.51.100.77"
HEADER_EXAMPLES = 300
BODY_EXAMPLES = 250
SET_COOKIE_EXAMPLES = 400
HOSTILE = settings(
    max_examples=HEADER_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
OK_STATUSES = {200, 303, 304, 400, 403, 404, 405, 413, 415}

POLICY = make_policy()
CODEC = ConsentCodec(POLICY, list(SECRETS))
NOW = int(datetime.now(UTC).timestamp())
# Valid consent cookies, each with the page cookies it allows (before GPC), and its time:
# when several are sent, the newest decision counts (SPEC 3.2 step 1).
VALID = {
    "accept": (CODEC.new_decision(POLICY.category_names, NOW - 30)[0], NOW - 30),
    "reject": (CODEC.new_decision(frozenset(), NOW - 20)[0], NOW - 20),
    "prefs": (CODEC.new_decision(frozenset({"preferences"}), NOW - 10)[0], NOW - 10),
}
GRANTS = {
    "accept": {"necessary", "preferences", "analytics", "marketing"},
    "reject": {"necessary"},
    "prefs": {"necessary", "preferences"},
}
OLD_KEY_VALUE = ConsentCodec(POLICY, [SECRETS[1]]).new_decision(frozenset(), NOW)[0]


# --- calling the app as ASGI -------------------------------------------------------------


class Answer:
    def __init__(self, messages: list[dict[str, Any]]) -> None:
        start = messages[0]
        assert start["type"] == "http.response.start"
        self.status: int = start["status"]
        self.headers: list[tuple[bytes, bytes]] = list(start.get("headers", []))
        self.body = b"".join(m.get("body", b"") for m in messages[1:])

    def set_cookies(self) -> list[bytes]:
        return [v for k, v in self.headers if k.lower() == b"set-cookie"]


async def _call(
    app: Any,
    *,
    method: str = "GET",
    path: str = "/",
    raw_path: bytes | None = None,
    query: bytes = b"",
    headers: list[tuple[bytes, bytes]] = (),  # type: ignore[assignment]
    body: bytes = b"",
    chunked: bool = False,
) -> Answer:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "replace") if raw_path is None else raw_path,
        "query_string": query,
        "root_path": "",
        "headers": list(headers),
        "client": (CLIENT_IP, 50123),
        "server": ("example.com", 80),
    }
    chunks = [body[i : i + 4096] for i in range(0, len(body), 4096)] if chunked else [body]
    chunks = chunks or [b""]
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if chunks:
            chunk = chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)  # an exception escaping any middleware fails the test
    return Answer(messages)


def call(app: Any, **kwargs: Any) -> Answer:
    return asyncio.run(_call(app, **kwargs))


class ErrorLog(logging.Handler):
    """Collects ERROR records of our loggers: a swallowed exception is still a bug."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def error_log() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    loggers = [logging.getLogger(name) for name in ("analytics", "cookiewall")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler
    for logger in loggers:
        logger.removeHandler(handler)
    assert [r.getMessage() for r in handler.records] == []


# --- what a browser would store (the oracle) ----------------------------------------------


def browser_cookie_name(value: bytes) -> str:
    """RFC 6265 5.2 steps 1-4; a pair without '=' is a nameless cookie in today's browsers."""
    pair = value.split(b";", 1)[0]
    if b"=" not in pair:
        return ""
    return pair.split(b"=", 1)[0].strip(b" \t").decode("latin-1")


# Expires values and what a browser makes of them (RFC 6265 5.1.1): True = in the past (the
# header deletes), False = in the future, None = unparseable (ignored: a session cookie).
EXPIRES = {
    "Thu, 01 Jan 1970 00:00:00 GMT": True,
    "Thursday, 01-Jan-70 00:00:01 GMT": True,
    "Thu Jan  1 00:00:00 1970": True,
    "01 jan 1970 00:00:00": True,
    "Fri, 31 Dec 9999 23:59:59 GMT": False,
    "01 Jan 69 00:00:00 GMT": False,  # two-digit 69 is 2069
    "Sat, 01 Jan 1600 00:00:00 GMT": None,  # years before 1601 fail to parse
    "01 Jan 100 00:00:00 GMT": None,
    "Thu, 01 Jan 1970 00:00 GMT": None,  # a time needs hours, minutes and seconds
    "Thu, 01 Jan 1970": None,
    "Thu, 32 Jan 1970 00:00:00 GMT": None,
    "Thu, 01 Jan 1970 24:00:00 GMT": None,
    "Thu, 31 Feb 1970 00:00:00 GMT": None,
    "yesterday": None,
    "": None,
}
# Max-Age values: the number a browser takes, or None when it ignores the attribute.
MAX_AGES = {
    "0": 0,
    "-1": -1,
    "-0": 0,
    "00": 0,
    "3600": 3600,
    "+0": None,
    "0x0": None,
    "": None,
    " 0": 0,
    "1e3": None,
    "٠": None,  # an Arabic-Indic zero is not a DIGIT
}


def browser_deletes(attributes: list[tuple[str, str]]) -> bool:
    """RFC 6265 5.3 step 3: the last valid Max-Age wins over any Expires."""
    max_age = None
    expires = None
    for key, raw in attributes:
        if key.strip().lower() == "max-age" and MAX_AGES[raw] is not None:
            max_age = MAX_AGES[raw]
        elif key.strip().lower() == "expires":
            expires = EXPIRES[raw]  # the last Expires attribute counts, even unparseable
    if max_age is not None:
        return max_age <= 0
    return expires is True


# --- strategies ---------------------------------------------------------------------------

junk_bytes = st.binary(max_size=200)
latin1_text = st.text(alphabet=st.characters(max_codepoint=255), max_size=80).map(
    lambda t: t.encode("latin-1")
)
utf8_text = st.text(max_size=80).map(lambda t: t.encode("utf-8"))
header_value = st.one_of(junk_bytes, latin1_text, utf8_text, st.just(b"x" * 20_000))

cookie_piece = st.one_of(
    st.sampled_from(sorted(VALID)).map(lambda k: f"cookiewall={VALID[k][0]}".encode()),
    st.sampled_from(sorted(VALID)).map(lambda k: f'cookiewall="{VALID[k][0]}"'.encode()),
    st.just(f"cookiewall={OLD_KEY_VALUE}".encode()),
    st.builds(lambda v: b"cookiewall=" + v, junk_bytes),
    # A valid value's end replaced by junk, its signature also made wrong at its start: the
    # end alone is not enough, as `junk` may begin with the two characters cut, or with ones
    # differing only in the last character's padding bits, which decoding drops.
    st.builds(
        lambda v: b"cookiewall=" + with_a_wrong_signature(VALID["accept"][0]).encode()[:-2] + v,
        latin1_text,
    ),
    st.sampled_from([b"", b"=", b"==", b";", b"cookiewall", b"=value", b" = ", b"\xff\xfe=\x00"]),
    st.builds(lambda n, v: n + b"=" + v, latin1_text, latin1_text),
    st.just(b"big=" + b"A" * 9000),
)


@st.composite
def cookie_headers(draw: st.DrawFn) -> tuple[list[bytes], set[str] | None]:
    """Cookie header fields, and the granted categories the newest valid decision holds."""
    pieces = draw(st.lists(cookie_piece, max_size=8))
    fields = [b"; ".join(pieces)]
    if draw(st.booleans()):  # HTTP/2 splits the Cookie header into several fields
        fields = [p for p in pieces if p] or [b""]
    best: tuple[int, str] | None = None
    for piece in pieces:
        for kind, (value, when) in VALID.items():
            if piece in (f"cookiewall={value}".encode(), f'cookiewall="{value}"'.encode()):
                best = max(best or (when, kind), (when, kind))
    # A value signed with the older key still verifies (rotation): it rejected everything.
    if f"cookiewall={OLD_KEY_VALUE}".encode() in pieces and best is None:
        best = (NOW, "reject")
    if f"cookiewall={OLD_KEY_VALUE}".encode() in pieces and best is not None:
        best = max(best, (NOW, "reject"))
    return fields, None if best is None else GRANTS[best[1]]


def allowed_page_cookies(granted: set[str] | None, gpc: bool) -> set[str]:
    categories = set(granted or {"necessary"})
    if gpc:
        categories.discard("marketing")
    return {name for name, cat in PAGE_COOKIES.items() if cat in categories}


referer = st.one_of(
    header_value,
    st.sampled_from(
        [
            b"https://www.google.com/search?q=S3CRETMARK",
            b"https://user:S3CRETMARK@news.ycombinator.com:8443/item?id=1",
            b"http://[::1]:80/",
            b"https://xn--bcher-kva.example./",
            b"android-app://com.google.android.gm/",
            b"javascript:alert(1)",
            b"https://" + b"a." * 200 + b"com/",
            b"https://\xff\xfe/",
            b"//no-scheme.example/",
        ]
    ),
)
paths = st.text(max_size=300).map(lambda t: "/" + t)
raw_paths = st.one_of(
    st.none(),
    st.binary(max_size=300),
    st.sampled_from([b"/%ff%fe", b"/%", b"/%zz", b"/" + b"%41" * 2000, b"/\xc3\x28", b"//x"]),
)


@st.composite
def hostile_requests(draw: st.DrawFn) -> dict[str, Any]:
    cookie_fields, granted = draw(cookie_headers())
    gpc_value = draw(st.sampled_from([None, b"1", b" 1 ", b"0", b"", b"true"]))
    headers = [(b"cookie", f) for f in cookie_fields]
    headers += [
        (b"user-agent", draw(header_value) + SECRET.encode()),
        (b"x-forwarded-for", draw(header_value) + b", 203.0.113.9, " + SECRET.encode()),
        (b"referer", draw(referer)),
        (b"host", draw(header_value)),
        (b"accept-language", draw(header_value)),
    ]
    if gpc_value is not None:
        headers.append((b"sec-gpc", gpc_value))
    extra_name = draw(st.binary(min_size=1, max_size=20).map(lambda b: b.lower()))
    headers.append((extra_name, draw(header_value)))
    draw(st.randoms()).shuffle(headers)
    query = draw(junk_bytes) + b"&q=" + SECRET.encode() + b"&utm_campaign=spring"
    return {
        "method": draw(st.sampled_from(["GET", "HEAD", "POST", "GET"])),
        "path": draw(paths),
        "raw_path": draw(raw_paths),
        "query": query,
        "headers": headers,
        "granted": granted,
        "gpc": gpc_value is not None and gpc_value.strip() == b"1",
    }


# --- the tests ----------------------------------------------------------------------------


def _full_stack(tmp_path: Path) -> tuple[Any, Recorder]:
    app = create_app(tmp_path / "var", flush_interval=3600, record="all")
    return app, app.state.recorder


def check_spool(recorder: Recorder, minimum: int) -> None:
    """The spool holds valid events only, and none of the secrets the requests carried."""
    recorder.flush()
    events = 0
    for segment in list_segments(recorder.spool_dir):
        table = read_segment(segment.path)
        assert table.schema.equals(EVENT_SCHEMA)
        for row in table.to_pylist():
            events += 1
            assert set(row) == set(EVENT_SCHEMA.names)
            assert row["consent"] in CONSENT_STATES
            assert row["referrer_medium"] in MEDIUMS
            assert row["device"] in DEVICES
            assert 100 <= row["status"] <= 599
            assert row["path"].startswith("/")
            for value in row.values():
                if isinstance(value, str):
                    assert SECRET.lower() not in value.lower(), row
                    assert CLIENT_IP not in value, row
                    assert "203.0.113.9" not in value, row
                    assert "cookie-value-secret" not in value, row
    assert events >= minimum


def test_hostile_headers_paths_and_cookies_never_500_nor_a_forbidden_cookie(
    tmp_path: Path, error_log: ErrorLog
) -> None:
    app, recorder = _full_stack(tmp_path)
    answered = 0

    @HOSTILE
    @given(request=hostile_requests())
    def check(request: dict[str, Any]) -> None:
        nonlocal answered
        granted = request.pop("granted")
        gpc = request.pop("gpc")
        answer = call(app, **request)
        assert answer.status in OK_STATUSES, answer.status
        answered += 1
        names = {browser_cookie_name(v) for v in answer.set_cookies()}
        page = names - {"cookiewall"}
        assert page <= allowed_page_cookies(granted, gpc), (page, granted, gpc)
        for value in answer.set_cookies():
            assert b"\r" not in value
            assert b"\n" not in value

    check()
    check_spool(recorder, minimum=answered // 2)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
json_bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {"action": st.sampled_from(["accept_all", "reject_all", "save", "withdraw", "", 1])},
        optional={"categories": json_values, "next": json_values},
    ).map(lambda v: json.dumps(v).encode()),
    st.sampled_from(
        [
            b"[" * 100_000 + b"]" * 100_000,
            b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
            b'{"action": "save", "categories": ["' + b"x" * 70_000 + b'"]}',
            b"\xff\xfe{}",
            b"",
            b"null",
            b'{"action": "save", "categories": "preferences"}',
            b'{"action": "save", "categories": [["preferences"]]}',
            b'{"action": ["accept_all"]}',
        ]
    ),
    junk_bytes,
)
form_bodies = st.one_of(
    st.lists(
        st.tuples(
            st.sampled_from([b"action", b"categories", b"next", b"", b"%61ction", b"x"]),
            st.one_of(
                st.sampled_from([b"accept_all", b"reject_all", b"save", b"withdraw"]),
                junk_bytes,
            ),
        ),
        max_size=8,
    ).map(lambda pairs: b"&".join(k + b"=" + v for k, v in pairs)),
    junk_bytes,
    st.just(b"action=save&" + b"categories=analytics&" * 5000),
    st.just(b"%" * 70_000),
)
content_types = st.sampled_from(
    [
        b"application/json",
        b"application/x-www-form-urlencoded",
        b"application/x-www-form-urlencoded; charset=utf-8",
        b"APPLICATION/JSON; charset=latin-1",
        b"multipart/form-data; boundary=x",
        b"text/plain",
        b"",
        b"\xff",
    ]
)


def test_hostile_consent_bodies_get_4xx_or_a_decision_never_500(
    tmp_path: Path, error_log: ErrorLog
) -> None:
    app, recorder = _full_stack(tmp_path)
    receipts = app.state.receipts

    @settings(HOSTILE, max_examples=BODY_EXAMPLES)
    @given(
        content_type=content_types,
        body=st.one_of(json_bodies, form_bodies),
        chunked=st.booleans(),
        declared=st.sampled_from([None, b"correct", b"-1", b"abc", b"99999999999"]),
    )
    def check(content_type: bytes, body: bytes, chunked: bool, declared: bytes | None) -> None:
        headers = [
            (b"content-type", content_type),
            (b"host", b"example.com"),
            (b"origin", b"http://example.com"),  # a browser on the site: bodies are the test
        ]
        if declared is not None:
            length = str(len(body)).encode() if declared == b"correct" else declared
            headers.append((b"content-length", length))
        answer = call(
            app, method="POST", path="/consent", headers=headers, body=body, chunked=chunked
        )
        assert answer.status in {200, 303, 400, 413, 415}, (answer.status, answer.body[:200])
        consent_set = [v for v in answer.set_cookies() if v.startswith(b"cookiewall=")]
        if answer.status >= 400:
            assert consent_set == []  # a refused body changes nothing
            assert set(json.loads(answer.body)) == {"error"}
        else:
            assert len(consent_set) == 1

    check()
    for path in receipts.files():
        for line in path.read_text().splitlines():
            assert set(json.loads(line)) == {
                "id",
                "time",
                "policy_version",
                "granted",
                "action",
                "gpc",
            }
    check_spool(recorder, minimum=0)  # consent endpoints are never recorded


# --- Set-Cookie headers from the application ------------------------------------------------

attribute = st.one_of(
    st.tuples(
        st.sampled_from(["Max-Age", "max-age", "MAX-AGE", " Max-Age "]),
        st.sampled_from(sorted(MAX_AGES)),
    ),
    st.tuples(
        st.sampled_from(["Expires", "expires", "EXPIRES ", " expires"]),
        st.sampled_from(sorted(EXPIRES)),
    ),
    st.tuples(
        st.sampled_from(["Path", "Domain", "SameSite", "Secure", "HttpOnly", "Priority", ""]),
        st.sampled_from(["/", "example.com", "None", "", "x=y"]),
    ),
)
set_cookie_names = st.one_of(
    st.sampled_from(
        [*PAGE_COOKIES, "_ga", "_ga_X", "_GA", "Theme", "THEME", "session", "", "cookiewall"]
    ),
    st.text(alphabet=st.characters(max_codepoint=255), max_size=12),
)


@st.composite
def set_cookie_values(draw: st.DrawFn) -> tuple[bytes, str, bool]:
    """A Set-Cookie value, the name a browser stores it under, and whether it deletes."""
    name = draw(set_cookie_names)
    left = draw(st.sampled_from(["", " ", "\t", "  "]))
    right = draw(st.sampled_from(["", " ", "\t"]))
    attributes = draw(st.lists(attribute, max_size=4))
    has_equals = draw(st.sampled_from([True, True, True, False]))
    pair = f"{left}{name}{right}={draw(st.text(max_size=10).filter(lambda v: ';' not in v))}"
    if not has_equals:
        pair = f"{left}{name}"
    text = pair + "".join(
        f";{draw(st.sampled_from([' ', '', '  ']))}{k}={v}" for k, v in attributes
    )
    value = text.encode("utf-8")
    return value, browser_cookie_name(value), browser_deletes(attributes)


def test_set_cookie_from_the_app_never_lets_a_forbidden_cookie_through() -> None:
    for kind in ("undecided", "reject", "prefs"):
        _check_set_cookie_gate(kind)


def _check_set_cookie_gate(kind: str) -> None:
    emitted: list[tuple[bytes, bytes]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": emitted})
        await send({"type": "http.response.body", "body": b"ok"})

    gate = ConsentMiddleware(app, policy=POLICY, secret_key=list(SECRETS))
    cookie = [] if kind == "undecided" else [(b"cookie", f"cookiewall={VALID[kind][0]}".encode())]
    granted = {"necessary"} if kind == "undecided" else GRANTS[kind]

    @settings(HOSTILE, max_examples=SET_COOKIE_EXAMPLES // 3)
    @given(
        st.lists(set_cookie_values(), min_size=1, max_size=6),
        st.sampled_from([b"set-cookie", b"Set-Cookie", b"SET-COOKIE"]),
    )
    def check(values: list[tuple[bytes, str, bool]], header_name: bytes) -> None:
        emitted[:] = [(header_name, v) for v, _, _ in values] + [(b"content-type", b"text/plain")]
        answer = call(gate, headers=cookie)
        assert answer.status == 200
        kept = {v for k, v in answer.headers if k.lower() == b"set-cookie"}
        for value, name, deletes in values:
            rule = POLICY.rule_for(name)
            allowed = rule is not None and rule.category in granted
            if value in kept:
                assert allowed or deletes, f"forbidden cookie let through: {value!r}"
            else:
                assert not allowed, f"allowed cookie removed: {value!r}"

    check()


@pytest.mark.parametrize(
    "value",
    [
        b"_ga=x; Expires=Sat, 01 Jan 1600 00:00:00 GMT",
        b"_ga=x; Expires=Thu, 01 Jan 1970 00:00 GMT",
        b"ad_id=x; expires=Thu, 01 Jan 1970",
        b"theme=x; Max-Age=0; Max-Age=3600",
        b"theme=x; Max-Age=+0",
        b"theme=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=10",
    ],
)
def test_a_header_a_browser_would_store_is_not_taken_for_a_deletion(value: bytes) -> None:
    """SPEC 3.2 step 3: only a real deletion passes for a visitor who did not allow it."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"set-cookie", value)]}
        )
        await send({"type": "http.response.body", "body": b""})

    answer = call(ConsentMiddleware(app, policy=POLICY, secret_key=list(SECRETS)))
    assert answer.set_cookies() == []


# --- the atheris targets cannot rot ---------------------------------------------------------

FUZZ_TARGETS = ["fuzz_consent_cookie", "fuzz_setcookie", "fuzz_referrer"]


@pytest.mark.parametrize("target", FUZZ_TARGETS)
def test_fuzz_target_holds_on_its_seeds_and_their_mutations(target: str) -> None:
    module = importlib.import_module(f"fuzz.{target}")
    rng = random.Random(target)
    inputs = list(module.SEEDS)
    for seed in module.SEEDS:
        for _ in range(30):
            data = bytearray(seed)
            for _ in range(rng.randint(1, 4)):
                at = rng.randint(0, len(data))
                data[at : at + rng.randint(0, 3)] = rng.randbytes(rng.randint(0, 3))
            inputs.append(bytes(data))
    inputs += [rng.randbytes(rng.randint(0, 300)) for _ in range(300)]
    for data in inputs:
        module.test_one_input(data)


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris not installed")
@pytest.mark.parametrize("target", FUZZ_TARGETS)
def test_fuzz_target_runs_under_atheris(target: str, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"  # an empty folder: started from the seeds, then removed
    done = subprocess.run(
        [sys.executable, str(ROOT / "fuzz" / f"{target}.py"), "-atheris_runs=300", str(corpus)],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    assert b"Done 300 runs" in done.stderr or b"Done 300 in" in done.stderr
    assert len(list(corpus.glob("seed-*"))) > 0


@pytest.mark.parametrize("nameless", [b"session", b"session; Path=/", b"session;x=1", b" session"])
def test_a_nameless_cookie_is_not_taken_for_a_declared_one_after_the_cache_warms(
    nameless: bytes,
) -> None:
    """SPEC 3.2 step 3: `Set-Cookie: session` is a nameless (undeclared) cookie to a browser."""
    emitted: list[tuple[bytes, bytes]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(emitted)})
        await send({"type": "http.response.body", "body": b""})

    gate = ConsentMiddleware(app, policy=POLICY, secret_key=list(SECRETS))
    emitted[:] = [(b"set-cookie", b"session=1")]
    assert call(gate).set_cookies() == [b"session=1"]  # warms the per-name cache
    emitted[:] = [(b"set-cookie", nameless)]
    assert call(gate).set_cookies() == []
