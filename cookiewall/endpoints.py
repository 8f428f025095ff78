"""The consent endpoints under `path_prefix`, and `/.well-known/gpc.json`.

An app served under a sub-path (ASGI `root_path`: a Starlette `Mount`, `uvicorn --root-path`)
gets a `Site` per root path: the routes as seen below that root, the banner rendered with the
URLs the browser can reach, and the consent cookie scoped to the root.

References:
* Global Privacy Control, section 4 (`/.well-known/gpc.json`): https://privacycg.github.io/gpc-spec/
* Fetch Metadata (`Sec-Fetch-Site`): https://www.w3.org/TR/fetch-metadata/
* RFC 6454 (the Origin of a request)
* ASGI HTTP scope, `root_path`: https://asgi.readthedocs.io/en/latest/specs/www.html
* WHATWG URL, single- and double-dot path segments (`.`, `%2e`, `..`, `.%2e`, `%2e.`, `%2e%2e`)
* Fetch, CORS-safelisted requests (no preflight) and `Cross-Origin-Resource-Policy`:
  https://fetch.spec.whatwg.org/
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import secrets
import time
import unicodedata
import zlib
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import quote, urlsplit

from itsdangerous.encoding import base64_decode

from cookiewall import setcookie
from cookiewall.banner import (
    COOKIE_LIST_TEXTS,
    DEFAULT_LANGUAGE,
    Banner,
    CookieListTexts,
    direction,
)
from cookiewall.consent import Consent, ConsentCodec
from cookiewall.consentmode import consent_mode, default_script
from cookiewall.decisions import (
    MAX_POLICY_VERSION,
    PostedDecision,
    parse_decision,
    read_body,
    well_formed_version,
)
from cookiewall.messages import ClientError, Reply, Request, Site, error, refused_form_texts
from cookiewall.origins import normal_origin, own_origin, referer_origin, trusted_origin
from cookiewall.policy import CookieRule, Policy
from cookiewall.receipts import ReceiptLog, is_receipt_id

logger = logging.getLogger("cookiewall")

MAX_NEXT = 2048
# The answers that state the visitor's choice (and GPC) are for the site's own pages, which
# load them from their own origin (under a mount too): no other origin may embed one. A page
# on a sibling subdomain is same-site, so the Lax consent cookie goes with its
# `<script src=".../consent-mode.js">`, and the script hands the choice to `window.dataLayer`,
# where that page reads it. JSON and HTML are refused as scripts already (nosniff, ORB): the
# header is there in case a browser ever reads them another way.
_OWN_ORIGIN_ONLY = (b"cross-origin-resource-policy", b"same-origin")
_PRIVATE = [(b"cache-control", b"private, no-store"), (b"vary", b"Cookie"), _OWN_ORIGIN_ONLY]
# The gate's HTML holds the decision forms: another site must not frame them and lure a click
# onto "Accept all" (clickjacking; the click is same-origin inside the frame, so it passes
# the CSRF check, and leaves a receipt). The site may still frame its own banner.
# `frame-ancestors` for current browsers, X-Frame-Options for those without CSP level 2.
_NOT_FRAMED_ELSEWHERE = [
    (b"content-security-policy", b"frame-ancestors 'self'"),
    (b"x-frame-options", b"SAMEORIGIN"),
]
MAX_SITES = 64  # root paths come from the server or the app's mounts: a handful, but bounded
MAX_ROOT_PATH = 1024
# Browsers keep at most 180 cookies per domain (Chromium; Firefox 150): a withdrawal expires
# no more of those the Cookie header names, or crafted names make it answer megabytes.
MAX_EXPIRED_COOKIES = 180
# The extra deletions at "/" for carried cookies whose rule says another path (see
# `_carried_copies`): one a cookie on average, so a crafted header of 180 registered names
# cannot make the answer grow by more than that.
MAX_EXPIRED_COPIES = MAX_EXPIRED_COOKIES
# Nor does one send a host more than those 180: names past the first 1,000 of a Cookie header
# are crafted, and each would cost a rule lookup (and evict the policy's cached matches).
MAX_REQUEST_COOKIES = 1000
# Consent cookie values looked up for the receipt a decision pairs with: each a dict lookup
# (the gate verified them), bounded all the same: the gate reads 16 that need a check.
_MAX_PAIRED_VALUES = 64
# An unknown category a decision names is echoed in the 400 answer up to this many characters:
# the longest a category name can be (policy._NAME), not a client's 64 KiB of them.
_MAX_SHOWN_NAME = 64
_MALFORMED_VERSION = (
    "policy_version must be a policy version: at most"
    f" {MAX_POLICY_VERSION} characters, none of them a control character"
)
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
_NO_SIGNAL = (
    "cross-site request refused: a form must carry this site's Origin or Referer"
    " (a client that is not a browser can post JSON)"
)
# Decisions honoured whatever policy version the banner they came from was shown under.
_REFUSALS = frozenset({"withdraw", "reject_all"})
SECONDS_PER_DAY = 86_400
MAX_COOKIE_BYTES = 4096  # a cookie's name and value, as browsers keep them (RFC 6265bis 5.6)
# RFC 3986 pchar without ';' and ',': a root path quoted with these is safe in a URL, in
# HTML once escaped, and as a cookie Path (RFC 6265 forbids ';' there; ',' is where some
# proxies fold Set-Cookie headers).
_ROOT_SAFE = "/-._~!$&'()*+=:@"
PATH_SAFE = "/!$&'()*+,;=:@~"  # RFC 3986 pchar and '/', left as they are in a URL path
# `.` and `..` path segments as a browser reads them (WHATWG URL: `%2e` is a dot there too).
_DOT_SEGMENTS = frozenset({".", "%2e", "..", ".%2e", "%2e.", "%2e%2e"})
# Printable ASCII but the space: what `safe_next` leaves as it is when it percent-encodes.
_NEXT_SAFE = "".join(chr(code) for code in range(0x21, 0x7F))
_URL_SYNTAX = frozenset("/\\.:@?#")
_IDNA_DOTS = frozenset("\u3002\uff0e\uff61")  # full stops that IDNA reads as "."
_JOINERS = frozenset("\u200c\u200d")  # ZWNJ, ZWJ: part of Persian or Indic words


def safe_next(value: str | None, root: str = "") -> str:
    """A same-site relative path to go back to; anything doubtful becomes `root + "/"`.

    Under a root path (`root`, public and without a trailing slash) the path must also stay
    below it: the consent cookie is scoped there.
    """
    home = f"{root}/"
    if not value or len(value) > MAX_NEXT:
        return home
    # No controls: browsers drop tabs and newlines from a URL (`/\t/host` is `//host`), and
    # CR/LF would end the Location header.
    if any(ch < " " or ch == "\x7f" for ch in value):
        return home
    if not value.isascii() or " " in value:
        if any(_looks_like_url_syntax(ch) for ch in value if not ch.isascii()):
            return home  # `/∕evil.example`, `/\u202e/moc.elgoog`: made to be misread
        # A page's path as Starlette's `request.url.path` gives it, decoded (`/café`, `/a b`):
        # encoded as the browser sent it, rather than losing the visitor's place.
        try:
            value = quote(value, safe=_NEXT_SAFE)
        except UnicodeEncodeError:  # a lone surrogate, from a JSON "\ud800"
            return home
        if len(value) > MAX_NEXT:
            return home
    # One leading slash, printable ASCII only: no //host, /\host.
    if value[0] != "/" or value[1:2] in ("/", "\\") or "\\" in value:
        return home
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return home
    # No `.` or `..` segment, in any spelling: the browser resolves them, so `/..//host` and
    # `/%2e//host` lead to the path `//host` on this site, which any redirect that writes the
    # path back as a relative Location (a trailing-slash redirect) turns into `//host`, another
    # site; under a root path, `..` climbs out of it. No page's own URL has one (browsers
    # resolve them before sending, and `location.pathname` never shows one), so only a link
    # made by hand can, and its visitor goes home.
    if any(segment.lower() in _DOT_SEGMENTS for segment in parts.path.split("/")):
        return home
    if root:
        rest = value[len(root) :] if value.startswith(root) else None
        if rest is None or rest[:1] not in ("", "/", "?", "#"):
            return home
    return value


def _looks_like_url_syntax(ch: str) -> bool:
    """A character that reads as a slash, backslash, dot, colon, @, ? or # (the fullwidth
    solidus, the division slash, IDNA's ideographic full stop...), or an invisible format
    character (bidi overrides and marks, zero-width spaces; the joiners some scripts spell
    words with aside): no page's path needs one, and a phishing link does."""
    if unicodedata.category(ch) == "Cf":
        return ch not in _JOINERS
    return (
        ch in _IDNA_DOTS
        or any(part in _URL_SYNTAX for part in unicodedata.normalize("NFKC", ch))
        or unicodedata.name(ch, "").endswith(("SOLIDUS", "SLASH"))
    )


def public_root(root_path: str) -> str | None:
    """`root_path` as the URL path the browser uses (no trailing slash); None if unusable."""
    root = root_path.rstrip("/")
    if len(root) > MAX_ROOT_PATH or not root.startswith("/") or "//" in root:
        return None
    if not all(ch.isprintable() for ch in root):
        return None
    return quote(root, safe=_ROOT_SAFE)


def route_path(path: str, root_path: str) -> str:
    """The path below `root_path`, whether or not the server left the root in `path`.

    Current servers (uvicorn, Starlette's Mount) keep it, as the ASGI spec says; older ones
    stripped it. Only a whole leading segment counts: `/shopping` is not under `/shop`.
    """
    if path.startswith(root_path):
        rest = path[len(root_path) :]
        if rest[:1] == "/" or not rest:
            return rest
        if root_path[-1] == "/":  # root_path "/shop/", path "/shop/consent"
            return path[len(root_path) - 1 :]
    return path


class ConsentEndpoints:
    def __init__(
        self,
        *,
        policy: Policy,
        codec: ConsentCodec,
        banner: Banner,
        receipts: ReceiptLog | None,
        cookie_name: str,
        path_prefix: str,
        same_site: str,
        undeclared: dict[str, None],
        stats: dict[str, int],
        trusted_origins: Iterable[str] = (),
    ) -> None:
        if isinstance(trusted_origins, str):
            raise ValueError(
                f"trusted_origins must be a list of origins, not one string ({trusted_origins!r})"
            )
        if not isinstance(trusted_origins, Iterable):
            raise ValueError(f"trusted_origins must be a list of origins, not {trusted_origins!r}")
        # Origins the browser uses that the Host the app sees cannot name (a proxy that
        # rewrites Host): accepted as the request's own, as written by `normal_origin`.
        self.trusted_origins = frozenset(trusted_origin(o) for o in trusted_origins)
        self.policy = policy
        self.codec = codec
        self.banner = banner
        self.receipts = receipts
        if receipts is not None and receipts.keep_for is None:
            receipts.keep_for = policy.consent_max_age  # what a receipt may have to prove
        self.cookie_name = cookie_name
        _check_cookie_fits(codec, policy, cookie_name)
        self.same_site = same_site
        self.undeclared = undeclared
        self.stats = stats
        self._categories = [
            {"name": c.name, "description": c.description, "required": c.required}
            for c in policy.categories
        ]
        # The versions a banner may have been shown under for its choice to count here.
        self._honoured = frozenset((policy.version, *policy.accepts_versions))
        gpc: dict[str, Any] = {"gpc": True}
        if policy.gpc_last_update is not None:
            gpc["lastUpdate"] = policy.gpc_last_update.isoformat()
        self._gpc_json = json.dumps(gpc).encode()
        self.path_prefix = path_prefix
        self.routes = self._routes(path_prefix)
        self.root_site = Site(
            root="",
            routes=self.routes,
            banner=banner.default,
            cookie_path="/",
            clear=(
                setcookie.deletion(cookie_name, secure=False),
                setcookie.deletion(cookie_name, secure=True),
            ),
        )
        self._sites: dict[str, Site] = {}

    def _routes(self, prefix: str) -> dict[str, Callable[[Request], Awaitable[Reply]]]:
        routes: dict[str, Callable[[Request], Awaitable[Reply]]] = {
            prefix: self.consent,
            f"{prefix}/banner": self.banner_fragment,
            f"{prefix}/cookies": self.declaration,
            f"{prefix}/static/banner.css": self.static_css,
            f"{prefix}/static/banner.js": self.static_js,
            # Only meaningful at the host's root, where the GPC spec looks for it; answered
            # below a mount too, so that a proxy may map the root's well-known URL there.
            "/.well-known/gpc.json": self.gpc,
        }
        if self.policy.consent_mode:  # only for a policy that maps Google's signals
            routes[f"{prefix}/consent-mode.js"] = self.consent_mode_js
        return routes

    def site(self, root_path: str) -> Site:
        """The Site for a request's `root_path`, rendered once and kept (a bounded cache)."""
        site = self._sites.get(root_path)
        if site is None:
            site = self._new_site(root_path)
            if len(self._sites) >= MAX_SITES:
                self._sites.pop(next(iter(self._sites)))
            self._sites[root_path] = site
        return site

    def _new_site(self, root_path: str) -> Site:
        root = public_root(root_path)
        if not root:
            return self.root_site  # "/" itself, or nothing a URL or cookie could carry
        prefix = self.path_prefix
        if prefix.startswith(f"{root}/"):
            # A path_prefix that already names the root (the way to mount cookiewall before
            # root_path was honoured): its URLs stay as they are.
            public_prefix, routes = prefix, self._routes(prefix[len(root) :])
        else:
            public_prefix, routes = root + prefix, self.routes
        return Site(
            root=root,
            routes=routes,
            banner=self.banner.markup(public_prefix),
            # A __Host- cookie exists only at Path=/ (see setcookie.build): say so.
            cookie_path="/" if setcookie.host_only(self.cookie_name) else root,
            clear=(
                setcookie.deletion(self.cookie_name, path=root, secure=False),
                setcookie.deletion(self.cookie_name, path=root, secure=True),
            ),
        )

    # -- GET/POST/DELETE /consent -----------------------------------------------------------

    async def consent(self, request: Request) -> Reply:
        method = request.method
        if method in ("GET", "HEAD"):
            return self._state_reply(request.consent)
        if method not in ("POST", "DELETE"):
            return _not_allowed("GET, HEAD, POST, DELETE")
        refusal = self._cross_site(request)
        if refusal is not None:
            if _form_navigation(request):
                # A visitor without JavaScript who clicked a banner button: a page, not JSON.
                return await self._refused_form_page(request, refusal)
            return refusal
        try:
            if method == "DELETE":
                return self._withdraw(request, is_form=False, next_path="/")
            body = await read_body(request)
            posted = parse_decision(request.headers.get("content-type", ""), body)
            action, categories, next_path, is_form, version = posted
            # A choice made on a banner shown under a version this host does not honour (a
            # deploy since; its text may have changed) is no consent to this one. Refusing is
            # never refused, whatever banner it came from: a withdrawal, and a "reject all",
            # which grants only what is required under any version (sending the visitor back
            # to a banner to refuse again would make refusing harder than accepting). A form's
            # categories mean nothing to either.
            refusing = action in _REFUSALS
            if not refusing and version is not None and version not in self._honoured:
                if not is_form and not well_formed_version(version):
                    raise ClientError(400, _MALFORMED_VERSION)
                return self._ask_again(request, posted)
            unknown = categories - self.policy.category_names
            if unknown and not (is_form and refusing):
                if is_form:
                    # A banner from before a deploy that dropped or renamed a category: the
                    # visitor did nothing wrong, and a raw JSON error page would strand them.
                    return self._ask_again(request, posted)
                raise ClientError(400, self._unknown_category(sorted(unknown)[0]))
        except ClientError as exc:
            return error(exc.status, exc.message)
        if action == "withdraw":
            return self._withdraw(request, is_form=is_form, next_path=next_path)
        if action == "accept_all":
            chosen = self.policy.category_names
        elif action == "reject_all":
            chosen = self.policy.required_names
        else:
            chosen = categories | self.policy.required_names
        if request.consent.gpc:
            # The banner shows the categories GPC refuses disabled, never as a choice: an
            # "accept all" or a "save" made then does not grant them. Stored, they would take
            # effect the day the signal is off (another browser profile, an extension off),
            # a consent the visitor was never asked for.
            chosen -= self.policy.gpc_opt_out_names
        # One clock read for the cookie and the receipt: an auditor pairing them by receipt
        # id expects the same second in both, which two reads straddling a second would break.
        value, decision = self.codec.new_decision(chosen, now=int(time.time()))
        consent = self.codec.decided(decision, request.consent.gpc)
        # The decision this one changes, if one was in force: its receipt is paired with this.
        self._receipt(
            decision.receipt_id,
            action,
            chosen,
            consent.gpc,
            when=datetime.fromtimestamp(decision.decided_at, UTC),
            replaces=self._receipt_to_pair(request),
        )
        cookie = setcookie.build(
            self.cookie_name,
            value,
            max_age=self.codec.max_age,
            path=request.site.cookie_path,
            secure=request.secure,
            same_site=self.same_site,
        )
        reply = self._answer(consent, is_form, next_path, request.site)
        reply.headers.append((b"set-cookie", cookie))
        # What this decision does not allow (a category taken back, or refused by GPC) must
        # not stay in the browser to be sent on every request: expired as a withdrawal does.
        if consent.granted != self.policy.category_names:
            for header in self._deletions(request, keep=consent.granted):
                reply.headers.append((b"set-cookie", header))
        return reply

    def _ask_again(self, request: Request, posted: PostedDecision) -> Reply:
        """The answer to a decision made on a banner that is not this policy's (another
        version, or a category it lacks): nothing decided, no receipt. A form goes back to
        its page, which shows the current banner; JSON gets 409 and the state in force."""
        if posted.is_form:
            return _back_to(posted.next_path, request.site)
        state = self.state(request.consent)
        state["error"] = (
            f"the policy changed (it is now version {self.policy.version}): nothing was"
            " decided; show the visitor the current banner"
        )
        return Reply(409, json.dumps(state).encode(), "application/json", list(_PRIVATE))

    def _unknown_category(self, name: str) -> str:
        """The 400 message for a decision naming a category the policy lacks: with the ones it
        has, as `Consent.allows` says, since a client's typo (`preference`) is the usual cause.
        The name is the client's own text: cut to the longest a category name can be."""
        shown = name if len(name) <= _MAX_SHOWN_NAME else name[:_MAX_SHOWN_NAME] + "..."
        known = ", ".join(sorted(self.policy.category_names))
        return f"unknown category: {shown} (this policy's categories: {known})"

    def _withdraw(self, request: Request, *, is_form: bool, next_path: str) -> Reply:
        receipt_id = secrets.token_urlsafe(12)
        consent = request.consent
        self._receipt(
            receipt_id,
            "withdraw",
            self.policy.required_names,
            consent.gpc,
            withdraws=self._receipt_to_pair(request),  # the decision this one ends
        )
        site = request.site
        reply = self._answer(self.codec.undecided(request.consent.gpc), is_form, next_path, site)
        reply.headers.append((b"set-cookie", site.clear[request.secure]))
        if site.cookie_path != "/":
            # A decision made before cookiewall honoured root_path lives at Path=/: a
            # withdrawal must not leave it behind to be read again.
            clear_root = self.root_site.clear[request.secure]
            reply.headers.append((b"set-cookie", clear_root))
        for header in self._consent_cookie_copies(request):
            reply.headers.append((b"set-cookie", header))
        for header in self._deletions(request, keep=self.policy.required_names):
            reply.headers.append((b"set-cookie", header))
        return reply

    def _receipt_to_pair(self, request: Request) -> str | None:
        """The receipt id a new decision or a withdrawal names (`replaces`, `withdraws`): the
        decision in force, else the newest the visitor's cookie holds that this host does not
        count (another policy version, a clock ahead: `ConsentCodec.kept`), which the new
        cookie or the withdrawal's clear ends on every host all the same. An audit pairs
        the two across hosts.

        The gate verified the cookie values of this request just before: looked up, not
        checked again; as many as the gate reads, from the end (see `_newest_decision`).
        """
        in_force = _receipt_in_force(request.consent)
        if in_force is not None:
            return in_force
        header = request.headers.get("cookie", "")
        values = setcookie.request_cookie_values(header, self.cookie_name)
        newest = None
        for value in list(dict.fromkeys(reversed(values)))[:_MAX_PAIRED_VALUES]:
            decision = self.codec.kept(value)
            if decision is not None and (newest is None or decision.decided_at > newest.decided_at):
                newest = decision
        if newest is None or not is_receipt_id(newest.receipt_id):
            return None
        return newest.receipt_id

    def _consent_cookie_copies(self, request: Request) -> list[bytes]:
        """Expiring Set-Cookies for the consent cookie everywhere else a browser could hold
        one that reaches this endpoint: each enclosing domain, each enclosing path.

        The gate sets its cookie host-only at the site's path, and a withdrawal expires that.
        But a sibling subdomain can plant one with `Domain=<parent>` or `Path=/consent` (a
        genuine "accept all" it minted for itself); the browser sends it here beside the
        visitor's own, and once the visitor's copy is gone it would be the decision in force:
        a withdrawal that left it would leave the visitor counted as accepting everything.
        Sent only when the request carries the consent cookie; never for a `__Host-` name,
        which browsers keep only host-only at Path=/ (no other copy can exist).
        """
        name = self.cookie_name
        header = request.headers.get("cookie", "")
        if setcookie.host_only(name) or not setcookie.request_cookie_values(header, name):
            return []
        secure = request.secure
        own = {request.site.cookie_path, "/"}  # host-only there: `Site.clear` and clear_root
        paths = setcookie.enclosing_paths(browser_path(request.scope, request.site.root))
        domains = setcookie.enclosing_domains(request.headers.get("host", ""))
        headers: list[bytes] = []
        for domain in (None, *domains):
            for path in paths:
                if domain is not None or path not in own:
                    headers.append(
                        setcookie.deletion(name, path=path, domain=domain, secure=secure)
                    )
                if secure:  # a partitioned (CHIPS) copy lives in a jar of its own
                    headers.append(
                        setcookie.deletion(
                            name, path=path, domain=domain, secure=True, partitioned=True
                        )
                    )
        return headers

    def _deletions(self, request: Request, *, keep: frozenset[str]) -> list[bytes]:
        """Expiring Set-Cookies for the registered cookies of every category not in `keep`:
        at the rule's path and domain, and, for a cookie the request carries, at "/" as well
        (`_carried_copies`)."""
        header = request.headers.get("cookie", "")
        carried = setcookie.request_cookie_names(header, limit=MAX_REQUEST_COOKIES)
        request_path = browser_path(request.scope, request.site.root)
        secure = request.secure
        # A cookie registered at a path this endpoint is not under (`path="/shop"`) never
        # reaches it, so the Cookie header cannot say whether the browser has it: expire it
        # anyway (harmless if absent). Patterns cannot be expanded into names that way.
        names = carried | {
            rule.pattern
            for rule in self.policy.cookies
            if not rule.is_pattern and not _path_matches(rule.path, request_path)
        }
        headers: list[bytes] = []
        copies: list[bytes] = []
        expired = 0
        for name in sorted(names):
            if name == self.cookie_name or not setcookie.cookie_name_ok(name):
                continue
            rule = self.policy.rule_for(name)
            if rule is None or rule.category in keep:
                continue
            expired += 1
            if expired > MAX_EXPIRED_COOKIES:
                break
            headers.extend(_expiring(name, rule.path, rule.domain, rule.partitioned, secure))
            if (
                name in carried
                and not _path_matches(rule.path, request_path)
                and len(copies) < MAX_EXPIRED_COPIES
            ):
                copies.extend(_carried_copies(name, rule, secure))
        # A `__Host-` name's rule deletion is host-only at "/" whatever its domain: said once.
        return list(dict.fromkeys([*headers, *copies[:MAX_EXPIRED_COPIES]]))

    def _answer(self, consent: Consent, is_form: bool, next_path: str, site: Site) -> Reply:
        reply = _back_to(next_path, site) if is_form else self._state_reply(consent)
        reply.sets_consent_cookie = True
        return reply

    def _receipt(
        self,
        receipt_id: str,
        action: str,
        granted: frozenset[str],
        gpc: bool,
        *,
        when: datetime | None = None,
        withdraws: str | None = None,
        replaces: str | None = None,
    ) -> None:
        if self.receipts is None:
            return
        try:
            self.receipts.record(
                receipt_id=receipt_id,
                action=action,
                policy_version=self.policy.version,
                granted=granted,
                gpc=gpc,
                when=when,
                withdraws=withdraws,
                replaces=replaces,
            )
        except OSError as exc:
            # The visitor's choice still takes effect; the operator must see the gap.
            self.stats["receipts_failed"] += 1
            reason = exc.strerror or type(exc).__name__
            logger.error("cookiewall: could not write consent receipt: %s", reason)

    def state(self, consent: Consent) -> dict[str, Any]:
        """The visitor's choice as page scripts read it (`GET /consent`, a decision's JSON).

        Never `consent.receipt_id`: the cookie is HttpOnly so that scripts cannot read it, and
        its receipt id is a random id kept for the decision's whole lifetime, "reject all"
        included: any script on the page (a widget, a tag loaded before consent) would get a
        stable per-browser identifier here. The server side keeps it (`Consent.receipt_id`).
        """
        state: dict[str, Any] = {
            "decided": consent.decided,
            "granted": sorted(consent.granted),
            "policy_version": self.policy.version,
            "gpc": consent.gpc,
            "summary": consent.summary,
            "categories": self._categories,
        }
        if self.policy.consent_mode:  # what the banner script hands to gtag("consent", "update")
            state["consent_mode"] = consent_mode(self.policy, consent)
        return state

    def _state_reply(self, consent: Consent) -> Reply:
        body = json.dumps(self.state(consent)).encode()
        return Reply(200, body, "application/json", list(_PRIVATE))

    def _cross_site(self, request: Request) -> Reply | None:
        fetch_sites = _fetch_sites(request)
        if fetch_sites == {"same-origin"}:
            # Only a browser sets Sec-Fetch-* (scripts cannot: a forbidden header name), and it
            # says same-origin only when every URL in the chain had the target's origin. That
            # holds behind a proxy that rewrites Host, where the Origin check below cannot
            # match. X-Forwarded-Host and Forwarded are not read: any client may send them.
            return None
        if "cross-site" in fetch_sites:
            # Even from a trusted origin: the browser worked this out from the page and the
            # URL it posted to, so that page is not this site at the address used (the app
            # reached under another name, or an origin listed by mistake). Its word outranks
            # the operator's list as it outranks the Host check.
            return error(403, "cross-site request refused")
        origin = request.headers.get("origin")
        if origin is None:
            # No Origin (an older browser, a privacy tool that strips it): the Referer, when
            # there is one, must name this origin (OWASP CSRF prevention, Referer check).
            referer = request.headers.get("referer")
            if referer is None:
                if _sendable_from_any_page(request):
                    # Not only a non-browser client: IE 11 and Firefox before 70 send no Origin
                    # with a form, nor Fetch Metadata, and an attacker's page with
                    # `Referrer-Policy: no-referrer` (or an extension) leaves out the Referer.
                    # A script posting a form can send JSON, which a page cannot send here.
                    return error(403, _NO_SIGNAL)
                return None
            origin = referer_origin(referer)
        if origin is None:
            return error(403, "cross-site request refused")
        origin = normal_origin(origin)
        # The operator's `trusted_origins` name what a Host rewritten by a proxy cannot.
        if origin != own_origin(request) and origin not in self.trusted_origins:
            return error(403, "cross-site request refused")
        return None

    async def _refused_form_page(self, request: Request, refusal: Reply) -> Reply:
        """`refusal` (a 403 that decided nothing) as a page in the visitor's language, saying
        the choice was not saved, with a link back to the form's `next` (made safe), else to
        the site's home. The body is read for `next` alone, as a decision's would be (capped):
        anything wrong with it only means the link goes home."""
        next_path = None
        try:
            body = await read_body(request)
            next_path = parse_decision(request.headers.get("content-type", ""), body).next_path
        except ClientError:
            pass
        site = request.site
        back = safe_next(next_path, site.root)
        language, words = refused_form_texts(self._language(request, request.query()))
        link = words["home"] if back == f"{site.root}/" else words["back"]
        body_html = (
            f'<p>{escape(words["reason"])}</p><p><a href="{escape(back)}">{escape(link)}</a></p>'
        )
        headers = [
            *(header for header in refusal.headers if header[0] == b"cache-control"),
            (b"content-language", language.encode()),
            *_NOT_FRAMED_ELSEWHERE,
            _OWN_ORIGIN_ONLY,
        ]
        page = _page(language, words["title"], body_html)
        return Reply(refusal.status, page.encode(), "text/html; charset=utf-8", headers)

    # -- banner, declaration, static files, GPC ---------------------------------------------

    async def banner_fragment(self, request: Request) -> Reply:
        if request.method not in ("GET", "HEAD"):
            return _not_allowed("GET, HEAD")
        query = request.query()
        language = self._language(request, query)
        markup = request.site.banner
        next_path = safe_next(query.get("next"), request.site.root)
        # A decided visitor reopening it ("change your choice") sees that choice ticked.
        fragment = markup.fragment(language, next_path, request.consent)
        if _navigated_to(request):
            # A browser opening the URL itself (a "change your choice" link) gets a page:
            # a language, a title and a main landmark, as any page must have.
            # `data-cookiewall-page`: the stylesheet lays the banner out in the page's flow
            # under the page's h1 (fixed at the foot of a blank page, half the screen high on
            # a phone, with its title twice, it was the in-page overlay with nothing to cover).
            title = str(self.banner.texts[language]["title"])
            head = f'<link rel="stylesheet" href="{escape(markup.css_url)}">'
            fragment = _page(
                language,
                title,
                fragment,
                head=head,
                body_attrs=" data-cookiewall-page",
                title_attrs=self.banner.marked(language, "title"),
            )
        headers = [
            (b"cache-control", b"private, no-store"),
            (b"vary", b"Cookie, Accept-Language, Sec-Fetch-Dest, Sec-GPC, DNT"),
            (b"content-language", language.encode()),
            *_NOT_FRAMED_ELSEWHERE,
            _OWN_ORIGIN_ONLY,
        ]
        return Reply(200, fragment.encode(), "text/html; charset=utf-8", headers)

    async def declaration(self, request: Request) -> Reply:
        if request.method not in ("GET", "HEAD"):
            return _not_allowed("GET, HEAD")
        query = request.query()
        output = query.get("format", "json")
        # No visitor's state here, but nothing another origin needs to embed either.
        headers = [(b"cache-control", b"no-cache"), _OWN_ORIGIN_ONLY]
        if output == "json":
            body = json.dumps(self.declaration_data(request.site)).encode()
            return Reply(200, body, "application/json", headers)
        if output == "html":
            # In the language of the banner whose "Cookie details" link leads here.
            language = self._language(request, query)
            texts = self.banner.cookie_list_texts(language)
            table = self.declaration_html(request.site, texts)
            if _navigated_to(request):  # the banner's "Cookie details" link lands here
                title = texts.words["caption"].format(version=self.policy.version)
                table = _page(
                    texts.language,
                    title,
                    _table_scroller(table, title),
                    head=_cookie_list_head(request.site.banner.css_url),
                    body_attrs=" data-cookiewall-page",
                    title_attrs=texts.marked("caption"),
                )
            headers.append((b"vary", b"Accept-Language, Sec-Fetch-Dest"))
            headers.append((b"content-language", texts.language.encode()))
            headers.extend(_NOT_FRAMED_ELSEWHERE)
            return Reply(200, table.encode(), "text/html; charset=utf-8", headers)
        return error(400, "format must be json or html")

    def _language(self, request: Request, query: dict[str, str]) -> str:
        """An HTML endpoint's language: the visitor's Accept-Language; for a banner in the
        page's language (whose links name it), the one the URL names (`?lang=fr`) first, if
        the policy has texts for it. The URL is a cache's key, and Vary names the rest.

        Only then: a banner that follows Accept-Language links to the list without `lang`,
        and a `/consent/banner?lang=fr` would link from a French banner to another list."""
        if self.banner.language_in_links:
            named = self.banner.language_named(query.get("lang"))
            if named is not None:
                return named
        return self.banner.language_for(request.headers.get("accept-language"))

    def declaration_data(self, site: Site | None = None) -> dict[str, Any]:
        seconds = self.codec.max_age  # the cookie's Max-Age, exactly
        categories = []
        for category in self.policy.categories:
            cookies = [
                {"name": r.pattern, "purpose": r.purpose, "domain": r.domain, "path": r.path}
                for r in self.policy.cookies
                if r.category == category.name
            ]
            categories.append(
                {
                    "name": category.name,
                    "description": category.description,
                    "required": category.required,
                    "gpc_opt_out": category.gpc_opt_out,
                    "consent_mode": list(category.consent_mode),
                    "cookies": cookies,
                }
            )
        return {
            "policy_version": self.policy.version,
            "consent_cookie": {
                "name": self.cookie_name,
                "purpose": COOKIE_LIST_TEXTS[DEFAULT_LANGUAGE]["consent_cookie"],
                "max_age_days": _days(seconds),
                "max_age_seconds": seconds,
                # Under a mount the cookie lives below it (see Site.cookie_path).
                "path": (site or self.root_site).cookie_path,
            },
            "categories": categories,
            "undeclared": sorted(self.undeclared),
        }

    def declaration_html(
        self, site: Site | None = None, texts: CookieListTexts | None = None
    ) -> str:
        """The declaration as a table, its words in `texts`' language (default English)."""
        data = self.declaration_data(site)
        texts = texts or self.banner.cookie_list_texts(DEFAULT_LANGUAGE)
        labels = texts.labels

        def word(key: str) -> _Cell:
            # Marked where it is in another language than the list's (see CookieListTexts).
            return texts.words[key], texts.marked(key)

        # The consent cookie needs no consent: it belongs with the required category, if the
        # policy has one (the name is the site's own choice), else it says what it is.
        required = [c.name for c in self.policy.categories if c.required]
        rows = [
            _row(
                (_label(labels, required[0]), "") if required else word("strictly_necessary"),
                (data["consent_cookie"]["name"], ""),
                word("consent_cookie"),
                word("host_only"),  # set without a Domain attribute
                (data["consent_cookie"]["path"], ""),
            )
        ]
        for category in data["categories"]:
            for cookie in category["cookies"]:
                rows.append(
                    _row(
                        (_label(labels, category["name"]), ""),
                        (cookie["name"], ""),
                        (cookie["purpose"], ""),
                        (cookie["domain"], "") if cookie["domain"] else word("host_only"),
                        (cookie["path"], ""),
                    )
                )
        unknown = word("unknown")  # an undeclared cookie's domain and path: none was seen
        for name in data["undeclared"]:
            rows.append(
                _row(word("undeclared"), (name, ""), word("undeclared_purpose"), unknown, unknown)
            )
        caption = texts.words["caption"].format(version=self.policy.version)
        columns = (word(key) for key in ("category", "cookie", "purpose", "domain", "path"))
        return (
            f'<table class="cookiewall-declaration" lang="{escape(texts.language)}"'
            f"{_rtl(texts.language)}>"
            f"<caption{texts.marked('caption')}>{escape(caption)}</caption><thead><tr>"
            + "".join(f'<th scope="col"{marked}>{escape(text)}</th>' for text, marked in columns)
            + f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )

    async def static_css(self, request: Request) -> Reply:
        return _static(request, self.banner.css, "text/css; charset=utf-8")

    async def static_js(self, request: Request) -> Reply:
        return _static(request, self.banner.js, "text/javascript; charset=utf-8")

    async def consent_mode_js(self, request: Request) -> Reply:
        if request.method not in ("GET", "HEAD"):
            return _not_allowed("GET, HEAD")
        headers = [
            # Per visitor (the cookie, and GPC/DNT): no cache may keep or share it.
            (b"cache-control", b"private, no-store"),
            (b"vary", b"Cookie, Sec-GPC, DNT, Sec-Fetch-Site"),
            (b"x-content-type-options", b"nosniff"),
            _OWN_ORIGIN_ONLY,
        ]
        consent = request.consent
        if _fetch_sites(request) - {"same-origin", ""}:
            # A page of another origin (a browser too old for the header above): it gets the
            # defaults of a visitor who has not decided, never this visitor's choice. Without
            # Fetch Metadata (no header at all) the choice is served, as to the site's pages.
            consent = self.codec.undecided(consent.gpc)
        body = default_script(self.policy, consent)
        return Reply(200, body, "text/javascript; charset=utf-8", headers)

    async def gpc(self, request: Request) -> Reply:
        if request.method not in ("GET", "HEAD"):
            return _not_allowed("GET, HEAD")
        headers = [(b"cache-control", b"public, max-age=86400")]
        return Reply(200, self._gpc_json, "application/json", headers)


def _fetch_sites(request: Request) -> set[str]:
    """The request's `Sec-Fetch-Site` values, lower case; {""} without one. A repeated field
    arrives joined (`Request.headers`): a caller needs every copy to agree."""
    header = request.headers.get("sec-fetch-site", "")
    return {part.strip().lower() for part in header.split(",")}


def _sendable_from_any_page(request: Request) -> bool:
    """True for a decision any page of any site can make a browser send without a CORS
    preflight: a POST of a form, urlencoded or multipart (read as `parse_decision` reads the
    type). JSON and DELETE need a preflight, which the gate never grants, so no page of
    another origin can send them; any other body type decides nothing (415)."""
    if request.method != "POST":
        return False
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media_type in _FORM_TYPES


def _form_navigation(request: Request) -> bool:
    """True for a form a browser posts as a navigation (a banner button clicked without
    JavaScript), whose answer the visitor sees as a page: `Sec-Fetch-Mode: navigate`, or,
    from a browser that sends no Fetch Metadata (any on a plain-HTTP site, older ones
    anywhere), an `Accept` that asks for HTML, as a navigation's does. banner.js and other
    scripts ask for `application/json` (a `fetch` sends `*/*` unless told), and their mode is
    `cors` or `same-origin`."""
    if not _sendable_from_any_page(request):
        return False
    mode = request.headers.get("sec-fetch-mode")
    if mode is not None:
        return mode.strip().lower() == "navigate"
    accepted = request.headers.get("accept", "").lower().split(",")
    return any(item.split(";", 1)[0].strip() == "text/html" for item in accepted)


def _back_to(next_path: str, site: Site) -> Reply:
    """303 to the page a form came from (`next`, made safe)."""
    location = safe_next(next_path, site.root).encode("ascii")
    return Reply(303, headers=[(b"location", location), (b"cache-control", b"no-store")])


def _check_cookie_fits(codec: ConsentCodec, policy: Policy, cookie_name: str) -> None:
    """ValueError unless every consent cookie this policy makes is one browsers keep.

    They drop a cookie whose name and value exceed 4096 bytes, without a word: no decision
    would ever hold, and the banner would come back on every page. The policy version and
    the granted categories travel in it; "accept all" grants the most. The signer compresses
    a payload when that helps, which a random receipt id may or may not: the bound is the
    payload uncompressed, so no choice can be the one that does not fit.
    """
    value = codec.sign(
        policy.optional_names, int(time.time()), secrets.token_urlsafe(12), refused=frozenset()
    )
    payload, _, signature = value.rpartition(".")
    if payload.startswith("."):  # compressed: measure what it would be without
        size = len(zlib.decompress(base64_decode(payload[1:])))
        payload = "x" * math.ceil(size * 4 / 3)  # unpadded base64
    longest = len(cookie_name) + len("=") + len(payload) + len(".") + len(signature)
    if longest > MAX_COOKIE_BYTES:
        raise ValueError(
            f"the consent cookie could be {longest} bytes, above the {MAX_COOKIE_BYTES} that"
            " browsers keep for a cookie's name and value (they would drop it, and ask again"
            f" on every page): shorten the policy version ({len(policy.version)} characters)"
            f" or the category names, or use fewer categories"
        )


def _days(seconds: int) -> int | float:
    """A lifetime in days as the declaration states it: whole days as an int (what readers
    of `max_age_days` have always got), anything else rounded up to a hundredth of a day.

    Rounded up, never down: a lifetime under a day was declared as 0 days, as if the cookie
    were not kept at all, and a declaration must not understate how long a cookie stays.
    """
    whole, rest = divmod(seconds, SECONDS_PER_DAY)
    if not rest:
        return whole
    return -(-seconds * 100 // SECONDS_PER_DAY) / 100


def _receipt_in_force(consent: Consent) -> str | None:
    """The receipt id of the decision in force (the newest valid consent cookie), or None.

    It comes from a signed cookie, so it is one the gate made; checked anyway: the receipt
    log refuses anything else, and a refusal there must not become a 500.
    """
    receipt_id = consent.receipt_id
    if consent.decided and receipt_id and is_receipt_id(receipt_id):
        return receipt_id
    return None


def browser_path(scope: MutableMapping[str, Any], root: str) -> str:
    """The request's URL path as the browser sent it (root path included, no query)."""
    # raw_path is optional in ASGI, and None from some servers (Mangum): then the decoded
    # path, encoded again as a browser sends it.
    raw = scope.get("raw_path")
    path: str = raw.decode("latin-1") if raw else quote(scope["path"], safe=PATH_SAFE)
    if root and not (path == root or path.startswith(f"{root}/")):
        path = root + path  # a server that strips the root path from raw_path too
    return path


def _expiring(
    name: str, path: str, domain: str | None, partitioned: bool, secure: bool
) -> list[bytes]:
    """Deletions of `name` at `path`: at `domain` and host-only (a cookie set without Domain
    is host-only, which a Domain= deletion misses), and in the partitioned jar as well when
    the cookie is partitioned (the plain deletion misses that one too)."""
    return [
        setcookie.deletion(name, path=path, domain=where, secure=secure, partitioned=jar)
        for where in ((domain, None) if domain else (None,))
        for jar in ((False, True) if partitioned else (False,))
    ]


def _carried_copies(name: str, rule: CookieRule, secure: bool) -> list[bytes]:
    """Deletions at "/" of a registered cookie the request carries, when its rule says another
    path: an app's `set_cookie` writes Path=/ unless told otherwise, and a rule of
    `path="/shop"` would make a withdrawal expire only a copy at /shop, leaving the one the
    visitor has. The browser sent it here, so "/" is a place it can live at. Only when the
    rule's path does not cover the endpoint's (the caller's test): when it does, the copy sent
    may be the rule's own, and a deletion at "/" would reach another app's cookie of the same
    name (a site around a mounted shop whose gate withdraws: the site's `ad_id`, or its
    necessary `lang`, gone with the shop's decision). Only "/", not
    every path enclosing the endpoint's: under a root path that would be four more a cookie
    (`/shop`, `/shop/`, each with and without Domain), which push the answer past a proxy's
    4k header buffer (nginx's default), where the whole withdrawal is lost to a 502.
    Host-only and at the rule's domain, as at its path; none for a `__Host-` name, which
    browsers keep only at Path=/ (its rule deletion)."""
    if rule.path == "/" or setcookie.host_only(name):
        return []
    return _expiring(name, "/", rule.domain, rule.partitioned, secure)


def _path_matches(cookie_path: str, request_path: str) -> bool:
    """RFC 6265 section 5.1.4: would a cookie with this Path be sent to this request path?"""
    if not request_path.startswith(cookie_path):
        return False
    return (
        len(request_path) == len(cookie_path)
        or cookie_path.endswith("/")
        or request_path[len(cookie_path)] == "/"
    )


def _navigated_to(request: Request) -> bool:
    """True for a browser's top-level navigation (Fetch Metadata `Sec-Fetch-Dest: document`):
    then an HTML endpoint answers a whole page; anything else (a server-side include, an
    app's own fetch) keeps getting the fragment it embeds."""
    return request.headers.get("sec-fetch-dest", "").strip().lower() == "document"


def _page(
    language: str,
    title: str,
    body: str,
    *,
    head: str = "",
    body_attrs: str = "",
    title_attrs: str = "",
) -> str:
    """A minimal accessible page around an endpoint's fragment (`title` is escaped here).
    `title_attrs` mark a title in another language than the page's (`lang`, `dir`)."""
    return (
        f'<!doctype html><html lang="{escape(language)}"{_rtl(language)}><head>'
        '<meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title{title_attrs}>{escape(title)}</title>{head}</head>"
        f"<body{body_attrs}><main><h1{title_attrs}>{escape(title)}</h1>{body}</main></body></html>"
    )


def _cookie_list_head(css_url: str) -> str:
    # The banner's sheet lays out `data-cookiewall-page` (width, margins, font, dark mode) as
    # for the banner opened as a page, the other page a visitor opens from the banner, and
    # makes the table's box (`_table_scroller`) scroll sideways: a sheet, not a <style>, so
    # that a site's `style-src 'self'` does not drop it.
    return f'<link rel="stylesheet" href="{escape(css_url)}">'


def _table_scroller(table: str, name: str) -> str:
    """The table in its own sideways-scrolling box (banner.css), so that on a narrow screen or
    at 400 % zoom the page stays as wide as the screen and only the table scrolls: the whole
    page panned sideways, its heading too (WCAG 1.4.10). Focusable, so that a keyboard user can
    scroll it with the arrow keys (a table of text holds nothing else that takes focus), and a
    region named `name`, so that a screen reader says what that stop is."""
    return (
        f'<div class="cookiewall-table-scroll" tabindex="0" role="region" '
        f'aria-label="{escape(name)}">{table}</div>'
    )


def _rtl(language: str) -> str:
    # Said only where it changes something: right-to-left words (an Arabic cookie list).
    return ' dir="rtl"' if direction(language) == "rtl" else ""


def _label(labels: dict[str, str], category: str) -> str:
    """A category's name as the banner shows it: the language's label, else capitalised."""
    return labels.get(category, category.capitalize())


# A cookie list cell: its text, and the attributes marking it in another language ("" none).
_Cell = tuple[str, str]


def _row(*cells: _Cell) -> str:
    return "<tr>" + "".join(f"<td{marked}>{escape(text)}</td>" for text, marked in cells) + "</tr>"


def _static(request: Request, content: bytes, content_type: str) -> Reply:
    if request.method not in ("GET", "HEAD"):
        return _not_allowed("GET, HEAD")
    etag = f'"{hashlib.sha256(content).hexdigest()[:16]}"'.encode()
    headers = [
        # URLs carry ?v=<digest>, so a year of caching is safe. no-transform (RFC 9111
        # 5.2.2.6): a proxy that minified banner.js would make it fail the injected script's
        # integrity, and every browser would refuse it.
        (b"cache-control", b"public, max-age=31536000, immutable, no-transform"),
        (b"etag", etag),
        (b"x-content-type-options", b"nosniff"),
    ]
    if _none_match(request.headers.get("if-none-match"), etag.decode()):
        return Reply(304, b"", None, headers)
    return Reply(200, content, content_type, headers)


def _none_match(header: str | None, etag: str) -> bool:
    """True if an If-None-Match header names `etag` (RFC 9110 13.1.2): a list of tags compared
    weakly (a gzipping proxy passes ours on as `W/"…"`, and the browser sends that back), or
    `*`."""
    if not header:
        return False
    tags = [tag.strip() for tag in header.split(",")]
    return "*" in tags or etag in (tag.removeprefix("W/") for tag in tags)


def _not_allowed(allow: str) -> Reply:
    reply = error(405, "method not allowed")
    reply.headers.append((b"allow", allow.encode()))
    return reply
