"""TrafficMiddleware: one event per recorded HTTP response, captured at `http.response.start`.

Pure ASGI. Reads the request headers once, never the body; the response passes through
untouched. The request path only captures the raw values (a plain tuple of a `Capture`'s
fields: time, path, status, headers it needs, consent); the recorder's background thread
turns them into events within about a second (referrer, device, redaction, UTM, visitor
hash), off the request path.
The visitor's consent is read by duck typing from `scope["state"]["consent"]`
(cookiewall's ConsentMiddleware puts it there), so analytics works with or without cookiewall;
a request the gate answered itself (its endpoints) is never recorded, whatever the order.
Lifespan shutdown closes the recorder (flushing its buffer), also for apps that do not
implement the lifespan protocol themselves.

References:
    ASGI HTTP and lifespan specs (https://asgi.readthedocs.io/en/latest/specs/),
    Global Privacy Control (`Sec-GPC: 1`), Do Not Track (`DNT: 1`)
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from fnmatch import fnmatchcase, translate
from typing import TYPE_CHECKING, Any

from analytics import accesslog
from analytics.accesslog import SENT_PATH
from analytics.event import CONSENT_STATES
from analytics.recorder import Recorder

if TYPE_CHECKING:
    from analytics.navigation import Navigation

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# What `app` may be: any ASGI callable. Its scope, receive and send types are left open
# because a framework that types its own `__call__` with TypedDict scopes (a2wsgi, Litestar)
# is no `ASGIApp` (a callable's parameters are contravariant: it would have to accept every
# MutableMapping). Our own `__call__` keeps the precise types.
AnyASGIApp = Callable[[Any, Any, Any], Awaitable[Any]]

logger = logging.getLogger("analytics")

_REFERER = b"referer"
_USER_AGENT = b"user-agent"
_FORWARDED_FOR = b"x-forwarded-for"
_GPC = b"sec-gpc"
_DNT = b"dnt"
_OPT_OUT = frozenset({_GPC, _DNT})  # only the exact value "1" counts (GPC spec)
_FETCH_DEST = b"sec-fetch-dest"
# A browser fetching a page nobody may ever see says so: `Sec-Purpose: prefetch` (link
# prefetch, speculation rules; `prefetch;prerender` for a prerender), Chrome's older
# `Purpose: prefetch`, Firefox's older `X-Moz: prefetch`, and `X-Purpose: preview` (Safari's
# Top Sites thumbnails, Facebook's in-app browser fetching a linked page ahead).
_PURPOSE_HEADERS = frozenset({b"sec-purpose", b"purpose", b"x-moz", b"x-purpose"})
# Every request header `_record` reads: a browser sends a dozen others (Host, Accept, Cookie,
# Sec-Fetch-Site), each passed with one set lookup instead of a comparison with every name.
# Recording every response, the ones that tell a page view apart are not needed.
_READ_HEADERS_ALL = frozenset({_REFERER, _USER_AGENT, _FORWARDED_FOR, *_OPT_OUT})
_READ_HEADERS_PAGES = _READ_HEADERS_ALL | {_FETCH_DEST, *_PURPOSE_HEADERS}
_PREFETCH_TOKENS = frozenset({b"prefetch", b"prerender", b"preview"})
_ITEM_SEPARATORS = re.compile(rb"[,;]")
_BYTES_LIKE = (bytes, bytearray, memoryview)
_CONTENT_TYPE = b"content-type"
_HTML = b"text/html"
_NOT_MODIFIED = 304
_PARTIAL_CONTENT = 206
_LOCATION = b"location"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})  # Fetch's "redirect status"
_ACCEPT = b"accept"
# A page shown in a frame is a page view as a top-level one is, a fenced frame's too (Chrome
# 126+: an ad slot's page, shown to the visitor as an iframe's is).
_PAGE_DESTINATIONS = frozenset({b"document", b"iframe", b"frame", b"fencedframe"})
_SERVER_ERROR: Message = {"type": "http.response.start", "status": 500, "headers": []}
# What a client-side navigation stands for: the page now shown (see analytics.navigation).
_PAGE_SHOWN: Message = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/html; charset=utf-8")],
}
# A browser navigating to one of these sends the headers of a page navigation: a 304 for it
# is no page view (its 200 is not text/html either).
# fmt: off
_NOT_PAGE_EXTENSIONS = frozenset({
    "pdf", "png", "jpg", "jpeg", "gif", "webp", "avif", "svg", "ico", "bmp", "tif", "tiff",
    "heic", "txt", "csv", "json", "xml", "rss", "atom", "zip", "gz", "tgz", "bz2", "xz", "7z",
    "rar", "tar", "mp3", "mp4", "m4a", "m4v", "mov", "webm", "ogg", "oga", "ogv", "wav", "flac",
    "css", "js", "mjs", "map", "wasm", "woff", "woff2", "ttf", "otf", "eot", "doc", "docx",
    "xls", "xlsx", "ppt", "pptx", "odt", "ods", "odp", "epub", "apk", "dmg", "exe", "msi",
    "iso", "ics", "vcf",
})
# fmt: on
# Set in the request state by cookiewall's ConsentMiddleware when it answered the request
# itself (its endpoints under any `path_prefix`, gpc.json): never recorded. Private to the two
# packages (the same literal as cookiewall.middleware.ANSWERED_STATE_KEY: not imported, as
# analytics works without cookiewall). Only seen here when this middleware is outside the gate.
_ANSWERED_BY_THE_GATE = "cookiewall.answered"
_GATE = "cookiewall.gate"  # the gate that served the request (cookiewall's GATE_STATE_KEY)
# Prefix of the request state key (one per site: `_RECORDED_BY + site`) whose value is the
# TrafficMiddleware that records the request for that site: one under a mount with its own
# stack sees it and records nothing, so a request is one row per site (see `_claim`).
# `scope["state"]` is the dict Starlette's Mount, most routers and apps that copy the scope
# share by reference with the scope they pass on.
_RECORDED_BY = "analytics.recorded_by:"
# Set by the TrafficMiddleware that serves its navigation script or beacon under a mount, to
# the one around it that had claimed that request: the page a beacon stands for is recorded
# where a full load of that page would be (see `_record_navigation`).
_BEACON_CLAIMED_BY = "analytics.beacon_claimed_by"
# Whether this process has built more than one TrafficMiddleware. Until it has, no other can
# have claimed a request or take one over (see `_claim`): the one there is marks the request
# with a plain store and, at the response start, needs no look at whether it still owns it.
# The mark is still made, so that one built while a request is on its way (a mounted app whose
# middleware is built at its first request) sees it; the look at the start reads this flag
# then, not at the request. Set, never cleared, before a second one can serve.
_several_recorders = False
_recorders_built = 0
_recorders_built_lock = threading.Lock()


def _as_bytes(value: Any) -> Any:
    """A bytes-like header value (bytearray, memoryview) as bytes; anything else as it is."""
    return bytes(value) if isinstance(value, _BYTES_LIKE) else value


def _asks_for_a_page(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether the request is a browser loading a page (so a 304 answer is a page view)."""
    accept = b""
    for name, value in headers:
        if name == _FETCH_DEST:
            return value.strip().lower() in _PAGE_DESTINATIONS
        if name == _ACCEPT:
            accept = value
    # Without Fetch Metadata (older browsers, HTTP/1.0 proxies) a navigation asks for HTML.
    return accept.lower().find(_HTML) >= 0  # not `in`: see cookiewall's `_gated`


def _is_prefetch(value: bytes) -> bool:
    """Whether a `Sec-Purpose` (or legacy `Purpose`, `X-Moz`, `X-Purpose`) value names a
    prefetch: a structured-field list whose items or parameters hold the token `prefetch` (or
    `prerender`, or `preview`), as `prefetch`, `prefetch;prerender`,
    `prefetch;anonymous-client-ip`, `preview`."""
    return any(part.strip().lower() in _PREFETCH_TOKENS for part in _ITEM_SEPARATORS.split(value))


def _has_location(message: Message) -> bool:
    """Whether the response has a Location header (asked of a 3xx only: not on every page)."""
    return any(
        name == _LOCATION or (len(name) == 8 and name.lower() == _LOCATION)
        for name, _ in message.get("headers") or ()
    )


def _names_another_file_type(path: str) -> bool:
    """Whether the path ends in the extension of a file that is no page (`report.pdf`)."""
    name = path.rpartition("/")[2]
    return "." in name and name.rpartition(".")[2].lower() in _NOT_PAGE_EXTENSIONS


def _mounted_paths(path: str, root_path: str) -> tuple[str, str]:
    """`(the path the browser asked for, the path below the mount)` for an app mounted at
    `root_path` (a Starlette Mount, `uvicorn --root-path`).

    Current servers keep the root in `path` (ASGI spec); older ones stripped it. Only a whole
    leading segment counts: `/shopping` is not under `/shop`. Exclusions (the consent
    endpoints among them) are matched below the mount, where the app's routes are; the event
    records what the browser asked for.
    """
    root = root_path.rstrip("/")
    if path.startswith(root) and path[len(root) : len(root) + 1] in ("/", ""):
        return path, path[len(root) :] or "/"
    return root + path, path


def _consent_of(scope: Scope) -> tuple[str, bool]:
    """`(consent summary, hash allowed)` from the consent object cookiewall leaves in scope."""
    state = scope.get("state")
    return _summary_of(state.get("consent") if isinstance(state, dict) else None)


def _summary_of(consent: Any) -> tuple[str, bool]:
    """`(consent summary, hash allowed)` from cookiewall's consent object (or None)."""
    if consent is None:
        return "undecided", True
    try:
        if not consent.decided:
            # A refusal made under an older policy version still stands (`Consent.refused`):
            # the banner asks again, but no hash until the visitor decides. (getattr: a gate
            # of an older cookiewall, or another consent object, has no such field.)
            return "undecided", not consent.gpc and "analytics" not in getattr(
                consent, "refused", ()
            )
        summary = consent.summary
        if summary == "all":  # every category granted: analytics cannot have been refused
            return "all", not consent.gpc
        declined = "analytics" in consent.categories and not consent.allows("analytics")
        hash_allowed = not declined and not consent.gpc
    except Exception:  # a foreign object in scope: count the request, link nothing
        return "undecided", False
    return (summary if summary in CONSENT_STATES else "custom"), hash_allowed


def exclusion_check(patterns: Sequence[str]) -> Callable[[str], bool]:
    """Whether a path matches one of the fnmatch `patterns`, with no cache of paths.

    A cache keyed on paths would keep the last few thousand raw request paths (reset tokens,
    addresses) in memory. It is not needed: when every pattern starts with literal text (the
    always-excluded `/consent` and `/.well-known/*` do), one `str.startswith` over those
    prefixes (tens of nanoseconds) rules out nearly every path, and only a path under one of
    them is matched in full. Otherwise (`*.css`) one regex of all the patterns decides.
    """
    prefixes = tuple(_literal_prefix(pattern) for pattern in patterns)
    if all(prefixes):

        def excluded(path: str) -> bool:
            return path.startswith(prefixes) and any(
                fnmatchcase(path, pattern) for pattern in patterns
            )

        return excluded
    # fnmatch's own translation, so the regex means exactly what fnmatchcase does.
    regex = re.compile("|".join(f"(?:{translate(pattern)})" for pattern in patterns))
    match = regex.match
    return lambda path: match(path) is not None


def _literal_prefix(pattern: str) -> str:
    """The text before the pattern's first wildcard (`*`, `?` or `[`)."""
    for index, char in enumerate(pattern):
        if char in "*?[":
            return pattern[:index]
    return pattern


class TrafficMiddleware:
    """Records one privacy-safe event per HTTP response of `app` into `recorder` (an
    `analytics.Recorder`, whose options say which responses count and how). Pure ASGI: the
    response passes through untouched, and the request path only captures a few raw values
    for the recorder's background thread. Lifespan shutdown closes the recorder.

    `navigation_beacon` (None: off), a path such as "/_navigation", also counts a single-page
    app's client-side navigations: the middleware serves a script at that path + `.js` and
    records one page view per beacon it posts to the path (see analytics.navigation).

    `navigation_paths` (None: any path), with `navigation_beacon`: the app's client-side
    routes, so a beacon for any other path is refused (400) and records nothing. Either
    fnmatch patterns as `exclude_paths` takes (`["/app/*", "/products/*"]`), or a callable
    `path -> bool` (a router's route table). Matched on the path below the mount, decoded,
    without the query and before redaction.
    """

    def __init__(
        self,
        app: AnyASGIApp,
        *,
        recorder: Recorder,
        navigation_beacon: str | None = None,
        navigation_paths: Iterable[str] | Callable[[str], bool] | None = None,
    ) -> None:
        _count_recorder()  # first: before anything can call this one (see `_several_recorders`)
        if not isinstance(recorder, Recorder):
            raise ValueError("TrafficMiddleware needs recorder=Recorder(spool_dir, site)")
        if navigation_paths is not None and navigation_beacon is None:
            raise ValueError(
                "navigation_paths lists the routes navigation beacons may name: it needs"
                " navigation_beacon='/_navigation' too"
            )
        self.app = app
        self.recorder = recorder
        patterns = recorder.exclude_paths
        self._navigation: Navigation | None = None
        if navigation_beacon is not None:
            # Imported only here: a site without the option never loads the script file.
            from analytics.navigation import Navigation, route_check

            is_route = None
            if navigation_paths is not None:
                is_route = route_check(navigation_paths, recorder.recording_failed)
            self._navigation = Navigation(navigation_beacon, self._record_navigation, is_route)
            # Excluded, so no request to them is observed as a page: they reach
            # `_call_unobserved`, off the path of the requests that are (one more prefix in
            # the exclusion check is all the option costs them).
            patterns = (*patterns, *self._navigation.paths)
        self._excluded: Callable[[str], bool] = exclusion_check(patterns)
        self._hashing = recorder.hashing
        self._trusts_proxies = bool(recorder.trusted_proxies)
        self._record_all = recorder.record_all
        self._read_headers = _READ_HEADERS_ALL if self._record_all else _READ_HEADERS_PAGES
        self._warned_outside_the_gate = False  # see `_warn_outside_the_gate`
        self._warned_recorded_outside = False  # see `_claim`
        self._claim_key = _RECORDED_BY + recorder.site

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self._lifespan(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        path = self.observed_path(scope)
        if path is None:
            path = self._path_under_mount(scope)
        if path is None:
            await self._call_unobserved(scope, receive, send)
            return
        observe = self.observe_response

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                observe(scope, path, message)
            await send(message)

        await self.app(scope, receive, send_wrapper)

    def observed_path(self, scope: Scope) -> str | None:
        """The path under which this HTTP request is recorded, by `observe_response` at the
        response's start; None when this middleware must be called as usual instead (a path
        it does not record, an app under a mount, `record="all"`, which also sees the app's
        exceptions).

        An outer middleware that wraps `send` anyway (cookiewall's ConsentMiddleware) asks
        this, calls `observe_response` from its own wrapper and then `self.app` itself: the
        same event, one layer and one coroutine per response message fewer on every request.
        """
        if self._record_all or scope.get("root_path"):
            return None
        path: str = scope["path"]
        if self._excluded(path):
            return None
        if not _several_recorders:
            try:  # the usual: the only one marks it (see `_several_recorders`); zero-cost `try`
                scope["state"][self._claim_key] = self
                return path
            except (KeyError, TypeError):  # no state from the server, or not a mapping
                pass
        return path if self._claim(scope) else None

    def observe_response(self, scope: Scope, path: str, message: Message) -> None:
        """Record the response `message` starts (see `observed_path`); never raises."""
        try:
            if not _several_recorders or self._recorded_here(scope):
                self._record(scope, path, message)
        except Exception as exc:  # recording must never break a response
            self.recorder.recording_failed(exc)

    def _path_under_mount(self, scope: Scope) -> str | None:
        """The path to record for an app under a mount (`root_path`); None when there is no
        mount, the path is excluded, or `record="all"` (see `_call_unobserved`)."""
        root_path = scope.get("root_path")
        if not root_path or self._record_all:
            return None
        path, app_path = _mounted_paths(scope["path"], root_path)
        if self._excluded(app_path) or self._excluded(path) or not self._claim(scope):
            return None
        return path

    async def _call_unobserved(self, scope: Scope, receive: Receive, send: Send) -> None:
        """An excluded path (passed through; this middleware's navigation script and beacon
        served), `record="all"` (see `_call_recording_all`), or a request a TrafficMiddleware
        around this one records (passed through)."""
        root_path = scope.get("root_path")
        if root_path:
            path, app_path = _mounted_paths(scope["path"], root_path)
            excluded = self._excluded(app_path) or self._excluded(path)
        else:
            path = app_path = scope["path"]
            excluded = self._excluded(path)
        if excluded:
            navigation = self._navigation
            if navigation is not None and app_path in navigation.paths:
                self._take_navigation_request(scope)
                await navigation(scope, receive, send, app_path)
            else:
                await self.app(scope, receive, send)
        elif self._claim(scope):
            await self._call_recording_all(scope, receive, send, path)
        else:
            await self.app(scope, receive, send)

    async def _call_recording_all(
        self, scope: Scope, receive: Receive, send: Send, path: str
    ) -> None:
        started = disconnected = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if not _several_recorders or self._recorded_here(scope):
                    self._record_safely(scope, path, message)
            await send(message)

        async def receive_wrapper() -> Message:
            nonlocal disconnected
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected = True
            return message

        # The server answers an app that raised, or returned, before it started a response
        # with a 500 (uvicorn, hypercorn): with record="all" that response counts too. Not
        # when the app saw the client leave: then nobody is sent anything.
        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        except Exception:
            if not started and not disconnected and self._recorded_here(scope):
                self._record_safely(scope, path, _SERVER_ERROR)
            raise
        if not started and not disconnected and self._recorded_here(scope):
            self._record_safely(scope, path, _SERVER_ERROR)

    def _record_safely(self, scope: Scope, path: str, message: Message) -> None:
        try:
            self._record(scope, path, message)
        except Exception as exc:  # recording must never break a response
            self.recorder.recording_failed(exc)

    def _claim(self, scope: Scope) -> bool:
        """Whether this middleware records the request: asked only for one it would record
        (a path it does not exclude), before the app runs.

        The rule: one row per request and site. Of the TrafficMiddlewares for one site around
        a request (a site's, and one under a mount with its own stack), the outermost records
        it, unless one inside records more kinds of response (`record="all"` around
        `record="pages"`): that one takes the request over, and the outer one, which looks
        again at the response's start (`_recorded_here`), records nothing. Exclusions need no
        rule: each asks only for a path it does not exclude, so both would record it (a path
        the outer one excludes is left to the inner one, unclaimed). One for another site
        records the request too: that is the other site's row, no duplicate.
        """
        state = scope.get("state")
        if state is None:  # a server without lifespan state, and no gate around
            scope["state"] = state = {}
        elif not isinstance(state, dict):  # not ASGI: nothing to share a mark with
            return True
        key = self._claim_key
        owner = state.setdefault(key, self)
        if owner is self:
            return True
        takes_over = self._record_all and not owner._record_all
        if takes_over:
            state[key] = self
        if not self._warned_recorded_outside:
            self._warned_recorded_outside = True
            if takes_over:
                logger.warning(
                    "analytics: a TrafficMiddleware around this one (a site's, around the"
                    " mount of this app) records pages of the same site; this one records"
                    " every response (record='all'), so it keeps this app's requests and that"
                    " one records none of them (each request is one row)"
                )
            else:
                logger.warning(
                    "analytics: a TrafficMiddleware around this one (a site's, around the"
                    " mount of this app) already records its requests; this one records none"
                    " of them, so each request is one row (one TrafficMiddleware per request"
                    " is enough)"
                )
        return takes_over

    def _recorded_here(self, scope: Scope) -> bool:
        """Whether the request this middleware claimed is still its own at the response's
        start: not taken over by one inside it (see `_claim`, `_take_navigation_request`)."""
        state = scope.get("state")
        return not isinstance(state, dict) or state.get(self._claim_key, self) is self

    def _take_navigation_request(self, scope: Scope) -> None:
        """Take this middleware's navigation script or beacon request from a TrafficMiddleware
        around it that claimed it for the same site (the path is not excluded there): it is no
        row, as it is none without nesting. The claimer is kept for `_record_navigation`."""
        state = scope.get("state")
        if not isinstance(state, dict):
            return
        owner = state.get(self._claim_key)
        if owner is not None and owner is not self:
            state[self._claim_key] = self
            state[_BEACON_CLAIMED_BY] = owner

    def _warn_outside_the_gate(self, gate: Any) -> None:
        """Say once that this middleware wraps cookiewall's gate (it saw a request the gate
        answered, which never reaches a middleware inside it): events are right either way,
        but inside, the gate runs it within its own send wrapper (`observed_path`).

        Not for the gate of an app mounted below (its endpoints under the mount): that one is
        rightly inside. Told apart by the middleware chain: the gate wrapped by this one is
        reached through the `app` attributes of the middlewares in between (Starlette's and
        ours have one); a router or an app ends the chain."""
        if self._warned_outside_the_gate:
            return
        app: Any = self.app
        for _ in range(64):
            if app is gate:
                break
            app = getattr(app, "app", None)
            if app is None:
                return
        else:
            return
        self._warned_outside_the_gate = True
        logger.warning(
            "analytics: TrafficMiddleware wraps cookiewall's ConsentMiddleware; its consent"
            " endpoints are not recorded, but the documented order is ConsentMiddleware"
            " outermost, TrafficMiddleware inside it (one middleware layer fewer per request)"
        )

    def _record_navigation(self, scope: Scope, page: Scope, loaded: bool) -> None:
        """Record the page a client-side navigation showed: `page` is the request a browser
        would have sent for it (see `navigation.page_scope`), recorded as its 200 would be,
        unless its path is excluded as that request's would be.

        `loaded`: the page the script loaded with, whose own request was a prefetch or a
        prerender. Pages mode did not record that request; `record="all"` did (every response
        is a row), so then the beacon records nothing: the page is one row either way.

        Recorded where that request would be: by the TrafficMiddleware around this one that
        claimed the beacon (see `_claim`) when it would also claim the page's full load (it
        does not exclude the path, and this one would not take it over), so that one visit's
        page views are not split over two spools."""
        root_path = scope.get("root_path")
        path = page["path"]
        if root_path:
            path, app_path = _mounted_paths(path, root_path)
            if self._excluded(app_path):
                return
        if self._excluded(path):
            return
        state = scope.get("state")
        owner = state.get(_BEACON_CLAIMED_BY) if isinstance(state, dict) else None
        if (
            isinstance(owner, TrafficMiddleware)
            and not (self._record_all and not owner._record_all)
            and not owner._excluded(path)
        ):
            recording = owner
        else:
            recording = self
        if loaded and recording._record_all:
            return
        recording._record_safely(page, path, _PAGE_SHOWN)

    def _record(self, scope: Scope, path: str, message: Message) -> None:
        # For the private access log, written next in this context (by uvicorn's `send`):
        # its line's path is then stored as this event's, from the path as sent. Only when
        # the process has one (see `accesslog.private_log_built`): about 1 k instructions.
        if accesslog.private_log_built:
            SENT_PATH.set((path, scope.get("raw_path")))
        recorder = self.recorder
        if not self._record_all:
            # Only pages. A HEAD shows nobody a page (uptime monitors, link checkers), nor does
            # an OPTIONS: Flask and Django answer one (a CORS preflight too) with empty HTML.
            method = scope["method"]
            if method == "HEAD" or method == "OPTIONS":
                return
            html = False
            for name, value in message.get("headers") or ():  # is the answer HTML?
                if name == _CONTENT_TYPE or (len(name) == 12 and name.lower() == _CONTENT_TYPE):
                    html = value[:9].lower() == _HTML
                    break
            if html:
                # A part of a page (a download manager or `wget -c` resuming an HTML file's
                # download with a Range) is no page view: the whole page was one, if at all.
                if message["status"] == _PARTIAL_CONTENT:
                    return
                # A redirect shows no page, whatever its body: Django's and Flask's come as
                # text/html ("Redirecting..."), and its target is the page view. Only what a
                # browser follows is one (Fetch's redirect statuses, with a Location): it
                # shows any other 3xx's body as the page (a 300 Multiple Choices, a 305, a
                # 302 an app sent without Location), as Chromium does.
                if message["status"] in _REDIRECTS and _has_location(message):
                    return
            # A 304 has no Content-Type (RFC 9110 15.4.5): a page the browser revalidated (a
            # reload, `Cache-Control: no-cache`) is known by the request instead.
            elif not (
                message["status"] == _NOT_MODIFIED
                and _asks_for_a_page(scope["headers"])
                and not _names_another_file_type(path)
            ):
                return
        state = scope.get("state")
        if isinstance(state, dict):
            if _ANSWERED_BY_THE_GATE in state:  # a gate's own answer (this is outside it)
                self._warn_outside_the_gate(state.get(_GATE))
                return
            consent_object = state.get("consent")
        else:
            consent_object = None
        referer = user_agent = forwarded_for = fetch_dest = None
        opted_out = prefetched = False
        headers = scope["headers"]
        read_headers = self._read_headers
        try:
            for name, value in headers:
                if name not in read_headers:
                    continue
                if name == _REFERER:
                    referer = value
                elif name == _USER_AGENT:
                    user_agent = value
                elif name == _FETCH_DEST:  # read in pages mode only, as the two below
                    fetch_dest = value
                elif name in _PURPOSE_HEADERS:
                    prefetched = prefetched or _is_prefetch(_as_bytes(value))
                elif name == _FORWARDED_FOR:
                    value = _as_bytes(value)  # rare (behind proxies): no need to hurry
                    forwarded_for = value if forwarded_for is None else forwarded_for + b"," + value
                elif value.strip() == b"1":  # Sec-GPC or DNT, the rest of the names read
                    opted_out = True
        except TypeError:
            # A name the set cannot hash: a server that sends bytearray (ASGI says bytes). Read
            # as bytes, the request is recorded as usual; the scope stays untouched.
            if not all(isinstance(name, _BYTES_LIKE) for name, _ in headers):
                raise
            readable = [(bytes(name), value) for name, value in headers]
            self._record({**scope, "headers": readable}, path, message)
            return
        # Pages mode (these are only read then). A page a browser prefetched or prerendered is
        # no page view: most are never shown, and the navigation script counts one that is
        # (a prerender activated, a prefetch used), which makes no request of its own. Nor is
        # HTML a script fetched (`Sec-Fetch-Dest: empty`: htmx, Turbo, fetch, XHR) or that
        # an <img>, <script>, <link rel=prefetch> asked for: only a document or a frame (a
        # fenced one too) shows it. Without Fetch Metadata (older browsers, HTTP clients) the
        # answer decides alone.
        if prefetched or (
            fetch_dest is not None
            and fetch_dest != b"document"  # what browsers send for a page: no need to normalise
            and _as_bytes(fetch_dest).strip().lower() not in _PAGE_DESTINATIONS
        ):
            return
        consent, hash_allowed = _summary_of(consent_object)
        peer = None
        if hash_allowed and not opted_out and self._hashing:
            client = scope.get("client")
            peer = client[0] if client else None
            if not self._trusts_proxies:
                forwarded_for = None  # only read behind trusted proxies: not kept otherwise
        else:
            hash_allowed = False
            forwarded_for = None  # no hash: the address is not kept even for a second
        # A plain tuple of Capture's fields (a CaptureRow), not a Capture: the collector
        # untracks an exact tuple of text, bytes and numbers at its first collection, where a
        # Capture (a tuple subclass) would be promoted while it waits and read by every full
        # collection. Header values given as bytearray are read as bytes in the flusher
        # (analytics.capture._factorize), not here on every request.
        recorder.add(
            (
                recorder.capture_clock(),
                path,
                scope["method"],
                message["status"],
                scope.get("query_string") or b"",
                referer,
                user_agent or b"",
                peer,
                forwarded_for,
                consent,
                hash_allowed,
                scope.get("raw_path"),  # only kept: judged in the flusher
            )
        )

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Track the protocol so that an app without lifespan support (it raises or returns at
        # once, which uvicorn and Starlette take as "unsupported") still gets a clean shutdown.
        seen: dict[str, bool] = {"startup": False, "started": False, "shut": False}

        async def receive_wrapper() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                seen["startup"] = True
            return message

        async def send_wrapper(message: Message) -> None:
            kind = message["type"]
            if kind in ("lifespan.startup.complete", "lifespan.startup.failed"):
                seen["started"] = True
            elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                seen["shut"] = True
                self._close()  # before the server is told it may exit
            await send(message)

        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        except Exception:
            if seen["started"]:
                if not seen["shut"]:
                    self._close()
                raise
            logger.debug("analytics: the app does not support lifespan; handling it here")
        if seen["shut"]:
            return
        if seen["started"]:
            self._close()  # the app returned after startup without answering shutdown
            return
        await self._own_lifespan(receive, send, startup_received=seen["startup"])

    async def _own_lifespan(self, receive: Receive, send: Send, *, startup_received: bool) -> None:
        if not startup_received:
            await receive()  # lifespan.startup
        await send({"type": "lifespan.startup.complete"})
        message = await receive()
        if message["type"] == "lifespan.shutdown":
            self._close()
            await send({"type": "lifespan.shutdown.complete"})

    def _close(self) -> None:
        try:
            self.recorder.close()
        except Exception:
            logger.exception("analytics: could not flush the recorder at shutdown")


def _count_recorder() -> None:
    """Count a TrafficMiddleware being built (see `_several_recorders`): under a lock, as apps
    may be built on several threads at once and a lost count would hide a second one."""
    global _recorders_built, _several_recorders
    with _recorders_built_lock:
        _recorders_built += 1
        if _recorders_built > 1:
            _several_recorders = True
