"""ConsentMiddleware: verify the consent cookie, tell the app, gate its Set-Cookie headers.

References:
* ASGI HTTP connection scope and response messages: https://asgi.readthedocs.io/
* RFC 6265 (cookies), RFC 9111 section 5.2.2.7 (Cache-Control: private)
* Global Privacy Control (Sec-GPC: 1): https://privacycg.github.io/gpc-spec/
* ASGI `root_path` (an app served under a sub-path): see `cookiewall.messages.Site`
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import os
import re
import threading
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from typing import Any

from cookiewall import setcookie
from cookiewall.banner import (
    Banner,
    BodyEndScanner,
    Nonces,
    csp_nonces,
    document_start,
    head_policies_and_language,
    inject,
    meta_head_end,
    meta_policies,
)
from cookiewall.consent import Consent, ConsentCodec, Decision
from cookiewall.cookienames import shown_name
from cookiewall.endpoints import ConsentEndpoints, browser_path, route_path, safe_next
from cookiewall.messages import Reply, Request, Site
from cookiewall.policy import CookieRule, Policy
from cookiewall.receipts import ReceiptLog

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# Any ASGI callable, for the wrapped app: the scope, receive and send types are left open
# (Any), because a framework that types its own __call__ with TypedDict scopes (a2wsgi,
# Litestar) is not assignable to a callable taking a MutableMapping (parameters are
# contravariant). The gate's own `__call__` keeps the precise types.
AnyASGIApp = Callable[[Any, Any, Any], Awaitable[Any]]

logger = logging.getLogger("cookiewall")

# The request state entry naming the gate that served the request (see `get_gate`).
GATE_STATE_KEY = "cookiewall.gate"
# Private: set (True) in the request state only when the gate answers the request itself (an
# endpoint, gpc.json, any of their errors), so that analytics' TrafficMiddleware, if put
# outside the gate, records none of them whatever `path_prefix` is. The same literal is in
# analytics.middleware, which works without cookiewall and so cannot import it.
ANSWERED_STATE_KEY = "cookiewall.answered"
# Private: a gate that runs inside another (a mounted app's own gate under the site's) leaves
# here an `_InnerGateReport` of what it sent (see `_reporting_to_outer_gate`), so that the
# gate around it leaves those cookies and that page alone (see `_gated_beside`).
INNER_GATE_STATE_KEY = "cookiewall.inner_gate"
# Whether this process has built more than one gate. Until it has, no gate can run inside
# another (one around this one would have been built before this request reached it, and the
# same gate twice is no nesting), so the nesting bookkeeping above (the look for an outer gate
# at the request, for an inner gate's report at the response start) is skipped: the common
# site has one gate. Set, never cleared, before a second gate can serve: a gate built while a
# request is on its way (a mount's app whose middleware is built at its first request) reads it
# as set, and the gate around it looks at its report because it reads this at response start.
_several_gates = False
_gates_built = 0
_gates_built_lock = threading.Lock()

MAX_INJECT_BUFFER = 1024 * 1024  # bodies with a known, small Content-Length may be buffered
# A streamed page's first bytes kept for its <meta> CSP nonces: a head is a few KiB. Kept on,
# past this, until its end has come (see `_StreamedPage._keep_head`).
_STREAMED_HEAD_KEPT = 64 * 1024
_REMEMBERED_NAMES = 1024  # bounds on names kept for logging once and for the declaration
# Browsers send the consent cookie once per path and domain holding it: a handful, unless a
# subdomain planted copies. A value not seen before costs a signature check, so a request
# gets at most this many (see `_newest_decision`); known values cost a lookup, as many as sent.
MAX_CONSENT_VALUES = 16
# Cookie headers whose consent value is kept (see `__call__`): at most this many, this long.
# A header that changes on every request (a cookie a script rewrites per page view) is found
# each time instead, at the cost of one more dict lookup.
_KEPT_HEADERS = 4096
_MAX_KEPT_HEADER = 1024
# Bad consent cookie values already cleared (see `_clear_bad`): at most this many, by hash.
MAX_CLEARED_VALUES = 4096
# The request headers `__call__` reads (DNT only with `honor_dnt`).
_GATE_READS = frozenset({b"cookie", b"sec-gpc", b"dnt"})
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}")
# A WebSocket handshake's answer: the upgrade, or an HTTP response instead (Denial Response).
_HANDSHAKE_ANSWERS = frozenset({"websocket.accept", "websocket.http.response.start"})
_SAME_SITE = {"lax": "Lax", "strict": "Strict", "none": "None"}
# Whose language an injected banner speaks (see `_banner_language`).
_BANNER_LANGUAGES = ("visitor", "page")
_NOSNIFF = (b"x-content-type-options", b"nosniff")
_L_OR_UPPER_L = (ord("l"), ord("L"))  # how every field `_offers_to_shared_caches` takes ends
# Response fields that name the exact bytes the app sent; untrue once the banner is injected.
_ABOUT_THE_APPS_BODY = frozenset(
    {b"etag", b"last-modified", b"content-md5", b"content-digest", b"repr-digest", b"digest"}
)


class ConsentMiddleware:
    """Pure-ASGI consent gate. On every HTTP request it reads the signed consent cookie, puts
    the visitor's `Consent` in `scope["state"]["consent"]` (`request.state.consent`), serves
    the consent endpoints, and removes every `Set-Cookie` of a category the visitor has not
    allowed before the response leaves the server.

    `policy`: the `Policy` (version, categories, cookie rules).
    `secret_key`: a key (str or bytes) of 16+ characters, or a list of them newest first
    (older ones still verify; their cookies are re-signed with the newest). One per site.
    `cookie_name` ("cookiewall"): the consent cookie, a cookie-name token of at most 64
    characters; `__Secure-`/`__Host-` names work (and are always Secure).
    `path_prefix` ("/consent"): where the endpoints live (ASCII, `/` first, not last).
    `secure` (None): the consent cookie's Secure attribute; None means Secure when the server
    reports the request as https (ASGI `scheme`), and always with `same_site="none"` or a
    `__Secure-`/`__Host-` name. Only None, True or False.
    `same_site` ("lax"): "lax", "strict" or "none" (needs Secure).
    `honor_dnt` (False): treat `DNT: 1` like `Sec-GPC: 1` (only the exact value 1 counts).
    `inject_banner` (False): put the banner into undecided visitors' HTML pages.
    `receipts` (None): a `ReceiptLog` for proof of consent (not a path).
    `trusted_origins` (()): the site's public origins (`"https://example.com"`: scheme, host
    and port only) when a proxy in front rewrites `Host`; a list, not one string.
    `banner_language` ("visitor"): an injected banner's language from the visitor's
    `Accept-Language`, or "page": the page's `<html lang>` where the policy has texts for it.

    A wrong option is a `ValueError` naming it, raised when the middleware is built.
    """

    def __init__(
        self,
        app: AnyASGIApp,
        *,
        policy: Policy,
        secret_key: str | bytes | Sequence[str | bytes],
        cookie_name: str = "cookiewall",
        path_prefix: str = "/consent",
        secure: bool | None = None,
        same_site: str = "lax",
        honor_dnt: bool = False,
        inject_banner: bool = False,
        receipts: ReceiptLog | None = None,
        trusted_origins: Iterable[str] = (),
        banner_language: str = "visitor",
    ) -> None:
        _count_gate()  # first: before anything can call this one (see `_several_gates`)
        if not isinstance(policy, Policy):
            raise ValueError("policy must be a cookiewall.Policy")
        _check_option_types(cookie_name, path_prefix, secure, same_site, inject_banner, receipts)
        if banner_language not in _BANNER_LANGUAGES:
            raise ValueError(
                "banner_language must be 'visitor' (the visitor's Accept-Language) or 'page'"
                f" (the page's <html lang>, else the visitor's), not {banner_language!r}"
            )
        if not _COOKIE_NAME.fullmatch(cookie_name):
            raise ValueError(f"cookie_name {cookie_name!r} is not a valid cookie name")
        if (
            not path_prefix.startswith("/")
            or path_prefix.endswith("/")
            or not path_prefix.isascii()
            or any(ch in path_prefix for ch in "?#\"'<> ")
        ):
            raise ValueError(f"path_prefix {path_prefix!r} must look like '/consent'")
        if same_site.lower() not in _SAME_SITE:
            raise ValueError("same_site must be 'lax', 'strict' or 'none'")
        if same_site.lower() == "none" and secure is False:
            raise ValueError("same_site='none' needs Secure cookies (secure=None or True)")
        prefixed = setcookie.needs_secure(cookie_name)
        if prefixed and secure is False:
            raise ValueError(
                f"cookie_name {cookie_name!r}: browsers store a __Secure-/__Host- cookie"
                " only with Secure (secure=None or True)"
            )
        self.app = app
        self.policy = policy
        self.cookie_name = cookie_name
        # Browsers refuse SameSite=None (or a __Secure-/__Host- name) without Secure. Behind
        # a TLS proxy the app may see http, so "Secure when https" would make the consent
        # cookie impossible to store.
        always_secure = same_site.lower() == "none" or prefixed
        self.secure = True if secure is None and always_secure else secure
        self.same_site = _SAME_SITE[same_site.lower()]
        self.honor_dnt = honor_dnt
        self.inject_banner = inject_banner
        self.codec = ConsentCodec(policy, secret_key)
        # A multilingual site's page names its language (`<html lang="fr">`, the French
        # version a visitor with an English browser chose): its banner speaks it, and so
        # does the cookie list it links to, which would otherwise follow Accept-Language.
        self.banner_language = banner_language
        self._page_language = banner_language == "page"
        self.banner = Banner(
            policy, path_prefix, honor_dnt=honor_dnt, language_in_links=self._page_language
        )
        self.stats: dict[str, int] = {"removed_cookies": 0, "bad_cookies": 0, "receipts_failed": 0}
        self.removed_by_name: dict[str, int] = {}
        self.undeclared: dict[str, None] = {}  # ordered set of names no rule declares
        self.endpoints = ConsentEndpoints(
            policy=policy,
            codec=self.codec,
            banner=self.banner,
            receipts=receipts,
            cookie_name=cookie_name,
            path_prefix=path_prefix,
            same_site=self.same_site,
            undeclared=self.undeclared,
            stats=self.stats,
            # Checked there (a ValueError naming a bad entry), used only by its CSRF check.
            trusted_origins=trusted_origins,
        )
        self._root_site = self.endpoints.root_site
        self._cookie_marker = f"{cookie_name}=".encode()
        self._cookie_name_bytes = cookie_name.encode()
        # Set-Cookie name (the bytes before the first '=') -> its rule's category; None for
        # names that no rule declares or that need the careful path (see `_gated`).
        self._category_by_name: dict[bytes, str | None] = {}
        # A Set-Cookie that only deletes an optional cookie (the whole value) -> its rule's
        # category: remembered apart from `_category_by_name`, whose names are judged by
        # where they set the cookie (`_judged_scope`), which a deletion does not say.
        self._category_by_deletion: dict[bytes, str] = {}
        # Patterns of the rules warned about for a Set-Cookie away from their path or domain
        # (see `_judged_scope`): once a rule, so bounded by the policy, not by traffic.
        self._warned_scope: dict[str, None] = {}
        # Cookie header -> the consent cookie's value in it (see `__call__`); bounded.
        self._value_by_header: dict[bytes, str] = {}
        # Hashes of the bad consent values cleared once (`_clear_bad`), oldest first; bounded.
        self._cleared: dict[int, None] = {}
        # Whether the warning about compressed pages (see `_gate`) was logged: once is enough.
        self._warned_compressed = False
        # Whether a gate inside this one was found to share its consent cookie: said once.
        self._warned_shared_cookie = False
        # Whether a decision from a clock further ahead than tolerated was logged (see
        # `_kept_for_other_hosts`): once is enough.
        self._warned_clock = False
        # Whether a consent endpoint was reached over https through a proxy the server does not
        # believe (see `_warn_unread_proxy_scheme`): once is enough.
        self._warned_proxy_scheme = False
        # A wrapped middleware may offer `observed_path(scope)` and `observe_response(scope,
        # path, message)`: all it does for a request, as one call at `http.response.start`
        # (None from the first: call it as usual). The gate wraps `send` anyway, so it calls that
        # from its own wrapper and then the middleware's own `app`: one layer, and one
        # coroutine per message, fewer on every request. Only on the common path.
        self._observed_path: Callable[[Scope], str | None] | None = None
        self._observe: Callable[[Scope, str, Message], None] = _no_observer
        observed_path = getattr(app, "observed_path", None)
        observe = getattr(app, "observe_response", None)
        if callable(observed_path) and callable(observe) and hasattr(app, "app"):
            self._observed_path, self._observe = observed_path, observe

    @property
    def verifications(self) -> int:
        """How many consent cookies this gate verified by signature (cache misses)."""
        return self.codec.verifications

    def statistics(self) -> dict[str, Any]:
        """A snapshot of the counters, for a health or metrics route (`get_gate`): plain
        values, safe to serialise as JSON. Cookie names only, never values.

        Keys: `removed_cookies`, `bad_cookies`, `receipts_failed`, `verifications` and
        `cache_hits` (ints), and `removed_by_name` (`{masked cookie name: count}`).
        """
        return {
            **self.stats,
            "removed_by_name": dict(self.removed_by_name),
            "verifications": self.codec.verifications,
            "cache_hits": self.codec.cache_hits,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                send = self._handshake_gate(scope, send)
            await self.app(scope, receive, send)
            return

        cookie_header = b""
        crumbs: list[bytes] | None = None  # a second Cookie field and more
        gpc = False
        try:
            for key, value in scope["headers"]:
                if key not in _GATE_READS:
                    continue  # most of a browser's dozen: one set lookup, not a comparison each
                if key == b"cookie":
                    # HTTP/2 may split Cookie into several fields: they join with "; ", once
                    # at the end (joining as they come was quadratic in their number).
                    if not cookie_header:
                        cookie_header = value
                    elif crumbs is None:
                        crumbs = [cookie_header, value]
                    else:
                        crumbs.append(value)
                elif key == b"sec-gpc" or self.honor_dnt:  # Sec-GPC, or DNT when it counts
                    # Only the exact value 1 is a signal (GPC spec 3.1).
                    gpc = gpc or value.strip() == b"1"
        except TypeError:
            # A name the set cannot hash: a server that sends bytearray (ASGI says bytes). Given
            # as bytes, the gate and everything behind it work as usual, instead of a 500. (A
            # `try` costs nothing on the common path: Python 3.11's exceptions are zero-cost.)
            if not await self._again_with_bytes_headers(scope, receive, send):
                raise
            return
        if crumbs is not None:
            cookie_header = b"; ".join(crumbs)

        root_path = scope.get("root_path")
        if root_path:  # served under a sub-path: the only extra work, and only then
            site = self.endpoints.site(root_path)
            path = route_path(scope["path"], root_path)
        else:
            site = self._root_site
            path = scope["path"]

        extra: list[bytes] = []
        consent = None
        if cookie_header:
            # A returning visitor's browser sends the same Cookie header page after page: its
            # consent value, found once, is kept by the whole header (a str keeps its hash,
            # so the codec's lookup is then cheap too). Expiry is still checked every time.
            try:
                single = self._value_by_header.get(cookie_header)
            except TypeError:
                # A Cookie value the dict cannot hash: given as bytearray (ASGI says bytes).
                # As bytes, with every other header, it is served (and recorded) as usual,
                # instead of a 500; nothing was done for this request yet. Zero-cost `try`.
                if not await self._again_with_bytes_headers(scope, receive, send):
                    raise
                return
            if single is None:
                single = _single_value(cookie_header, self._cookie_name_bytes)
                if single is not None:
                    consent = self.codec.cached_consent(single, gpc)
                    if consent is not None and len(cookie_header) <= _MAX_KEPT_HEADER:
                        self._keep_header(cookie_header, single)
            else:
                consent = self.codec.cached_consent(single, gpc)
            if consent is None and cookie_header.find(self._cookie_marker) >= 0:
                consent = self._consent_from(cookie_header, single, gpc, scope, site, extra)
        if consent is None:
            consent = self.codec.undecided(gpc)

        state = scope.get("state")
        if state is None:
            scope["state"] = state = {}
        if _several_gates:
            outer = state.get(GATE_STATE_KEY)
            if outer is not None and outer is not self and isinstance(outer, ConsentMiddleware):
                # Another gate around this one: the site's, around a mount that has its own.
                # This one's policy governs the request (inside, the app sees its consent).
                send = self._reporting_to_outer_gate(state, site, send, outer)
        state["consent"] = consent
        # What `get_gate` hands a route: with `app.add_middleware`, Starlette builds this
        # instance itself and the app has no other handle on it (or on its counters).
        state[GATE_STATE_KEY] = self

        handler = site.routes.get(path)
        if handler is not None:
            state[ANSWERED_STATE_KEY] = True  # only here: no cost to the app's requests
            secure = self._is_secure(scope)
            await self._serve(handler, scope, receive, send, consent, secure, site, extra)
            return
        if self.inject_banner and not consent.decided:
            _unconditional_navigation(scope)
        if not extra and not self.inject_banner:
            # The common case: nothing to add, nothing to inject; only Set-Cookie may need a
            # look. (Made here, not by a method: one call fewer on every request.)
            app = self.app
            # A wrapped app that only observes the response start (analytics'
            # TrafficMiddleware) is run inside this wrapper: see `_observed_path`.
            observed = None if self._observed_path is None else self._observed_path(scope)
            if observed is not None:
                app = app.app  # type: ignore[attr-defined]
                observe = self._observe

            async def send_filtered(message: Message) -> None:
                if message["type"] == "http.response.start":
                    if observed is not None:
                        observe(scope, observed, message)  # first, as its own wrapper would
                    headers = message.get("headers")
                    if headers:
                        # Read now, not at the request: a gate inside may be built meanwhile.
                        if _several_gates:
                            message["headers"] = self._gated_at_start(
                                scope, message, headers, consent, site
                            )
                        else:
                            message["headers"] = self._gated(headers, consent)
                await send(message)

            await app(scope, receive, send_filtered)
        else:
            send_gated, unfinished = self._gate(scope, send, consent, site, extra)
            if unfinished is None:
                await self.app(scope, receive, send_gated)
                return
            try:
                await self.app(scope, receive, send_gated)
            except Exception:
                # Raised after starting a page the gate holds: without the gate, the client
                # has the app's start and a cut-off body (the server closes the connection);
                # held, the server sent 500 instead, to this visitor alone, while a recorder
                # inside the gate had counted the 200. What was held goes out first.
                ending = unfinished()
                if ending is not None:
                    with contextlib.suppress(Exception):  # the app's exception is the one to tell
                        await ending
                raise
            ending = unfinished()
            if ending is not None:
                await ending

    def _warn_unread_proxy_scheme(self, headers: dict[str, str]) -> None:
        """Say once that a consent request claims https while the server reports http: the
        sign of a TLS proxy whose word on the scheme went unread, which costs the consent
        cookie its Secure attribute without a sound.

        Behind nginx or Caddy the server sees plain http; it believes `X-Forwarded-Proto` only
        from the addresses it trusts (uvicorn and gunicorn: 127.0.0.1 and ::1 unless
        `--forwarded-allow-ips` names the proxy; hypercorn and granian: nobody, unless wrapped).
        A proxy in another container is the common case. The claim is not believed here either
        (any client can send it, a scanner too): it only makes the mistake visible in the log,
        worded so that it does not say a proxy is there."""
        if not _claims_https(headers):
            return
        self._warned_proxy_scheme = True
        logger.warning(
            "cookiewall: a consent request says it was forwarded from https (X-Forwarded-Proto"
            " or Forwarded) but the server reports http, so the consent cookie is set without"
            " Secure: if a TLS proxy is in front, have the server believe it (uvicorn/gunicorn"
            " --forwarded-allow-ips=<proxy address>, hypercorn's ProxyFixMiddleware), or give"
            " cookie_name a __Host- prefix"
        )

    def _is_secure(self, scope: Scope) -> bool:
        """Whether the gate's own cookies get Secure: as configured, else when served by https.
        Asked only when the gate sets a cookie, never on a returning visitor's plain page."""
        return self.secure if self.secure is not None else scope.get("scheme") == "https"

    def _gated_at_start(
        self,
        scope: Scope,
        message: Message,
        headers: list[tuple[bytes, bytes]],
        consent: Consent,
        site: Site,
    ) -> list[tuple[bytes, bytes]]:
        """`headers` gated at the response start of the common path when gates may nest (see
        `_several_gates`): as a gate inside this one reported, if one did. Apart, so that the
        common path's wrapper keeps no more of the request than it needs for `_gated`."""
        inner = scope["state"].get(INNER_GATE_STATE_KEY)
        if inner is None:
            return self._gated(headers, consent)
        answered = self._inner_gate_answered(inner, message)
        return self._gated_beside(headers, consent, answered, site)

    def _reporting_to_outer_gate(
        self, state: dict[str, Any], site: Site, send: Send, outer: ConsentMiddleware
    ) -> Send:
        """`send`, reporting to the gate around this one what this gate sent (see
        `_gated_beside`): the report is made here and only here, so an app cannot make one.

        Called before this gate puts its own consent in `state`: the outer gate's is there."""
        report = _InnerGateReport(self, site.root)
        state[INNER_GATE_STATE_KEY] = report
        outer_consent = state.get("consent")

        async def send_reported(message: Message) -> None:
            if message["type"] != "http.response.start":
                await send(message)
                return
            headers = message.get("headers") or ()
            report.set_cookies = [value for key, value in headers if key.lower() == b"set-cookie"]
            # What tells this start from a page a layer between the gates sends in its place
            # (an SPA fallback's shell for the mount's 404): see `_inner_gate_answered`.
            report.status = message.get("status")
            report.content_type = _find(headers, b"content-type")
            # Put back: a gate inside this one left its own report, on which this one
            # acted; the gate outside acts on what this one sent.
            state[INNER_GATE_STATE_KEY] = report
            # The layers outside this gate act for the site: the site's recorder (it reads
            # `state["consent"]` at the response start) must count a visitor who declined the
            # site's analytics as declined, whatever they chose in the mount. Its app goes on
            # with this gate's consent once the start is sent.
            inner_consent = state.get("consent")
            inner_gate = state.get(GATE_STATE_KEY)
            state["consent"] = outer_consent
            state[GATE_STATE_KEY] = outer
            try:
                await send(message)
            finally:
                state["consent"] = inner_consent
                state[GATE_STATE_KEY] = inner_gate

        return send_reported

    def _inner_gate_answered(self, report: object, message: Message) -> _InnerGateReport | None:
        """The report of the gate inside this one when it sent this response start (a mount's
        own gate), else None: the request never reached one, its app's error went to a
        handler outside it, or a layer between the gates sent a page of its own in place of
        the inner gate's (another status or Content-Type): those pages are this gate's."""
        if type(report) is not _InnerGateReport or report.set_cookies is None:
            return None  # `type`, not isinstance: only this module makes one
        inner = report.gate
        if inner is self:
            return None
        # Not the identity of the headers list: a layer between that adds a header (CORS,
        # security headers) builds a new one for the inner gate's own page.
        if report.status != message.get("status") or report.content_type != _find(
            message.get("headers") or (), b"content-type"
        ):
            return None
        if inner.cookie_name == self.cookie_name and not self._warned_shared_cookie:
            self._warned_shared_cookie = True
            logger.warning(
                "cookiewall: two consent gates on one request store their decisions under one"
                " cookie name (%r): below the inner gate's path each takes the other's decision"
                " for a bad one, and a decision at Path=/ (the outer gate's) is not the inner"
                " gate's to clear on withdrawal; give the inner gate its own cookie_name",
                self.cookie_name,
            )
        return report

    def _gated_beside(
        self,
        headers: list[tuple[bytes, bytes]],
        consent: Consent,
        answered: _InnerGateReport | None,
        site: Site,
    ) -> list[tuple[bytes, bytes]]:
        """`_gated`, but the Set-Cookies a gate inside this one sent (a mounted app's own gate,
        whose policy governs its pages) pass as they are when they live in the mount alone:
        the shop's visitor decides with the shop's gate, for the shop. `answered`: see
        `_inner_gate_answered`; None: `_gated` alone.

        The inner gate's consent can speak only for the inner gate's part of the host: one of
        its cookies that the browser would send to this gate's other pages (`Path=/`, which is
        Starlette's default, a `Domain`, no `Path`) is gated here by this gate's policy, as is
        any Set-Cookie a layer between the two gates added. The inner gate's own consent
        cookie passes wherever it lives (its app cannot set it), unless it bears this gate's
        name: outside the mount that is this gate's decision, which the inner gate's answers
        (a withdrawal's clearing of a Path=/ decision) neither set nor clear."""
        if answered is None or not answered.set_cookies:
            return self._gated(headers, consent)
        unclaimed = list(answered.set_cookies)
        inner_name = answered.gate.cookie_name
        same_name = inner_name == self.cookie_name
        # The mount's root: a gate on the same root as this one has no part of its own.
        mount = answered.root if len(answered.root) > len(site.root) else None
        passed: list[tuple[bytes, bytes]] = []
        rest: list[tuple[bytes, bytes]] = []
        dropped = False
        for key, value in headers:
            if not (unclaimed and key.lower() == b"set-cookie" and value in unclaimed):
                rest.append((key, value))
                continue
            unclaimed.remove(value)  # as many as it sent: a copy added outside is gated
            inside = mount is not None and _confined_below(value, mount)
            if setcookie.sent_back_as(value, self.cookie_name):
                if not same_name:
                    # The inner gate removes its app's Set-Cookies for its own consent
                    # cookie, not for this one's: the inner app's, gated here.
                    rest.append((key, value))
                elif inside:
                    passed.append((key, value))  # the mount's decision, below the mount
                else:
                    dropped = True  # this gate's decision: not the mount's to set or clear
            elif inside or setcookie.cookie_name(value) == inner_name:
                passed.append((key, value))
            else:
                rest.append((key, value))
        if not passed and not dropped:
            return self._gated(headers, consent)
        gated = self._gated(rest, consent)
        if gated is rest and not dropped:
            return headers  # nothing removed or added: in the order the app sent
        return [*passed, *gated]

    def _keep_header(self, cookie_header: bytes, value: str) -> None:
        kept = self._value_by_header
        if len(kept) >= _KEPT_HEADERS:
            kept.pop(next(iter(kept)))  # oldest first, as the codec's cache
        kept[cookie_header] = value

    def _handshake_gate(self, scope: Scope, send: Send) -> Send:
        """Gate the Set-Cookie headers of a WebSocket handshake's answer; the rest passes.

        Browsers store the cookies of the handshake response (RFC 6455 4.1), and ASGI lets
        the app send headers with `websocket.accept` or a denial response. The scope stays
        untouched; the visitor's consent is read only when such a header is there.
        """

        async def send_gated(message: Message) -> None:
            if message["type"] in _HANDSHAKE_ANSWERS:
                headers = message.get("headers")
                if headers and any(key.lower() == b"set-cookie" for key, _ in headers):
                    consent = self._handshake_consent(scope)
                    message["headers"] = self._gated(list(headers), consent, http=False)
            await send(message)

        return send_gated

    def _handshake_consent(self, scope: Scope) -> Consent:
        """The visitor's consent for a websocket scope: the newest valid decision, or none."""
        cookies: list[bytes] = []
        gpc = False
        for key, value in scope.get("headers") or ():
            if key == b"cookie":
                cookies.append(value)
            elif key == b"sec-gpc" or (key == b"dnt" and self.honor_dnt):
                gpc = gpc or value.strip() == b"1"
        _, best = self._newest_decision(b"; ".join(cookies))
        return self.codec.undecided(gpc) if best is None else self.codec.decided(best, gpc)

    def _newest_decision(self, cookie_header: bytes) -> tuple[list[str], Decision | None]:
        """The consent cookie values of the header that were read, and the newest decision
        among those that verify.

        Browsers send the longest paths first, and the gate's own copy sits at the site's
        path, the shortest: read in the header's order, at most MAX_CONSENT_VALUES of them, a
        subdomain's copies planted at longer paths (or with `Domain=` at the same path, older)
        were all that was read, and the visitor's own decision never counted. So values are
        read from the end, each distinct value once; only those that cost a signature check
        count towards the bound (values the codec verified or rejected before, and values that
        cannot be a token, cost a lookup). Values left unread are not reported: they are
        neither bad nor cleared, and a later request reads them.
        """
        values = setcookie.request_cookie_values(cookie_header.decode("latin-1"), self.cookie_name)
        codec = self.codec
        read: list[str] = []
        best = None
        checks = 0
        for value in dict.fromkeys(reversed(values)):
            if codec.needs_check(value):
                if checks == MAX_CONSENT_VALUES:
                    continue
                checks += 1
            read.append(value)
            decision = codec.verify(value)
            if decision is not None and (best is None or decision.decided_at > best.decided_at):
                best = decision
        return read, best

    def _consent_from(
        self,
        cookie_header: bytes,
        single: str | None,
        gpc: bool,
        scope: Scope,
        site: Site,
        extra: list[bytes],
    ) -> Consent:
        best = None
        if single is not None:
            values = [single]
            best = self.codec.verify(single)
            if best is not None and not best.needs_resign:
                return self.codec.decided(best, gpc)  # the returning visitor: done
        else:
            values, best = self._newest_decision(cookie_header)
        if best is None:
            kept = self._kept_for_other_hosts(values)
            if kept is not None:
                # Not counted here, but the visitor's decision on the hosts of its version or
                # clock: not cleared; re-signed under a rotated key as any decision is.
                if kept.needs_resign:
                    extra.append(self._resigned(kept, scope, site))
                return self.codec.undecided_after(kept, gpc)  # what it refused stays refused
            # Under a mount, a value none of our keys signed is most likely the consent cookie
            # of an app at the host's root (sent here too): not ours to count or clear.
            foreign = self.codec.foreign
            # At most MAX_CONSENT_VALUES looked at: each costs a signature check per key.
            if values and not (site.root and all(map(foreign, values[:MAX_CONSENT_VALUES]))):
                self.stats["bad_cookies"] += 1
                self._clear_bad(values, scope, site, extra)
            return self.codec.undecided(gpc)
        if best.needs_resign:
            extra.append(self._resigned(best, scope, site))
        return self.codec.decided(best, gpc)

    def _resigned(self, decision: Decision, scope: Scope, site: Site) -> bytes:
        """The Set-Cookie of `decision` signed with the newest key, for what is left of its
        lifetime: the payload unchanged, its policy version too."""
        return setcookie.build(
            self.cookie_name,
            self.codec.resign(decision),
            max_age=self.codec.remaining_age(decision),
            path=site.cookie_path,
            secure=self._is_secure(scope),
            same_site=self.same_site,
        )

    def _kept_for_other_hosts(self, values: list[str]) -> Decision | None:
        """The newest of `values` that verified but does not count here (`ConsentCodec.kept`):
        made for another policy version (a rolling deploy), or dated ahead of this host's
        clock by more than tolerated (its clock is behind, or the signer's ahead). Else None.

        Cleared, the visitor's decision would be lost on every host, the one that made it
        too; kept, it counts wherever the version and the clocks agree. A clock is wrong:
        said once.
        """
        codec = self.codec
        newest = None
        for value in values[:MAX_CONSENT_VALUES]:
            decision = codec.kept(value)
            if decision is None:
                continue
            if newest is None or decision.decided_at > newest.decided_at:
                newest = decision
            seconds = codec.ahead(value)
            if seconds is not None and not self._warned_clock:
                self._warned_clock = True
                logger.warning(
                    "cookiewall: a consent cookie's decision time is %d s ahead of this"
                    " host's clock, more than the 300 s tolerated: the visitor is asked"
                    " again on this host, the cookie is kept for the others; check the"
                    " app servers' clocks (NTP)",
                    seconds,
                )
        return newest

    def _clear_bad(self, values: list[str], scope: Scope, site: Site, extra: list[bytes]) -> None:
        """Expire the bad consent cookie, once for each value.

        The gate writes its cookie host-only at the site's path, and clears it there. A sibling
        subdomain can plant a bad one with `Domain=<parent>` at any path above a page: cleared
        there alone, it came back, and the clear went out again on every response for as long
        as it lived, each page made private by it (uncacheable for shared caches, at a
        subdomain's will). So the first clear also expires the `Domain=` copies (see
        `_domain_copies`), and a value cleared before gets none: the copy that came back is one
        this host's clear cannot reach. Host-only copies at other paths stay: one below the
        site's path may be the decision of an app mounted there. Values are remembered by
        hash: a collision only spares a clear, and a long value costs no memory.
        """
        cleared = self._cleared
        fresh = False
        for value in values:
            key = hash(value)
            if key not in cleared:
                fresh = True
                if len(cleared) >= MAX_CLEARED_VALUES:
                    cleared.pop(next(iter(cleared)))  # oldest first, as the other caches
                cleared[key] = None
        if not fresh:
            return
        secure = self._is_secure(scope)
        extra.append(site.clear[secure])
        if not setcookie.host_only(self.cookie_name):  # a __Host- cookie has no other copies
            extra.extend(self._domain_copies(scope, site, secure))

    def _domain_copies(self, scope: Scope, site: Site, secure: bool) -> list[bytes]:
        """Expiring Set-Cookies for the consent cookie at each domain enclosing the request's
        host and each path enclosing its path (bounded: `setcookie.enclosing_domains` and
        `enclosing_paths`); over https also in the partitioned jar. No cookiewall sets a
        `Domain=` consent cookie, so none of these is another app's decision."""
        domains = setcookie.enclosing_domains(_header(scope, b"host") or "")
        if not domains:
            return []
        paths = setcookie.enclosing_paths(browser_path(scope, site.root))
        name = self.cookie_name
        headers: list[bytes] = []
        for domain in domains:
            for path in paths:
                headers.append(setcookie.deletion(name, path=path, domain=domain, secure=secure))
                if secure:
                    headers.append(
                        setcookie.deletion(
                            name, path=path, domain=domain, secure=True, partitioned=True
                        )
                    )
        return headers

    def _gate(
        self, scope: Scope, send: Send, consent: Consent, site: Site, extra: list[bytes]
    ) -> tuple[Send, Callable[[], Awaitable[None] | None] | None]:
        """The app's `send` on this path, and for a response it may hold (an undecided
        visitor's page) a function that says what to await once the app has returned: None
        when nothing is held any more, as is usual."""
        is_head = scope["method"] == "HEAD"
        state = scope["state"]
        inject_for = not consent.decided and not is_head
        # HEAD gets no body to inject into, but GET would get the banner: the headers say what
        # GET's would (`_banner_page_headers`), with no length, as the app's is not GET's.
        unknown_length = not consent.decided and is_head
        html_varies = self.inject_banner
        held: Message | None = None
        buffered: list[bytes] = []
        buffered_size = 0  # what `buffered` holds, in bytes, while held by Content-Length
        streamed: _StreamedPage | None = None  # a held page passed on as it comes

        async def send_gated(message: Message) -> None:
            nonlocal held, streamed, buffered_size
            kind = message["type"]
            if kind == "http.response.start":
                headers = message.get("headers") or []
                inner = state.get(INNER_GATE_STATE_KEY) if _several_gates else None
                answered = None if inner is None else self._inner_gate_answered(inner, message)
                own = extra
                if answered is not None:
                    # A mounted app's own gate sent this page: its banner, if any, is in.
                    gated = self._gated_beside(headers, consent, answered, site)
                    page_of_this_gate = False
                    if answered.gate.cookie_name == self.cookie_name:
                        # The consent value this gate could not verify is most likely the
                        # mount's own decision (sent below the mount): not this gate's to clear.
                        own = [value for value in extra if not setcookie.is_deletion(value)]
                else:
                    gated = self._gated(headers, consent)  # `headers` itself when all allowed
                    page_of_this_gate = html_varies
                changed = gated is not headers
                headers = gated
                if own:
                    # The gate's own Set-Cookie belongs to this visitor alone: a shared cache
                    # keeping it with a public response would hand it to everyone after.
                    headers = _private([*headers, *((b"set-cookie", v) for v in own)])
                    changed = True
                if page_of_this_gate and _is_html(headers):
                    headers = _private(headers, revalidate=True)
                    changed = True
                    if inject_for and _injectable(message, headers):
                        message["headers"] = headers
                        held = message  # until the body shows whether it can be rewritten
                        return
                    if inject_for and not self._warned_compressed and message.get("status") == 200:
                        self._warn_if_compressed(headers)
                    if unknown_length and _injectable(message, headers):
                        headers = self._banner_page_headers(headers, None)
                if changed:
                    message["headers"] = headers
                await send(message)
                return
            if held is None:
                await send(message)
                return
            if kind == "http.response.push":
                # Another response promised (HTTP/2 server push, RFC 9113 8.4): it says nothing
                # of this page's body and may precede its start. Passed on, the page stays held.
                await send(message)
                return
            if streamed is not None:
                if kind == "http.response.body":
                    if await streamed.body(
                        message.get("body", b""), message.get("more_body", False)
                    ):
                        held = streamed = None  # the rest passes as it comes
                    return
                # A file send or trailers after the page's start: it goes on as it came.
                await streamed.release()
                held = streamed = None
                await send(message)
                return
            if kind != "http.response.body":
                # A page the server is to send from a file (pathsend, zerocopy) is read here
                # when it is small enough to hold, so the banner goes in; else as it came.
                read = await _file_body(message, held, buffered) if kind in _FILE_SENDS else None
                if read is None:
                    await _release(send, held, buffered)
                    held = None
                    await send(message)
                    return
                message = read
            body = message.get("body", b"")
            more = message.get("more_body", False)
            if not more:
                buffered.append(body)
                start, held = held, None
                page = b"".join(buffered)
                buffered.clear()  # the pieces: else held beside the page and its banner copy
                await self._send_injected(scope, send, start, site, page, consent)
                return
            limit = _content_length(start_headers(held))
            if limit is not None and limit <= MAX_INJECT_BUFFER:
                buffered_size += len(body)
                if buffered_size <= limit:
                    # Copied unless bytes: an app may refill its bytearray once `send` returns.
                    buffered.append(body if type(body) is bytes else bytes(body))
                    return
                # Longer than its Content-Length said (a body rewritten inside the gate, its
                # length not): that length bounded what is held, so it is streamed from here.
                body = b"".join([*buffered, body])
                buffered.clear()
            # Streamed, with no small known length (or past it): never held back, the banner
            # goes in on the way. The Content-Length is dropped (see `_StreamedPage`).
            streamed = _StreamedPage(self, scope, send, held, site, consent)
            if await streamed.body(body, more):
                held = streamed = None

        if not (inject_for and html_varies):
            return send_gated, None  # nothing is ever held: no more functions to make

        def unfinished() -> Awaitable[None] | None:
            return None if held is None else finish()

        async def finish() -> None:
            # The app returned without its last `more_body=False`, which every server takes
            # as the end of the response: without the gate, a page sent whole reaches the
            # client whole. Held, it reached nobody and the server answered 500. A page
            # complete by its Content-Length gets the banner; a shorter one goes as far as it
            # came, cut off as it would be without the gate.
            nonlocal held, streamed
            start, held = held, None
            if start is None:
                return
            if streamed is not None:
                page, streamed = streamed, None
                await page.release()  # as far as it came, as a stream is without the gate
                return
            length = _content_length(start_headers(start))
            if length is not None and sum(map(len, buffered)) == length:
                await self._send_injected(scope, send, start, site, b"".join(buffered), consent)
            else:
                await _release(send, start, buffered)

        return send_gated, unfinished

    def _warn_if_compressed(self, headers: Sequence[tuple[bytes, bytes]]) -> None:
        """Say once that pages reach the gate compressed, so no visitor gets the banner.

        A compressing middleware inside the gate (`add_middleware(GZipMiddleware)` before
        `ConsentMiddleware`) compresses for every browser, while a test with curl (no
        Accept-Encoding) shows the banner: without this line the mistake goes unseen.
        """
        encoding = _encoding(headers)
        if encoding is None:
            return
        self._warned_compressed = True
        logger.warning(
            "cookiewall: an undecided visitor got an HTML page without the banner: it reached"
            " the gate already compressed (Content-Encoding: %s); put the compressing"
            " middleware outside ConsentMiddleware",
            encoding.decode("latin-1"),
        )

    def _gated(
        self, headers: list[tuple[bytes, bytes]], consent: Consent, *, http: bool = True
    ) -> list[tuple[bytes, bytes]]:
        """`headers` itself when every Set-Cookie in it is declared and allowed, else `_filter`.

        The fast answer covers what a consenting visitor's responses carry; anything else
        (a cookie to remove, an undeclared name to remember and log) takes `_filter`, so the
        outcome is the same either way. An HTTP response that sets a cookie of an optional
        category depends on the visitor's consent: it is made private (see `_private`).
        """
        granted = consent.granted
        required = self.policy.required_names
        categories = self._category_by_name
        deletions = self._category_by_deletion
        optional = shared = False
        for key, value in headers:
            if key != b"set-cookie" and (len(key) != 10 or key.lower() != b"set-cookie"):
                # The same pass notes whether the app offers the response to shared caches.
                # Every field that can is 13+ characters long and ends in "control": most
                # fields are skipped by their length or last letter, without a call.
                if len(key) > 12 and key[-1] in _L_OR_UPPER_L and not shared:
                    shared = _offers_to_shared_caches(key, value)
                continue
            # `partition` takes one argument without parsing a signature: half the time of
            # `find` and a slice (`bytes.find` parses its optional start and end).
            name_part, equals, _ = value.partition(b"=")
            # A remembered name has an '=' after it and no ';' in it (`_category_of` is asked
            # only then): found, it needs neither test.
            category = categories.get(name_part) if equals else None
            if category is None:
                # `find`, not `in`: `bytes in bytes` first tries the operand as an int and
                # raises and clears a TypeError inside CPython, ten times the instructions.
                if not equals or name_part.find(b";") >= 0:
                    # No name=value pair: a browser stores a nameless cookie, not `name_part`.
                    return self._filter(headers, consent, http=http)
                # A deletion remembered by its whole value (`_category_of`): its name is not,
                # so that a Set-Cookie that sets the cookie is still judged.
                category = deletions.get(value) or self._category_of(name_part, value)
            if category is None or category not in granted:
                return self._filter(headers, consent, http=http)
            # Private even when it is a deletion (which passes for everyone): not worth
            # parsing its attributes on the consenting visitor's path to tell.
            optional = optional or category not in required
        if optional and shared and http:
            return _private(headers)
        return headers

    def _category_of(self, name_part: bytes, value: bytes) -> str | None:
        # Everything before the first '=' decides the stored name (setcookie.cookie_name),
        # so the category found for one value holds for every value with the same prefix.
        name = setcookie.cookie_name(value)
        if not name or name == self.cookie_name:
            # Nameless (it may be sent back as the consent cookie) or the consent cookie
            # itself: `_filter` decides, whatever a rule says; not cached, both stay rare.
            return None
        rule = self.policy.rule_for(name)
        if rule is None:
            return None  # undeclared: `_filter` remembers it; not cached, it stays rare
        if rule.category not in self.policy.required_names and not self._judged_scope(rule, value):
            # A deletion: remembered by its value, which an app repeats as it is (a reset
            # page's `delete_cookie("theme")`), so that each response does not look up the
            # rule and parse the date again; the name waits for a Set-Cookie that sets it.
            deletions = self._category_by_deletion
            if len(deletions) >= _REMEMBERED_NAMES:
                deletions.pop(next(iter(deletions)))
            deletions[value] = rule.category
            return rule.category
        cache = self._category_by_name
        if len(cache) >= _REMEMBERED_NAMES:
            cache.pop(next(iter(cache)))
        cache[name_part] = rule.category
        return rule.category

    def _judged_scope(self, rule: CookieRule, value: bytes) -> bool:
        """Warn once per rule when an optional cookie's Set-Cookie puts it at a `Path` or
        `Domain` other than its rule's; False for a deletion, which sets nothing to judge.

        A withdrawal (and a decision that takes a category back) expires the cookie where
        its rule says it lives, and at "/" too if the browser sends it to the consent
        endpoint (endpoints._carried_copies): an app's `set_cookie("ad_id", ...)` writes
        Path=/, and a rule of `path="/shop"` leaves that copy with a visitor who withdrew on
        a page where the browser did not send it. Judged at the first Set-Cookie of a name
        (the category is cached from then: the consenting visitor's path parses no
        attributes), never logging the value, nor the app's path (it can name an account,
        `/u/jane@example.com`). A Set-Cookie without Path (the default path: the page's
        folder) is not judged: every framework's `set_cookie` writes one."""
        if rule.pattern in self._warned_scope:
            return True  # said for the rule already: nothing left to tell
        if setcookie.is_deletion(value):
            return False
        path, domain = setcookie.scope(value)
        wanted = rule.domain.removeprefix(".").lower() if rule.domain else None
        # Host-only is covered either way: a rule's domain gets a host-only deletion too.
        reached = domain is None or domain == wanted
        if (path is None or path == rule.path) and reached:
            return True
        # Once a rule: a pattern rule's names (`ad_<campaign>`) may be new on every request.
        self._warned_scope[rule.pattern] = None
        reach = (
            "expires it there only when the browser sends it to a consent endpoint outside"
            " the rule's path"
            if path == "/" and reached
            else "cannot expire it there"
        )
        logger.warning(
            "cookiewall: the app sets a cookie of rule %r at %s, but the rule says %s: a"
            " withdrawal %s; give the rule the path and domain the app uses",
            rule.pattern,
            _where(_shown_path(path, rule.path), domain),
            _where(f"Path={rule.path}", wanted),
            reach,
        )
        return True

    async def _send_injected(
        self, scope: Scope, send: Send, start: Message, site: Site, body: bytes, consent: Consent
    ) -> None:
        headers = start_headers(start)
        snippet = self._page_snippet(scope, site, headers, body, consent)
        new_body = None if snippet is None else inject(body, snippet)
        if new_body is not None:
            body = new_body
            start["headers"] = self._banner_page_headers(headers, str(len(body)).encode())
        await send(start)
        await send({"type": "http.response.body", "body": body, "more_body": False})

    def _page_snippet(
        self,
        scope: Scope,
        site: Site,
        headers: Sequence[tuple[bytes, bytes]],
        page_start: bytes,
        consent: Consent,
    ) -> bytes | None:
        """The banner, as bytes of the page (whose start, for its `<meta>` CSP, is
        `page_start`); None when the page's charset cannot carry it: the page stays as it is."""
        charset = _charset(headers)
        if charset is None:
            return None
        if self._page_language:
            # The page's <meta> policies and its <html lang>, in one reading of its head.
            policies, named = head_policies_and_language(page_start)
            language = self._banner_language(scope, named)
            nonces = _csp_nonces(headers, policies)
        else:  # the <meta> policies read only if the headers leave a nonce to find
            language = self.banner.language_for(_header(scope, b"accept-language"))
            nonces = _csp_nonces(headers, meta_policies(page_start))
        next_path = safe_next(_current_path(scope, site.root), site.root)
        try:
            # The consent: a category GPC refuses is shown so, as /consent/banner does.
            # The page's CSP nonces: a strict CSP blocks a script or stylesheet without.
            return site.banner.snippet(language, next_path, consent, nonces).encode(
                charset, "xmlcharrefreplace"
            )
        except UnicodeError:  # a codec without that error handler (idna)
            return None

    def _banner_language(self, scope: Scope, page_language: str | None) -> str:
        """With `banner_language="page"`, the injected banner's language: the page's own
        (its <html lang>, read from the start kept for its <meta> CSP) when the policy has
        texts for it, else the visitor's Accept-Language.

        Caches need nothing more: the page is the same for every visitor of its URL (or
        varies as the app says), and the fallback is Accept-Language, which the page's Vary
        already names (`_banner_page_headers`)."""
        named = self.banner.language_named(page_language)
        if named is not None:
            return named
        return self.banner.language_for(_header(scope, b"accept-language"))

    def _banner_page_headers(
        self, headers: Sequence[tuple[bytes, bytes]], length: bytes | None
    ) -> list[tuple[bytes, bytes]]:
        """The app's start `headers` made true of the page with the banner, whose length is
        `length`; None for a HEAD, which does not know it (RFC 9110 8.6: then none at all).

        HEAD gets the same as GET (RFC 9110 9.3.2): with the app's validators, a HEAD-then-GET
        client (a link checker, a cache) would take the page with the banner for the app's.
        """
        # The app's validators and digests describe the page without the banner: kept,
        # a revalidation after the visitor decides would get 304 and show the banner again.
        rewritten: list[tuple[bytes, bytes]] = []
        for key, value in headers:
            lowered = key.lower()
            if lowered in _ABOUT_THE_APPS_BODY or lowered == b"accept-ranges":
                continue
            if lowered == b"content-length":
                if length is None:
                    continue
                value = length
            elif lowered == b"vary":  # there is one: the page went through `_private`
                # The banner is in the visitor's language and notes their GPC signal: a
                # cache keyed on Cookie alone would show whoever asked first's banner.
                value = _with_vary(value, b"Accept-Language")
                value = _with_vary(value, b"Sec-GPC")
                if self.honor_dnt:
                    value = _with_vary(value, b"DNT")
            rewritten.append((key, value))
        # A byte range would be the app's page: a client resuming this one (`wget -c`, a
        # download manager; no If-Range, as the page has no validators) would join the two
        # pages' bytes. Absence says nothing (RFC 9110 14.3); `none` advises against it.
        rewritten.append((b"accept-ranges", b"none"))
        return rewritten

    def _filter(
        self, headers: list[tuple[bytes, bytes]], consent: Consent, *, http: bool = True
    ) -> list[tuple[bytes, bytes]]:
        kept, removed, undeclared = setcookie.filter_headers(
            headers, consent.granted, self.policy, reserved=self.cookie_name
        )
        if consent.granted != self.policy.required_names:
            # An optional cookie kept that `_gated` did not reach (a header before it sent the
            # response here): judged and remembered as it would have been there, once a name
            # (`_category_of`, `_judged_scope`). Skipped for a visitor who allows no optional
            # category, the common slow path: what they keep (necessary cookies, deletions)
            # is never judged.
            remembered = self._category_by_name
            for key, value in kept:
                if key != b"set-cookie" and key.lower() != b"set-cookie":
                    continue
                name_part, equals, _ = value.partition(b"=")
                if (
                    equals
                    and name_part not in remembered
                    and value not in self._category_by_deletion
                    and name_part.find(b";") < 0
                ):
                    self._category_of(name_part, value)
        # Names as published and logged: a part that names one account (`wp-settings-1337`)
        # masked (see cookiewall.cookienames), so that the public declaration and the log
        # tell nobody which accounts exist, and per-user names are one entry, not a thousand.
        for undeclared_name in undeclared:
            if not setcookie.cookie_name_ok(undeclared_name):
                continue
            name = shown_name(undeclared_name)
            if name not in self.undeclared and len(self.undeclared) < _REMEMBERED_NAMES:
                self.undeclared[name] = None
                logger.warning("cookiewall: cookie %r matches no rule of the policy", name)
        for removed_name in removed:
            self.stats["removed_cookies"] += 1
            # The consent cookie's own name is the site's configuration, kept as it is: an
            # app cookie that masks alike (`consent_99999` for `consent_2024`) must not take
            # its place and swallow the warning below.
            name = removed_name if removed_name == self.cookie_name else shown_name(removed_name)
            count = self.removed_by_name.get(name)
            if count is not None:
                self.removed_by_name[name] = count + 1
            elif len(self.removed_by_name) < _REMEMBERED_NAMES:
                self.removed_by_name[name] = 1
                if removed_name == self.cookie_name:
                    logger.warning(
                        "cookiewall: removed the app's Set-Cookie for the consent cookie %r"
                        " (only the consent endpoints set it)",
                        removed_name,
                    )
                else:
                    logger.info("cookiewall: removed Set-Cookie %r (no consent for it)", name)
        if http and _shared_cacheable(headers) and self._consent_decides(headers):
            # Kept for one visitor, removed for another: a shared copy would set a tracking
            # cookie for visitors who refused it, or withhold it from those who agreed.
            return _private(kept)
        return kept

    async def _again_with_bytes_headers(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Serve the request again with its headers as bytes, if they were bytes-like (a server
        that builds names or values as bytearray; ASGI says bytes); False if they were not."""
        conformant = _bytes_headers(scope["headers"])
        if conformant is None:
            return False
        scope["headers"] = conformant
        await self(scope, receive, send)
        return True

    def _consent_decides(self, headers: list[tuple[bytes, bytes]]) -> bool:
        """True when a Set-Cookie in `headers` passes for some visitors and not for others:
        a cookie of an optional category, other than a deletion (which always passes)."""
        optional = self.policy.optional_names
        for key, value in headers:
            if key.lower() != b"set-cookie":
                continue
            # A nameless cookie counts as the one it is sent back as (`=ad_id=1` as ad_id).
            name = setcookie.cookie_name(value) or setcookie.nameless_alias(value)
            if not name or name == self.cookie_name:
                continue  # the consent cookie: the app's Set-Cookie for it never passes
            rule = self.policy.rule_for(name)
            if rule is not None and rule.category in optional and not setcookie.is_deletion(value):
                return True
        return False

    async def _serve(
        self,
        handler: Callable[[Request], Awaitable[Reply]],
        scope: Scope,
        receive: Receive,
        send: Send,
        consent: Consent,
        secure: bool,
        site: Site,
        extra: list[bytes],
    ) -> None:
        fields: dict[str, list[str]] = {}
        for key, value in scope["headers"]:
            fields.setdefault(key.decode("latin-1").lower(), []).append(value.decode("latin-1"))
        # A repeated field is one list (RFC 9110 5.3), never the last copy alone: a second
        # Origin or Sec-Fetch-Site must not outvote the first. Cookie fields join with "; "
        # (RFC 6265 5.4). Each is joined once: `+=` per copy was quadratic in the copies.
        headers = {
            name: ("; " if name == "cookie" else ", ").join(values)
            for name, values in fields.items()
        }
        if not secure and self.secure is None and not self._warned_proxy_scheme:
            self._warn_unread_proxy_scheme(headers)
        request = Request(dict(scope), receive, consent, secure, site, headers)
        reply = await handler(request)
        response_headers = list(reply.headers)
        if reply.content_type is not None:
            response_headers.append((b"content-type", reply.content_type.encode()))
            # Said by the type alone: a JSON answer (the state, an error, the declaration)
            # is never run as a script or stylesheet from another page, nor sniffed as HTML.
            if not any(key == _NOSNIFF[0] for key, _ in response_headers):
                response_headers.append(_NOSNIFF)
        if reply.status != 304:  # a 304's Content-Length would have to be the 200's (RFC 9110)
            response_headers.append((b"content-length", str(len(reply.body)).encode()))
        if extra and not reply.sets_consent_cookie:
            response_headers = _private(response_headers)  # as in `_gate`: never shared
            response_headers.extend((b"set-cookie", v) for v in extra)
        await send(
            {"type": "http.response.start", "status": reply.status, "headers": response_headers}
        )
        body = b"" if scope["method"] == "HEAD" else reply.body
        await send({"type": "http.response.body", "body": body, "more_body": False})


def _claims_https(headers: dict[str, str]) -> bool:
    """Whether the request says it reached a proxy over https: an `X-Forwarded-Proto` list
    or a Forwarded element (any hop, as either header may list several) naming https."""
    said = headers.get("x-forwarded-proto", "").split(",")
    if any(part.strip().lower() == "https" for part in said):
        return True
    forwarded = headers.get("forwarded", "")
    # Parsed only when it could name the scheme: a long field costs a scan by character.
    return "proto" in forwarded.lower() and any(
        name == "proto" and value.lower() == "https" for name, value in _forwarded_pairs(forwarded)
    )


def _forwarded_pairs(field: str) -> Iterable[tuple[str, str]]:
    """The (lowercased name, unquoted value) pairs of a Forwarded field (RFC 7239 4):
    comma-separated elements of semicolon-separated pairs, a value a token or a quoted string,
    in which `,`, `;` and `=` are plain characters. Parsed, never searched: `xproto=https` or
    `for="_proto=https"` say nothing of the scheme."""
    pieces: list[str] = []
    piece: list[str] = []
    quoted = escaped = False
    for char in field:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char in ",;" and not quoted:
            pieces.append("".join(piece))
            piece = []
            continue
        piece.append(char)
    pieces.append("".join(piece))
    for pair in pieces:
        name, equals, value = pair.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        if equals:
            yield name.strip().lower(), value


def _count_gate() -> None:
    """Count a gate being built (see `_several_gates`): under a lock, as apps may be built
    on several threads at once and a lost count would hide a second gate."""
    global _gates_built, _several_gates
    with _gates_built_lock:
        _gates_built += 1
        if _gates_built > 1:
            _several_gates = True


class _InnerGateReport:
    """What a gate inside another sent (see `ConsentMiddleware._reporting_to_outer_gate`): the
    gate, its root for this request (its mount's public path, "" at the host's root), and of
    its response start (None until it sends one) the Set-Cookie values, status and
    Content-Type."""

    __slots__ = ("content_type", "gate", "root", "set_cookies", "status")

    def __init__(self, gate: ConsentMiddleware, root: str) -> None:
        self.gate = gate
        self.root = root
        self.set_cookies: list[bytes] | None = None
        self.status: object = None
        self.content_type: bytes | None = None


def _where(path: str, domain: str | None) -> str:
    """A cookie's place as a log line says it: `Path=/shop`, then its domain or host-only."""
    return f"{path}, Domain={domain}" if domain else f"{path}, host-only"


def _shown_path(path: str | None, rule_path: str) -> str:
    """An app's cookie `Path` as a log line may say it: "/" and the rule's own (the policy's
    words), any other only as that: a path can name an account (`/u/jane@example.com`)."""
    if path is None:
        return "no Path (the page's folder)"
    if path in ("/", rule_path):
        return f"Path={path}"
    return "a Path other than / (not logged)"


def _confined_below(value: bytes, mount: str) -> bool:
    """Whether a browser keeps this Set-Cookie for paths at or below `mount` alone (whole
    segments: `/shopping` is not below `/shop`), host-only: a `Path` at or below it, and no
    `Domain`, which would send it to every subdomain.

    Read as strictly as any browser could: every `Path` must be inside (RFC 6265 takes the
    last, and browsers skip one over 1024 octets, falling back to an earlier one); none is
    outside too, as the default path depends on the URL the browser asked for (a proxy may
    have rewritten it; at `/shop` itself it is `/`). Paths are matched as browsers match
    them, octet by octet: another case or percent-encoding of the mount (`/Shop`, `/%73hop`)
    is outside, and so is one whose decoded segments step out of it (`/shop/%2e%2e/`)."""
    below = mount.encode("latin-1")
    found = False
    for attribute in value.split(b";")[1:]:
        key, _, raw = attribute.partition(b"=")
        key = key.strip(b" \t").lower()
        if key == b"domain":
            return False
        if key != b"path":
            continue
        path = raw.strip(b" \t")
        if len(path) > setcookie.MAX_ATTRIBUTE_VALUE:
            return False
        if path != below and not path.startswith(below + b"/"):
            return False
        segments = urllib.parse.unquote_to_bytes(path[len(below) :]).split(b"/")
        if b"." in segments or b".." in segments:
            return False
        found = True
    return found


class _StreamedPage:
    """An undecided visitor's HTML page in several body messages without a small known
    Content-Length (a template's `generate()`, a `StreamingResponse`, a page that flushes its
    head early): passed on as it comes, with the banner put in on the way.

    Its first bytes tell a whole document from a fragment (`document_start`, the rule a held
    page follows); a fragment, or a page whose charset cannot carry the banner, goes on as it
    came. A document's start goes on at once, made true of the page with the banner as a held
    page's is (no Content-Length, validators or digests; `Accept-Ranges: none`; `Vary`), and
    each piece goes on as it comes, less what `BodyEndScanner` holds back: from where the
    banner may still go (the last real </body> so far, in the usual page) to the end. The
    page's end puts the banner where `inject` puts it in the whole page.

    What is held is bounded by MAX_INJECT_BUFFER, as a held page is: a page that goes on for
    that long after its last real </body> (a "forever frame" that pushes scripts for as long
    as the visitor stays) gets the banner before that </body> at once and the rest passes,
    so its visitor still can decide; one that holds that much with no real </body> yet (a
    long <textarea>, <script> of data, or comment, still open) lets it go on and reads on:
    the banner goes at a later real </body> (`BodyEndScanner.forgo_held`).
    A Content-Length above the bound, which a held page keeps (and so passed with no banner),
    is dropped: the visitor can decide on large pages too, at the cost of a length the client
    could show progress by. A page that ends early (the app returns or raises without its
    last message) goes on as far as it came, as it would without the gate.
    """

    __slots__ = (
        "_consent",
        "_first",
        "_gate",
        "_head",
        "_head_check",
        "_head_size",
        "_scanner",
        "_scope",
        "_send",
        "_site",
        "_start",
    )

    def __init__(
        self,
        gate: ConsentMiddleware,
        scope: Scope,
        send: Send,
        start: Message,
        site: Site,
        consent: Consent,
    ) -> None:
        self._gate = gate
        self._scope = scope
        self._send = send
        self._start = start  # not sent until the first bytes tell what the page is
        self._site = site
        self._consent = consent
        self._first = b""  # the page until then
        # Its first bytes, for the nonces of its <meta> CSP: the app's pieces, which the
        # scanner may hold too (a long inline style), not a copy of them.
        self._head: list[bytes | memoryview] = []
        self._head_size = 0
        self._head_check = _STREAMED_HEAD_KEPT  # kept up to this, then to its end; 0: done
        self._scanner: BodyEndScanner | None = None

    async def body(self, body: bytes, more: bool) -> bool:
        """Pass on one body message's bytes; True once the rest can pass as it comes."""
        if type(body) is not bytes:
            body = bytes(body)  # a bytearray the app may fill again: kept here, so copied
        scanner = self._scanner
        if scanner is None:
            return await self._begin(body, more)
        if self._head_check:
            self._keep_head(body)
        ready = scanner.feed(body)
        if not more:
            snippet = self._snippet()
            ready += scanner.release() if snippet is None else scanner.finish(snippet)
            await self._send_body(ready, more=False)
            return True
        if scanner.held > MAX_INJECT_BUFFER:
            if not scanner.has_body_end:
                # A long text element (a <textarea>, a <script> of data) is open: it goes
                # on, and the banner goes at a later real </body>.
                await self._send_body(ready + scanner.forgo_held(), more=True)
                return False
            snippet = self._snippet()
            ready += scanner.release() if snippet is None else scanner.insert_now(snippet)
            await self._send_body(ready, more=True)
            return True
        if ready:
            await self._send_body(ready, more=True)
        return False

    async def release(self) -> None:
        """The app is done without ending the page: what is held goes on as it came."""
        if self._scanner is None:
            await _release(self._send, self._start, [self._first] if self._first else [])
            return
        held = self._scanner.release()
        if held:
            await self._send_body(held, more=True)

    async def _begin(self, body: bytes, more: bool) -> bool:
        first = self._first = self._first + body
        is_document = document_start(first, complete=not more)
        if is_document is None:
            return False  # hold on: the start and a few bytes, at most 4 KiB
        start = self._start
        headers = start_headers(start)
        if not is_document or not _can_carry_snippet(headers):
            await self._send(start)  # as a held page's: Vary and private, nothing else
            await self._send_body(first, more=more)
            return True
        gate = self._gate
        if not more:  # all of it came before the first bytes could tell: a held page
            await gate._send_injected(
                self._scope, self._send, start, self._site, first, self._consent
            )
            return True
        start["headers"] = gate._banner_page_headers(headers, None)
        await self._send(start)
        self._scanner = BodyEndScanner()
        self._first = b""
        return await self.body(first, more=True)

    def _keep_head(self, body: bytes) -> None:
        """Keep the page's start up to its head's end: a <meta> policy after a long inline
        style or script would be missed, or read cut (another nonce), and the page's CSP
        would block the banner. Read again each time the kept bytes double: linear, however
        the page is cut. At most MAX_INJECT_BUFFER: a head that long stays unread past it."""
        room = MAX_INJECT_BUFFER - self._head_size
        self._head.append(body if len(body) <= room else memoryview(body)[:room])
        self._head_size += min(len(body), room)
        if self._head_size < self._head_check:
            return
        head = b"".join(self._head)  # for this reading only: the pieces stay as they are
        end = meta_head_end(head)
        if end >= 0 or len(head) >= MAX_INJECT_BUFFER:
            self._head = []  # the pieces go before the head is cut from them: never twice
            self._head = [head[:end] if 0 <= end < len(head) else head]  # the body has no policy
            self._head_check = 0
        else:
            self._head_check = 2 * len(head)

    def _snippet(self) -> bytes | None:
        headers = start_headers(self._start)
        return self._gate._page_snippet(
            self._scope, self._site, headers, b"".join(self._head), self._consent
        )

    async def _send_body(self, body: bytes, *, more: bool) -> None:
        await self._send({"type": "http.response.body", "body": body, "more_body": more})


def _can_carry_snippet(headers: Sequence[tuple[bytes, bytes]]) -> bool:
    """Whether the page's charset can carry the banner (`_charset`, and the error handler
    the snippet is encoded with): a streamed page's start goes on before the banner is made."""
    charset = _charset(headers)
    if charset is None:
        return False
    try:
        "\u00e9".encode(charset, "xmlcharrefreplace")
    except UnicodeError:  # a codec without that error handler (idna)
        return False
    return True


def _check_option_types(
    cookie_name: object,
    path_prefix: object,
    secure: object,
    same_site: object,
    inject_banner: object,
    receipts: object,
) -> None:
    """ValueError for an option of the wrong type, before any check that would trip over it.

    Values read from the environment arrive as strings or None: `secure="false"` was truthy
    (every cookie Secure) and then a 500 on each request that cleared a bad consent cookie.
    """
    for option, value in (
        ("cookie_name", cookie_name),
        ("path_prefix", path_prefix),
        ("same_site", same_site),
    ):
        if not isinstance(value, str):
            raise ValueError(f"{option} must be a string, not {value!r}")
    if secure is not None and not isinstance(secure, bool):
        raise ValueError(
            f"secure must be None (Secure when the request is https), True or False, not {secure!r}"
        )
    if not isinstance(inject_banner, bool):
        raise ValueError(f"inject_banner must be True or False, not {inject_banner!r}")
    if receipts is not None and not isinstance(receipts, ReceiptLog):
        raise ValueError(
            f"receipts must be a cookiewall.ReceiptLog, such as ReceiptLog(path), or None;"
            f" not {receipts!r}"
        )


def _no_observer(scope: Scope, path: str, message: Message) -> None:
    raise AssertionError("observe_response without observed_path")  # never called: see __init__


_BYTES_LIKE = (bytes, bytearray, memoryview)


def _bytes_headers(headers: Iterable[Any]) -> list[tuple[bytes, bytes]] | None:
    """The request headers with bytes-like names and values (bytearray) as bytes; None when
    one is not a (name, value) pair of bytes-like objects."""
    conformant: list[tuple[bytes, bytes]] = []
    for pair in headers:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            return None
        name, value = pair
        if not isinstance(name, _BYTES_LIKE) or not isinstance(value, _BYTES_LIKE):
            return None
        conformant.append((bytes(name), bytes(value)))
    return conformant


def _single_value(cookie_header: bytes, name: bytes) -> str | None:
    """The consent cookie's value when the header names it once, found without a full parse.

    None when the name appears again after its value, is not followed at once by '=', or is
    not at the start of a cookie pair: `setcookie.request_cookie_values` then decides.
    """
    start = cookie_header.find(name)
    begin = start + len(name)
    if start < 0 or not cookie_header.startswith(b"=", begin):
        return None
    if start and cookie_header[:start].rstrip(b" \t")[-1:] != b";":
        return None  # inside another cookie's value, or the tail of a longer name
    end = cookie_header.find(b";", begin)
    if end < 0:
        raw = cookie_header[begin + 1 :]
    elif cookie_header.find(name, end) < 0:  # searched only past the value: the cheap part
        raw = cookie_header[begin + 1 : end]
    else:
        return None
    return raw.strip(b" \t").strip(b'"').decode("latin-1")


# Cache-Control directives by which the app decides how long a copy stays fresh.
_FRESHNESS = (b"max-age", b"no-cache", b"no-store")
_CONDITIONS = frozenset({b"if-none-match", b"if-modified-since"})
_PAGE_DESTINATIONS = frozenset({b"document", b"iframe", b"frame", b"fencedframe"})


def _unconditional_navigation(scope: Scope) -> None:
    """Drop the validators of an undecided visitor's page navigation, so the app sends the page.

    Pages with the banner carry no validators (see `_send_injected`), so a conditional page
    request from an undecided visitor names a copy cached while they had decided: before
    they withdrew, or under an older policy version. A 304 would show that copy, banner-less,
    and the new version would never ask. Images, scripts and other fetches keep their 304s.
    """
    headers = scope["headers"]
    if not any(key in _CONDITIONS for key, _ in headers):
        return
    destination = _find(headers, b"sec-fetch-dest")
    if destination is None:  # a browser without Fetch Metadata: a page asks for HTML first
        accept = _find(headers, b"accept") or b""
        navigation = accept.lstrip().lower().startswith(b"text/html")
    else:
        # The destinations of a page a visitor sees (the recorder counts the same ones).
        navigation = destination.strip().lower() in _PAGE_DESTINATIONS
    if navigation and scope["method"] == "GET":
        scope["headers"] = [(k, v) for k, v in headers if k not in _CONDITIONS]


def _csp_nonces(headers: Sequence[tuple[bytes, bytes]], meta: Iterable[bytes]) -> Nonces:
    """The nonces of the page's CSP (`banner.csp_nonces`), read only for a page being injected:
    its headers' first, then its own `<meta http-equiv>` policies, `meta` (if lazy, read only
    if still needed)."""
    enforced: list[bytes] = []
    report_only: list[bytes] = []
    for key, value in headers:
        lowered = key.lower()
        if lowered == b"content-security-policy":
            enforced.append(value)
        elif lowered == b"content-security-policy-report-only":
            report_only.append(value)
    return csp_nonces(itertools.chain(enforced, meta), report_only)


def start_headers(message: Message) -> list[tuple[bytes, bytes]]:
    headers: list[tuple[bytes, bytes]] = message.get("headers") or []
    return headers


def _find(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key == name or key.lower() == name:
            return value
    return None


def _is_html(headers: Sequence[tuple[bytes, bytes]]) -> bool:
    content_type = _find(headers, b"content-type")
    return content_type is not None and content_type.lstrip()[:9].lower() == b"text/html"


def _injectable(message: Message, headers: Sequence[tuple[bytes, bytes]]) -> bool:
    return message.get("status", 200) == 200 and _encoding(headers) is None


def _encoding(headers: Sequence[tuple[bytes, bytes]]) -> bytes | None:
    """The body's Content-Encoding; None when it is sent as it is (none, or identity)."""
    encoding = _find(headers, b"content-encoding")
    if encoding is None or encoding.strip().lower() in (b"", b"identity"):
        return None
    return encoding.strip()


def _content_length(headers: Sequence[tuple[bytes, bytes]]) -> int | None:
    value = _find(headers, b"content-length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def _shared_cacheable(headers: Sequence[tuple[bytes, bytes]]) -> bool:
    """Whether the app invites shared caches to store the response: `public` or `s-maxage`,
    or a field addressed to CDNs alone.

    Without one of these, shared caches do not store a response that sets a cookie (Varnish,
    nginx, Cloudflare and Fastly by default), so a consenting visitor's Set-Cookie needs no
    rewrite: the common case stays free.
    """
    return any(_offers_to_shared_caches(key, value) for key, value in headers if len(key) > 12)


def _offers_to_shared_caches(key: bytes, value: bytes) -> bool:
    """Whether this one field offers the response to shared caches (see `_shared_cacheable`)."""
    lowered = key.lower()
    if lowered == b"cache-control":
        directives = value.lower()
        return b"public" in directives or b"s-maxage" in directives
    return lowered.endswith((b"cdn-cache-control", b"surrogate-control"))


def _private(
    headers: list[tuple[bytes, bytes]], *, revalidate: bool = False
) -> list[tuple[bytes, bytes]]:
    """Mark a consent-dependent response: Vary: Cookie, and no shared cache may keep it.

    Cache-Control loses `public` and `s-maxage`; fields addressed to CDNs alone
    (CDN-Cache-Control, Cloudflare-CDN-Cache-Control, Surrogate-Control) are dropped.
    With `revalidate` (a page that shows the banner or not), `no-cache` is added when the
    app chose no freshness (max-age, Expires): a browser would otherwise keep the page
    fresh by heuristic (a tenth of its Last-Modified age, days for a static page) and show
    it without asking, banner-less after the visitor withdraws or the policy changes.
    Validators stay, so revalidation is one cheap 304.
    """
    result: list[tuple[bytes, bytes]] = []
    vary_done = False
    cache_at: int | None = None  # where Cache-Control sits in `result`
    explicit_freshness = False
    for key, value in headers:
        lowered = key.lower()
        if lowered == b"vary":
            tokens = [t.strip().lower() for t in value.split(b",")]
            if b"cookie" not in tokens and b"*" not in tokens:
                value = value + b", Cookie" if value.strip() else b"Cookie"
            vary_done = True
        elif lowered == b"cache-control":
            directives = [d.strip() for d in value.split(b",") if d.strip()]
            kept = [
                d
                for d in directives
                if d.lower() != b"public" and not d.lower().startswith(b"s-maxage")
            ]
            if not any(d.lower() in (b"private", b"no-store") for d in kept):
                kept.insert(0, b"private")
            if any(d.lower().startswith(_FRESHNESS) for d in kept):
                explicit_freshness = True
            value = b", ".join(kept)
            cache_at = len(result)
        elif lowered == b"expires":
            explicit_freshness = True
        elif lowered == b"surrogate-control" or lowered.endswith(b"cdn-cache-control"):
            # RFC 9213 and vendor fields: a CDN obeys these *instead of* Cache-Control.
            continue
        result.append((key, value))
    if not vary_done:
        result.append((b"vary", b"Cookie"))
    if cache_at is None:
        cache_at = len(result)
        result.append((b"cache-control", b"private"))
    if revalidate and not explicit_freshness:
        key, value = result[cache_at]
        result[cache_at] = (key, value + b", no-cache")
    return result


def _with_vary(value: bytes, field: bytes) -> bytes:
    """A Vary value that also names `field` (unchanged if it does, or is `*`)."""
    tokens = [t.strip().lower() for t in value.split(b",")]
    if field.lower() in tokens or b"*" in tokens:
        return value
    return value + b", " + field if value.strip() else field


# ASGI extensions by which an app has the server send the body from a file.
_FILE_SENDS = frozenset({"http.response.pathsend", "http.response.zerocopy"})


async def _file_body(message: Message, start: Message, buffered: list[bytes]) -> Message | None:
    """The `http.response.body` message a pathsend or zerocopy `message` of a held page stands
    for, when the page's Content-Length says it can be held (see MAX_INJECT_BUFFER); None when
    the server must send it as it is: a larger page, or a file that cannot be read (the server
    then reports that, as it would without the gate).

    Starlette's FileResponse and StaticFiles use pathsend whenever the server offers it
    (granian does): passed on, no page served from a file got the banner.
    """
    length = _content_length(start_headers(start))
    if length is None or length > MAX_INJECT_BUFFER:
        return None
    room = MAX_INJECT_BUFFER - sum(map(len, buffered))
    if message["type"] == "http.response.pathsend":
        read = functools.partial(_read_path, message.get("path"), room)
    else:
        read = functools.partial(_read_zerocopy, message, room)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # another event loop (trio): at most MAX_INJECT_BUFFER, read at once
        body = read()
    else:
        body = await loop.run_in_executor(None, read)
    if body is None:
        return None
    more = message["type"] == "http.response.zerocopy" and bool(message.get("more_body"))
    return {"type": "http.response.body", "body": body, "more_body": more}


def _read_path(path: object, room: int) -> bytes | None:
    """The whole file at `path` (pathsend), or None when it is larger than `room` or unreadable."""
    if not isinstance(path, str):
        return None
    try:
        with open(path, "rb") as file:
            body = file.read(room + 1)
    except OSError:
        return None
    return body if len(body) <= room else None


def _read_zerocopy(message: Message, room: int) -> bytes | None:
    """The bytes a zerocopy `message` sends (`count` from `offset`, else from the file's
    position, which then moves past them as the server's send would move it), or None when
    they are more than `room` or cannot be read; then nothing moved."""
    try:
        fd = message["file"].fileno()
        offset = message.get("offset")
        position = os.lseek(fd, 0, os.SEEK_CUR) if offset is None else offset
        count = message.get("count")
        if count is None:
            count = os.fstat(fd).st_size - position
        if not 0 <= count <= room:
            return None
        body = os.pread(fd, count, position)
        if offset is None:
            os.lseek(fd, position + len(body), os.SEEK_SET)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None  # not a file this process can read: the server's to report
    return body


async def _release(send: Send, start: Message, buffered: list[bytes]) -> None:
    await send(start)
    if buffered:
        await send({"type": "http.response.body", "body": b"".join(buffered), "more_body": True})
        buffered.clear()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            text: str = value.decode("latin-1")
            return text
    return None


def _charset(headers: Sequence[tuple[bytes, bytes]]) -> str | None:
    """The page's charset for the snippet: ASCII if none or unknown; None if unusable.

    None or unknown: the browser decides (a `<meta charset>`, else its locale's default), so
    the snippet is ASCII with character references, which every ASCII-compatible encoding
    reads alike (as UTF-8, "wählen" showed as "wÃ¤hlen" in a windows-1252 page).
    Unusable: a charset that does not write ASCII as ASCII, or adds a byte-order mark
    (utf-16, utf-8-sig, EBCDIC): the snippet would be garbage in the middle of the page.
    """
    content_type = (_find(headers, b"content-type") or b"").decode("latin-1").lower()
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip() == "charset":
            charset = value.strip().strip('"')
            try:
                ascii_compatible = "</body>".encode(charset) == b"</body>"
            except LookupError:
                break
            except UnicodeError:
                return None
            return charset if ascii_compatible else None
    return "ascii"


def _current_path(scope: Scope, root: str) -> str:
    """The page's URL path as the browser asked for it, root path and query included."""
    path = browser_path(scope, root)
    query = scope.get("query_string", b"")
    if query:
        path = f"{path}?{query.decode('latin-1')}"
    return path
