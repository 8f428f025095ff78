"""Client-side navigations of a single-page app, counted as page views (opt-in).

A single-page app loads one HTML page, then changes pages with `history.pushState`: the
server sees API calls, never another page. With `TrafficMiddleware(..., navigation_beacon=
"/_navigation")` the middleware serves a small script at `/_navigation.js` (same origin, so a
strict CSP's `script-src 'self'` allows it) that posts one beacon per change of the path or
query string by `pushState` or the back and forward buttons (not `replaceState`, which adds
no page), and answers `POST /_navigation` itself with 204: one page view event for the
page navigated to, built from a request the recorder already knows how to read (see
`page_scope`), so the same redaction, UTM, consent, GPC/DNT, bot and visitor-hash rules apply.

The script also posts one beacon for the page it loads with when that page's own request was
a prefetch or a prerender (`Sec-Purpose: prefetch`), which the middleware does not count: a
prerendered page when it is shown (`prerenderingchange`), a page served from a speculation
rules prefetch (`deliveryType` "navigational-prefetch") at once. Its body,
`{"path": "/absolute?query", "referrer": "<URL or empty>", "loaded": true}`, is recorded as
that request would have been, with the page's own referrer (any site's). The script sends of
them only what the recorder reads: the query's campaign tags (`utm_*`, `ref`, `source`), and
the referrer's origin (its whole URL when it is the page itself, which tells a tagged page
posted back to itself from a new arrival). A page loaded by its own request sends none.
A navigation's beacon likewise names the page shown by its path and campaign tags, and the
page left by its path, with its query reduced the same way only where it is the page shown's
own (the same query, the same path percent-decoded: a tagged page seen again, not a new
arrival), else none or an empty one (`/search?`): the page left stands for the Referer of the
page's request, of which only the site is stored, and is sent as that Referer would name it:
`/` (the origin) past 4 kB, as browsers cut it, or under a `<meta name="referrer">` policy
`origin` or `strict-origin`, and `""` (no Referer) under `no-referrer`. A Referrer-Policy
response header cannot be read by a script: the default policy is assumed then. A tag's
value is sent cut to 200 code points (the server stores 100) and a path past 4096 characters
cut at a segment, so that every beacon fits in `MAX_BODY`. What was cut off is stored as
`:redacted` (see `_CUT_OFF`): the page's own request had it judged whole, and a beacon never
stores more than that request would.
With `record="all"` the prefetch itself was recorded, as every response is, so such a beacon
records nothing (answered 204 all the same).

0.5.0's script (still running in a tab opened before an upgrade, or cached `immutable` for a
year) sent both pages whole, and a page load's tags each time they came and uncut. The server
reduces such a body as this script would have (see `_as_judged`), so that it counts and costs
no more: a path past 4096 characters cut at a segment, a tag value of 200 code points or more
judged as cut, a tag repeated left as it came (extract_utm reads its first value that says
something, as for the page's own request, and judges no other), a backslash in the query
taken as the page's request carries it.

The event carries `method="GET"` and `status=200`: it stands for the page the visitor now
sees, as if the server had sent it, so every report counts it as it counts a server-seen page
(nothing in the warehouse reads method or status to tell pages apart, and no new column is
added to tell them apart).

Refused, recording nothing: another method (405), a beacon from another origin (403: a
cross-site page could otherwise inject page views into this site's numbers with a form or a
fetch), a beacon with none of `Sec-Fetch-Site`, `Origin` and `Referer` unless its body is
JSON (403: IE 11 and Firefox before 70 send neither Origin nor Fetch Metadata with a form
or a beacon, and another site's page can leave out the Referer), another content type
(415), a body over `MAX_BODY` bytes (413, read no further), and a body that is not
`{"path": "/absolute?query", "from": "/absolute" or ""}` nor a page load's as above (its referrer
empty or an http, https or android-app URL; `loaded` a JSON boolean) (400), for an app under
a mount (`root_path`), a path outside it (400: another app's page, or none), and, when the
site lists its client-side routes (`navigation_paths`), a path not among them (400).

`navigation_paths` is what keeps arbitrary paths out of the reports: a beacon's page is a 200
whatever the path, so a client can name any path, and answering unknown paths with a 404
(which keeps a scanner's paths out) does not apply. The default is no restriction: a default
drawn from the request (the page the script was served with, the `from` path, the Referer)
would be written by the same client it is meant to bound, so only the site's own list of
routes can bound it. The list is matched on the path as the browser shows it, decoded as
ASGI's `path` and before redaction (the route `/users/*` matches `/users/alice@example.com`,
stored as `/users/:redacted`), below the mount as `exclude_paths` are.

Not bounded per visitor: that would mean keeping client addresses in memory. A flood of
beacons records what a flood of page requests records (each one event, into the recorder's
bounded buffer: past `max_buffer` events are dropped and counted, requests never wait).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from importlib import resources
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

from analytics.middleware import exclusion_check
from analytics.paths import controls_as_spaces
from analytics.recorder import checked_path_patterns
from analytics.referrers import ANDROID_SCHEME, MAX_REFERRER_LENGTH, WEB_SCHEMES

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

NAVIGATION_JS = resources.files("analytics").joinpath("static/navigation.js").read_bytes()
# For `<script src=… integrity=…>`, as cookiewall.banner.SCRIPT_INTEGRITY (SHA-384, as SRI
# advises). It changes with the script: take it from here, not copied into a template.
SCRIPT_INTEGRITY = "sha384-" + base64.b64encode(hashlib.sha384(NAVIGATION_JS).digest()).decode()
SCRIPT_VERSION = hashlib.sha256(NAVIGATION_JS).hexdigest()[:16]
# The longest body the script can send, whatever the URLs (see navigation.js): the page, its
# path cut past 4096 (+ "/%E2%80%A6", 10) and five campaign tags, each `&key=` (at most 14)
# and 200 code points of value (12 characters each, four escaped bytes): 4106 + 12 070; the
# page left, as a Referer names it: within 4096 with its query, reduced the same way (4096 +
# 12 070), else "/" or nothing; and `{"path":"","from":""}` (21). 32 363 in all; nothing in
# them is escaped by JSON (the browser escapes `"` and controls in a URL, the script `\`).
# The script leaves out what is never stored (the query but for its campaign tags, the
# referrer but for its origin, the query of the page navigated from unless it is the new
# page's), where a whole document.referrer and two long queries would be unbounded.
MAX_BODY = 32 * 1024
# The script's own limits (navigation.js: MAX_PATH, VALUE_POINTS, the cut's "/…"): a page's
# path is sent whole up to 4096 characters, else cut at a segment and ended by `_CUT_MARK`;
# a campaign tag's value is sent whole up to 200 code points, else its first 200. A body
# past them (0.5.0's script sent pages whole, a hand-made one anything) is cut to them here:
# the recorder never judges more than the script can send (a 32 KiB path or tag judged whole
# cost it up to 0.15 s of CPU).
_SENT_PATH = 4096
_CUT_MARK = "/%E2%80%A6"
_SENT_VALUE_POINTS = 200
# The campaign tags the script sends (analytics.paths.extract_utm reads these).
_TAGS = frozenset({"utm_source", "utm_medium", "utm_campaign", "ref", "source"})
# What stands for the part of a path or of a tag value the script cut off, which the server
# never sees: the page's own request judged it whole (an address or a token past the cut
# redacts the whole tag value, or the segment it is in), so the beacon cannot say what it
# was. In its place the recorder is given what it always judges an address (stored
# `:redacted`), with an `=`, a parameter, for a query encoded into the path before the cut
# (a `%3F` or `%23` with parameters after it, see analytics.paths). So a beacon never stores
# more than the page's own request would: for a cut path the segments before the cut, as
# that request (past 512 characters the stored path is cut there too); for a cut tag value
# `:redacted`.
_CUT_OFF = "=cut@beacon.invalid"
_REFERRER_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?]*")  # as `_is_referrer` has it
# Plain segments only: the path is also an exclusion pattern, where `*?[` are wildcards.
_BEACON_PATH = re.compile(r"(/[A-Za-z0-9._~-]+)+")
_BODY_TYPES = frozenset({"text/plain", "application/json"})  # sendBeacon(url, string): the first
# The one body type above no page of another origin can post without a CORS preflight.
_PREFLIGHTED_TYPE = b"application/json"
# What tells a browser's post from this site apart from another site's: a browser sends at
# least one of them with every POST (Chromium and Firefox 70+ an Origin, `null` at worst).
_ORIGIN_SIGNALS = frozenset({b"sec-fetch-site", b"origin", b"referer"})
_NO_SIGNAL = (
    "cross-site request refused: a beacon must carry this site's Origin or Referer"
    " (a client that is not a browser can post application/json)"
)
_DEFAULT_PORTS = {"http": "80", "https": "443"}
# The two bodies the script sends: a navigation, and the page it loaded with (see `_navigation_of`).
_BAD_BODY = (
    'the body must be {"path": "/…", "from": "/…"} or'
    ' {"path": "/…", "referrer": "https://…" or "", "loaded": true}'
)
# The schemes `analytics.referrers.parse_referrer` reads a referrer from (a web page, an
# Android app): what a browser writes into `document.referrer`. Any other would be recorded
# as direct, so a page load's beacon naming one is refused as no browser's.
_REFERRER_SCHEMES = WEB_SCHEMES | {ANDROID_SCHEME}
_ETAG = f'"{SCRIPT_VERSION}"'.encode()
# CSP3 base64-value (as cookiewall.banner's): only these characters, so it cannot end the
# attribute it is written into.
_NONCE_VALUE = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")


class Reply:
    """A whole response: status, headers, body (empty for 204/304 and HEAD)."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> None:
        self.status, self.headers, self.body = status, headers, body

    async def send(self, send: Send, *, head: bool = False) -> None:
        headers = [*self.headers, (b"content-length", str(len(self.body)).encode())]
        if self.status in (204, 304):
            headers.pop()  # RFC 9110 8.6: no Content-Length on either
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else self.body})


_RECORDED = Reply(204, [(b"cache-control", b"no-store")])


def _error(status: int, message: str, *extra: tuple[bytes, bytes]) -> Reply:
    body = json.dumps({"error": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
        *extra,
    ]
    return Reply(status, headers, body)


def beacon_path(value: object) -> str:
    """The `navigation_beacon` option checked: a plain absolute path, or ValueError."""
    if not isinstance(value, str) or not _BEACON_PATH.fullmatch(value):
        raise ValueError(
            f"navigation_beacon must be a plain absolute path such as '/_navigation'"
            f" (letters, digits, '._~-' and '/' only), got {value!r}"
        )
    if value.endswith(".js"):
        raise ValueError(
            f"navigation_beacon: {value!r} ends in '.js': the script is served at the beacon"
            " path + '.js', so give the path without it"
        )
    return value


def script_tag(beacon: str, *, nonce: str | None = None) -> str:
    """The one tag a page adds: `<script src="<beacon>.js?v=…" defer integrity="…">` (the
    version lets the script be cached for a year; the integrity lets a CSP list its hash).

    `nonce`: the page's CSP nonce, for a nonce-based policy (`script-src 'nonce-…'
    'strict-dynamic'` ignores 'self', so the script runs only with it)."""
    attribute = ""
    if nonce:
        if not isinstance(nonce, str) or not _NONCE_VALUE.fullmatch(nonce):
            raise ValueError(
                f"script_tag: nonce must be a CSP nonce (base64: letters, digits, '+/_-',"
                f" up to two '=' at the end), got {nonce!r}"
            )
        attribute = f' nonce="{nonce}"'
    return (
        f'<script src="{beacon_path(beacon)}.js?v={SCRIPT_VERSION}" defer'
        f' integrity="{SCRIPT_INTEGRITY}"{attribute}></script>'
    )


def route_check(
    routes: Iterable[str] | Callable[[str], bool], failed: Callable[[BaseException], None]
) -> Callable[[str], bool]:
    """The `navigation_paths` option checked, as a test of a path below the mount: fnmatch
    patterns checked as `exclude_paths` are (ValueError naming a bad one), or the site's own
    `path -> bool`. An exception from that callable refuses the beacon and goes to `failed`
    (the recorder's count and log of the type and place only: its message may quote the path).
    """
    if callable(routes):
        is_route = routes

        def allowed(path: str) -> bool:
            try:
                return bool(is_route(path))
            except Exception as exc:
                failed(exc)
                return False

        return allowed
    patterns = checked_path_patterns(routes, "navigation_paths")
    if not patterns:
        # Every beacon would be refused: most likely a setting read empty. None is "any path".
        raise ValueError(
            "navigation_paths is empty, so every navigation would be refused: give the"
            " app's client-side routes ('/app/*') or None for any path"
        )
    return exclusion_check(patterns)


class Navigation:
    """The beacon endpoint and its script: `__call__` answers a request for either path.

    `record(scope, page, loaded)` is given the beacon's scope, the scope of the page shown
    (see `page_scope`) and whether it is the page the script loaded with (a prerender or
    prefetch shown), and records that page as the middleware records a response.
    `is_route` (None: any path) is given the page's path below the mount (see `route_check`)
    and decides whether it is one of the app's pages.
    """

    def __init__(
        self,
        beacon: object,
        record: Callable[[Scope, Scope, bool], None],
        is_route: Callable[[str], bool] | None = None,
    ) -> None:
        self.beacon = beacon_path(beacon)
        self.script = self.beacon + ".js"
        self.paths = (self.beacon, self.script)
        self._record = record
        self._is_route = is_route

    async def __call__(self, scope: Scope, receive: Receive, send: Send, app_path: str) -> None:
        head = scope["method"] == "HEAD"
        if app_path == self.script:
            await _script_reply(scope).send(send, head=head)
            return
        reply = await self._beacon(scope, receive)
        if reply is not None:
            await reply.send(send, head=head)

    async def _beacon(self, scope: Scope, receive: Receive) -> Reply | None:
        """The reply to a beacon (None when the client left while it was read)."""
        if scope["method"] != "POST":
            return _error(405, "method not allowed", (b"allow", b"POST"))
        headers = _headers(scope)
        media_type = headers.get(b"content-type", b"").partition(b";")[0].strip().lower()
        if not _ORIGIN_SIGNALS.intersection(headers) and media_type != _PREFLIGHTED_TYPE:
            # Not only a client that is no browser: IE 11 and Firefox before 70 send no Origin
            # with a form or a no-cors post, nor Fetch Metadata, and a page of another site
            # with `Referrer-Policy: no-referrer` leaves out the Referer. Such a page can post
            # text/plain (a form with enctype="text/plain" writes a JSON body), and any type a
            # form or sendBeacon sends, or none, without a preflight; JSON needs one, which
            # this endpoint never grants, so only a client that is no browser can send it.
            return _error(403, _NO_SIGNAL)
        origin = _same_origin(scope, headers)
        if origin is None:
            return _error(403, "cross-site request refused")
        if media_type.decode("latin-1") not in _BODY_TYPES:
            return _error(415, "the body must be text/plain or application/json")
        length = headers.get(b"content-length")
        if length is not None and not (length.isdigit() and len(length) < 10):
            return _error(400, "bad Content-Length")
        if length is not None and int(length) > MAX_BODY:
            return _error(413, f"the body is over {MAX_BODY} bytes")
        body = await _read_bounded(receive)
        if body is None:
            return None
        if len(body) > MAX_BODY:
            return _error(413, f"the body is over {MAX_BODY} bytes")
        shown = _navigation_of(body)
        if shown is None:
            return _error(400, _BAD_BODY)
        # Cut as the script cuts a long path (0.5.0's sent it whole): also for the route
        # check, which sees the path this script would have sent.
        to = _cut(shown.path)
        # A navigation is linked from the page it left (this site's); a page load from the
        # page's own referrer, as its request was.
        referer = shown.referrer if shown.loaded else _referer(origin, shown.came_from)
        # Bounded as the script bounds them, and judged as cut where it cut them.
        judged_page, judged_referer = _as_judged(to), _referer_as_judged(referer)
        root = (scope.get("root_path") or "").rstrip("/")
        if root and not _is_under(to, root):
            # Another app's page (or none): a request for it would never reach this app.
            return _error(400, f"the path is not under this app's root path {root!r}")
        if self._is_route is not None and not self._is_route(_below(to, root)):
            return _error(400, "the path is not one of this app's pages (navigation_paths)")
        self._record(scope, page_scope(scope, judged_page, judged_referer), shown.loaded)
        return _RECORDED


# The beacon's own request headers that describe that request, not the page's: its Referer
# (the page), its Fetch Metadata (`Sec-Fetch-Dest: empty`, which marks a script's request as
# no page view) and a prefetch purpose (sent by a page still prerendering).
_BEACON_ONLY_HEADERS = frozenset(
    {
        b"referer",
        b"sec-fetch-dest",
        b"sec-fetch-mode",
        b"sec-fetch-site",
        b"sec-fetch-user",
        b"sec-purpose",
        b"purpose",
        b"x-moz",
        b"x-purpose",
    }
)


def page_scope(scope: Scope, to: str, referer: str) -> Scope:
    """The request a browser would have made for page `to` (its path and query as sent),
    linked from `referer` (empty: none): the beacon's own scope (address, user agent,
    GPC/DNT, consent in `state`) with the page's method, path, query string and Referer, and
    the Fetch Metadata of a navigation to a document."""
    raw_path, _, query = to.partition("?")
    headers = [
        (name, value) for name, value in scope["headers"] if name not in _BEACON_ONLY_HEADERS
    ]
    headers.append((b"sec-fetch-dest", b"document"))
    if referer:
        headers.append((b"referer", referer.encode("ascii")))
    return {
        **scope,
        "method": "GET",
        # As ASGI servers decode it (uvicorn: unquote, errors replaced); raw_path as sent.
        "path": unquote(raw_path),
        "raw_path": raw_path.encode("ascii"),
        "query_string": query.encode("ascii"),
        "headers": headers,
    }


def _cut(page: str) -> str:
    """`page` (path?query) with a path over `_SENT_PATH` characters cut as the script cuts
    it, at the last segment within them and ended by `_CUT_MARK` (unless the script did)."""
    path, question, query = page.partition("?")
    if len(path) <= _SENT_PATH or (
        len(path) <= _SENT_PATH + len(_CUT_MARK) and path.endswith(_CUT_MARK)
    ):
        return page
    return path[: path.rfind("/", 0, _SENT_PATH + 1)] + _CUT_MARK + question + query


def _as_judged(page: str) -> str:
    """`page` (path?query, as a script sent it) as the recorder is to judge it: what the
    script cut (a path ended by `_CUT_MARK`, a tag value of `_SENT_VALUE_POINTS` code points)
    or would have cut (0.5.0's script sent them whole: a longer path or value) with
    `_CUT_OFF` for what was cut off. A tag given twice is left as it came: extract_utm reads
    the first value that says something, as of the page's own request, and judges no other
    (the script sends that one only)."""
    path, question, query = _cut(page).partition("?")
    if path.endswith(_CUT_MARK):
        # Also a page's own path that ends in "…": it is judged as cut, which stores less.
        path = path[: -len(_CUT_MARK)] + "/" + _CUT_OFF
    if not query:
        return path + question
    pairs = query.split("&")
    for index, pair in enumerate(pairs):
        raw_key, _, value = pair.partition("=")
        if not value:
            continue  # not read by extract_utm, nor sent by the script
        # the key and the value decoded as extract_utm decodes them (`+` a space, UTF-8):
        # linear, within MAX_BODY; the costly part is the recorder's judging of a value.
        key = unquote(raw_key.replace("+", " "), errors="replace")
        if key not in _TAGS:
            continue
        text = unquote(value.replace("+", " "), errors="replace")
        # A blank value says nothing (extract_utm passes over it, to the next of its tag):
        # the script sends none, and cutting it would make `:redacted` of nothing.
        if len(text) >= _SENT_VALUE_POINTS and not _is_blank(text):
            pairs[index] = f"{raw_key}={_CUT_OFF}"
    return path + question + "&".join(pairs)


def _is_blank(text: str) -> bool:
    """Whether a decoded tag value says nothing to extract_utm (paths._clean_tag: controls
    read as spaces, then only whitespace)."""
    return not controls_as_spaces(text).split()


def _referer_as_judged(referer: str) -> str:
    """The Referer `referer` (a URL, or "" for none) with its path and query as the script
    sends a page's (the page itself, when a page load's beacon names it), judged as cut
    where the script cut them or would have (see `_as_judged`)."""
    origin = _REFERRER_ORIGIN.match(referer)
    if origin is None:
        return referer  # none
    return origin[0] + _as_judged(referer[origin.end() :])


def _referer(origin: str, came_from: str) -> str:
    """The Referer a browser sends for a page followed to from `came_from` on `origin`: the
    URL, or past MAX_REFERRER_LENGTH the origin alone (Chromium and Firefox cut it so), which
    the recorder would otherwise read as no referrer at all (a client's own oversized header).
    """
    if not came_from:
        return ""  # <meta name="referrer" content="no-referrer">: the browser sends none
    referer = origin + came_from
    return referer if len(referer) <= MAX_REFERRER_LENGTH else origin + "/"


def _headers(scope: Scope) -> dict[bytes, bytes]:
    # A repeated field joined with "," (RFC 9110 5.3): a second Origin cannot hide behind one.
    joined: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        joined[name] = joined[name] + b"," + value if name in joined else value
    return joined


def _same_origin(scope: Scope, headers: dict[bytes, bytes]) -> str | None:
    """The page's origin when the beacon comes from this site, else None.

    As cookiewall's consent endpoints judge a POST: the browser's Fetch Metadata first (only
    a browser sets it, and `same-origin` holds behind a proxy that rewrites Host), then the
    `Origin`, then the `Referer`. A client that sends none of them with JSON is no browser
    (no page can make one post JSON here: that needs a preflight), so it is let through, as
    a client asking for pages is; with any other body `_beacon` refused it before this. An
    origin that is not ASCII is refused: browsers write a host in punycode, and the origin
    becomes the event's Referer, which is ASCII.
    """
    origin = _judged_origin(scope, headers)
    return origin if origin is not None and origin.isascii() else None


def _judged_origin(scope: Scope, headers: dict[bytes, bytes]) -> str | None:
    own = _own_origin(scope, headers)
    site = headers.get(b"sec-fetch-site")
    if site is not None:
        if {part.strip().lower() for part in site.split(b",")} != {b"same-origin"}:
            return None
        sent = headers.get(b"origin") or headers.get(b"referer")
        origin = _origin_of(sent.decode("latin-1")) if sent else None
        return origin or own
    origin_header = headers.get(b"origin")
    if origin_header is not None:
        origin = _origin_of(origin_header.decode("latin-1"))
    elif (referer := headers.get(b"referer")) is not None:
        origin = _origin_of(referer.decode("latin-1"))
    else:
        return own
    return origin if origin == own else None


def _own_origin(scope: Scope, headers: dict[bytes, bytes]) -> str:
    scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
    host = headers.get(b"host", b"").decode("latin-1")
    if not host:
        server = scope.get("server")
        host = f"{server[0]}:{server[1]}" if server else ""
    return _normal(scheme, host.strip().lower())


def _origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of an http(s) URL or Origin, as a browser writes an origin."""
    if len(url.split()) != 1:
        return None  # a repeated field, or not one URL
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.netloc or "@" in parts.netloc:
        return None
    return _normal(scheme, parts.netloc.lower())


def _normal(scheme: str, host: str) -> str:
    name, colon, port = host.rpartition(":")
    if colon and "]" not in port and _DEFAULT_PORTS[scheme] == port:
        host = name
    return f"{scheme}://{host}"


async def _read_bounded(receive: Receive) -> bytes | None:
    """The request body, read no further than one byte past MAX_BODY; None if the client
    left before it was all sent."""
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk: bytes = message.get("body", b"")
        body += chunk
        if len(body) > MAX_BODY or not message.get("more_body", False):
            return body


class Shown(NamedTuple):
    """What a beacon says was shown."""

    path: str  # path?query of the page shown
    came_from: str  # path?query navigated from (a navigation), "" for no Referer
    referrer: str  # the page's own referrer, "" for none (a page load)
    loaded: bool  # the page the script loaded with (a prerender or prefetch shown)


def _navigation_of(body: bytes) -> Shown | None:
    """What a beacon's body says was shown, or None for anything the script does not send."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, nested beyond the stack
        return None
    if not isinstance(data, dict):
        return None
    to = data.get("path")
    if not _is_absolute(to):
        return None
    loaded = data.get("loaded", False)
    if not isinstance(loaded, bool):
        return None  # "true", 1, null: not what the script sends, and no navigation either
    if loaded:
        referrer = data.get("referrer", "")
        if not (referrer == "" or _is_referrer(referrer)):
            return None
        return Shown(to, "", referrer, True)  # type: ignore[arg-type]  # checked above
    came_from = data.get("from", "/")
    if not (came_from == "" or _is_absolute(came_from)) or to == came_from:
        return None  # "" is no Referer: the page's policy is no-referrer
    return Shown(to, came_from, "", False)  # type: ignore[arg-type]  # checked above


def _is_referrer(value: object) -> bool:
    """An absolute URL as `document.referrer` writes it (and the Referer header carries):
    printable ASCII, an http(s) or android-app scheme and a host (`https://…`,
    `android-app://com.…`), no fragment. `javascript://host/…` has a host but is no page."""
    if not (
        isinstance(value, str)
        and value.isascii()
        and value.isprintable()
        and " " not in value
        and "#" not in value
    ):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in _REFERRER_SCHEMES and bool(parts.netloc)


def _is_under(to: str, root: str) -> bool:
    """Whether the page `to` (path?query, as the browser shows it) is under the mount `root`
    (decoded, as ASGI's `root_path`): a whole leading segment, `/shopping` is not in `/shop`."""
    path = unquote(to.partition("?")[0])
    return path.startswith(root) and path[len(root) : len(root) + 1] in ("/", "")


def _below(to: str, root: str) -> str:
    """The path of page `to` below the mount `root`, decoded as the page's request would be
    (see `page_scope`), as the app's routes and `exclude_paths` see it."""
    path = unquote(to.partition("?")[0])
    return path[len(root) :] or "/"


def _is_absolute(value: object) -> bool:
    """An absolute path with an optional query, as `location.pathname + location.search`
    writes it: printable ASCII, escapes for the rest, no fragment, not `//host`, no
    backslash in the path (a browser writes `/`: `/\\host` is another host to some). One in
    the query is as browsers write it there and send it (0.5.0's script sent it so)."""
    return (
        isinstance(value, str)
        and value.startswith("/")
        and not value.startswith("//")
        and value.isascii()
        and value.isprintable()
        and " " not in value
        and "#" not in value
        and "\\" not in value.partition("?")[0]
    )


def _script_reply(scope: Scope) -> Reply:
    if scope["method"] not in ("GET", "HEAD"):
        return _error(405, "method not allowed", (b"allow", b"GET, HEAD"))
    # With ?v=<this version> (`script_tag`) the URL changes with the script: a year is safe.
    # Without, a day: an upgraded script must not be held back long by a cache, where a page's
    # integrity attribute names the new one.
    versioned = f"v={SCRIPT_VERSION}".encode() in (scope.get("query_string") or b"").split(b"&")
    cache = b"public, max-age=31536000, immutable" if versioned else b"public, max-age=86400"
    headers = [
        # no-transform (RFC 9111 5.2.2.6): a minifying proxy would break the integrity.
        (b"cache-control", cache + b", no-transform"),
        (b"etag", _ETAG),
        (b"x-content-type-options", b"nosniff"),
    ]
    for name, value in scope["headers"]:
        if name == b"if-none-match" and _names_etag(value):
            return Reply(304, headers)
    headers.append((b"content-type", b"text/javascript; charset=utf-8"))
    return Reply(200, headers, NAVIGATION_JS)


def _names_etag(header: bytes) -> bool:
    tags = [tag.strip() for tag in header.split(b",")]
    return b"*" in tags or _ETAG in (tag.removeprefix(b"W/") for tag in tags)


__all__ = ["MAX_BODY", "NAVIGATION_JS", "SCRIPT_INTEGRITY", "Navigation", "script_tag"]
