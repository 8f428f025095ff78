"""The visitor's consent, and the signed cookie that carries it between requests."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadData, URLSafeSerializer

from cookiewall.policy import MAX_CONSENT_AGE, Policy

SALT = "cookiewall.consent.v1"
MAX_COOKIE_CHARS = 4096  # browsers cap a cookie at ~4 KiB; anything longer is not ours
CACHE_SIZE = 4096
# itsdangerous' default signature (HMAC-SHA1, URL-safe base64 without padding): 27 chars.
_SIGNATURE = re.compile(r"[A-Za-z0-9_-]{27}")
_CLOCK_SKEW = 300  # seconds a decision time may lie in the future (clock drift across hosts)
# A decision dated further ahead is not counted, but up to this far ahead it is not cleared
# either: a host of the site whose clock is ahead signed it (see `ConsentCodec.ahead`). A clock
# hours off is no drift, and such a host fails elsewhere too (S3 refuses requests 15 minutes
# off): its values are cleared as any other bad value.
_KEPT_AHEAD = 3600
# Categories a cookie of another policy version may name: its categories are not this
# policy's to check them against, and only a host of ours can sign one, so this is a bound.
_MAX_FOREIGN_CATEGORIES = 256
# How long a decision of another policy version may live: that version's consent_max_age is
# not this policy's to know (a new version may shorten it), and no policy allows more than
# this. Judged by this policy's lifetime, a decision still valid on its own version's hosts
# was cleared here as expired, and lost on those hosts too.
_LONGEST_LIFETIME = int(MAX_CONSENT_AGE.total_seconds())


@dataclass(frozen=True, slots=True)
class Consent:
    """What the visitor allows, as seen by the application (`request.state.consent`).

    `decided`: the visitor has made a choice for this policy version, or for one it
    `accepts_versions` (False: the banner is due, and only required categories are
    allowed). `granted`: the categories allowed now, after GPC/DNT; ask with `allows(name)`,
    which raises ValueError for a name that is not in `categories` (every category of the
    policy); `required`: its required ones. `policy_version`: the version consented to (this
    policy's or one it accepts); None while undecided.
    `gpc`: the request sent `Sec-GPC: 1` (or `DNT: 1` under `honor_dnt=True`).
    `refused`: the optional categories the visitor's latest decision did not grant, also when
    that decision no longer counts (made under a policy version this one does not accept):
    the banner asks again, but a refusal is not forgotten meanwhile (the recorder gives such
    a visitor no visitor hash when `analytics` is in it). Empty when there is no decision.
    `receipt_id` and `decided_at` (Unix seconds) name the decision's receipt; the repr
    leaves both out, so a logged consent cannot be matched to its receipt. `summary` (worked
    out, not given): `"undecided"`, `"all"`, `"none"` (only required categories) or
    `"custom"`. The gate builds these; frozen, so an app cannot change what it was given.
    """

    decided: bool
    granted: frozenset[str]  # after GPC/DNT: what is allowed now
    categories: frozenset[str]  # every category of the policy
    required: frozenset[str] = field(default=frozenset(), repr=False)
    # The version consented to (the cookie's: this policy's or one it accepts); None while
    # undecided.
    policy_version: str | None = None
    gpc: bool = False
    # The id the visitor's cookie and the receipt log share: a log line holding a repr must
    # not be the key that joins the two.
    receipt_id: str | None = field(default=None, repr=False)
    decided_at: int | None = field(default=None, repr=False)  # Unix seconds; the receipt's time
    refused: frozenset[str] = frozenset()
    # `undecided`, `all` (every category), `none` (only required ones) or `custom`. Worked
    # out once here: the object is immutable and read on every request (analytics records it).
    summary: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.decided:
            summary = "undecided"
        elif self.granted >= self.categories:
            summary = "all"
        elif self.granted <= self.required:
            summary = "none"
        else:
            summary = "custom"
        object.__setattr__(self, "summary", summary)  # frozen: the one sanctioned way in

    def allows(self, name: str) -> bool:
        """Whether category `name` is allowed now; ValueError if the policy has no such category.

        A name the policy lacks is a typo (`"preference"`) or a stale category: answering False
        would silently keep the feature it guards off, and the developer would never learn.
        """
        if name in self.granted:
            return True
        if name in self.categories:
            return False
        raise ValueError(
            f"{name!r} is not a category of this policy"
            f" (its categories: {', '.join(sorted(self.categories))})"
        )


@dataclass(slots=True)
class Decision:
    """A verified cookie payload, plus the Consent objects built from it (GPC off/on).

    `counts`: whether this host takes it as the visitor's decision: made for this policy
    version or one it accepts. One made for another version is undecided here but is no bad
    cookie: it is the visitor's decision for the hosts of that version (a rolling deploy),
    kept, and its `consents` are the undecided ones, so a returning visitor costs a lookup.
    """

    granted: frozenset[str]  # optional categories of this policy it grants
    decided_at: int
    receipt_id: str
    needs_resign: bool  # verified with an older key: re-sign with the newest
    consents: list[Consent | None]
    # The payload's version and categories as signed: a re-signed cookie (key rotation) is
    # the same decision, whichever version's host re-signs it.
    version: str = ""
    signed: frozenset[str] = frozenset()
    counts: bool = True
    # The optional categories the visitor was offered and refused, as signed ("n"); None in a
    # cookie made before it was signed (0.2.0 and older): then every category the decision
    # did not grant is taken as refused (see `ConsentCodec._refused_by`).
    refused: frozenset[str] | None = None


class ConsentCodec:
    """Signs and verifies consent cookies; a verified value is cached, expiry still checked."""

    def __init__(self, policy: Policy, secret_key: str | bytes | Sequence[str | bytes]) -> None:
        if not isinstance(secret_key, str | bytes | Sequence):
            # None is most often `os.environ.get(...)` for a variable that is not set.
            hint = " (is the environment variable that holds it set?)" if secret_key is None else ""
            raise ValueError(
                "secret_key must be a string (or a list of strings, newest first) of at least"
                f" 16 characters, not {type(secret_key).__name__}{hint}"
            )
        keys: list[str | bytes] = (
            [secret_key] if isinstance(secret_key, str | bytes) else list(secret_key)
        )
        if not keys or not all(isinstance(k, str | bytes) and len(k) >= 16 for k in keys):
            raise ValueError(
                "secret_key must be a string (or a list of strings, newest first)"
                " of at least 16 characters"
            )
        self.policy = policy
        self.max_age = int(policy.consent_max_age.total_seconds())
        raw = [k.encode() if isinstance(k, str) else k for k in keys]
        self._newest = URLSafeSerializer(raw[0], salt=SALT)
        # itsdangerous wants the newest key last; ours come newest first.
        self._older = URLSafeSerializer(raw[:0:-1], salt=SALT) if raw[1:] else None
        self._signers = [URLSafeSerializer(k, salt=SALT).make_signer() for k in raw]
        self._cache: dict[str, Decision] = {}
        # Hashes of values whose signature or payload is bad, oldest first; bounded as the
        # cache. Bad under these keys and this policy is bad for good, and a subdomain can
        # plant many such values beside the visitor's own: each is checked once, not per page.
        # A hash collision with a valid value needs that value, which an attacker lacks.
        self._rejected: dict[int, None] = {}
        self.verifications = 0  # signature checks done from scratch (the cache's misses)
        self.cache_hits = 0
        self._undecided = [
            self._consent(frozenset(), False, None, None, False),
            self._consent(frozenset(), False, None, None, True),
        ]
        # Undecided consents that remember a refusal (`undecided_after`), by what was refused:
        # at most one pair per subset of the policy's optional categories.
        self._undecided_refusing: dict[frozenset[str], list[Consent]] = {}

    def undecided(self, gpc: bool) -> Consent:
        return self._undecided[gpc]

    def undecided_after(self, decision: Decision, gpc: bool) -> Consent:
        """The undecided consent of a visitor whose latest decision does not count here
        (another policy version, a clock ahead): the banner asks again, and what that
        decision refused stays refused in `Consent.refused` until the visitor decides."""
        return self._undecided_refusing_pair(self._refused_by(decision))[gpc]

    def _refused_by(self, decision: Decision) -> frozenset[str]:
        """This policy's optional categories that `decision` refused: those it names as
        refused, or, in a cookie that names none (made before they were signed), every one it
        did not grant. The second errs on the visitor's side: a category new in this version
        counts as refused by such a cookie until the visitor decides again."""
        optional = self.policy.optional_names
        if decision.refused is not None:
            return decision.refused & optional
        return optional - decision.signed

    def _undecided_refusing_pair(self, refused: frozenset[str]) -> list[Consent]:
        if not refused:
            return self._undecided
        pair = self._undecided_refusing.get(refused)
        if pair is None:
            pair = [
                self._consent(frozenset(), False, None, None, gpc, refused=refused)
                for gpc in (False, True)
            ]
            self._undecided_refusing[refused] = pair
        return pair

    def decided(self, decision: Decision, gpc: bool) -> Consent:
        consent = decision.consents[gpc]
        if consent is None:
            consent = self._consent(
                decision.granted,
                True,
                decision.receipt_id,
                decision.decided_at,
                gpc,
                decision.version or self.policy.version,
                self._refused_by(decision),
            )
            decision.consents[gpc] = consent
        return consent

    def _consent(
        self,
        chosen: frozenset[str],
        decided: bool,
        receipt_id: str | None,
        decided_at: int | None,
        gpc: bool,
        version: str | None = None,
        refused: frozenset[str] | None = None,
    ) -> Consent:
        # `refused`: None for "all optional categories not chosen" (a decision's own).
        policy = self.policy
        granted = chosen | policy.required_names
        if gpc:
            granted -= policy.gpc_opt_out_names
        if refused is None:
            refused = policy.optional_names - chosen if decided else frozenset()
        return Consent(
            decided=decided,
            granted=granted,
            categories=policy.category_names,
            required=policy.required_names,
            policy_version=version if decided else None,
            gpc=gpc,
            receipt_id=receipt_id,
            decided_at=decided_at,
            refused=refused,
        )

    def sign(
        self,
        granted: frozenset[str],
        decided_at: int,
        receipt_id: str,
        version: str | None = None,
        refused: frozenset[str] | None = None,
    ) -> str:
        """A cookie value for the decision; `refused` (the optional categories offered and
        not granted) is signed when given, so that a later policy version can tell a refused
        category from one the visitor was never offered."""
        payload: dict[str, Any] = {
            "v": self.policy.version if version is None else version,
            "g": sorted(granted),
            "t": decided_at,
            "r": receipt_id,
        }
        if refused is not None:
            payload["n"] = sorted(refused)
        value = self._newest.dumps(payload)
        assert isinstance(value, str)
        return value

    def resign(self, decision: Decision) -> str:
        """The value of `decision` signed with the newest key: the same payload, its version
        and categories as they were signed (a host of another version re-signs it too)."""
        return self.sign(
            decision.signed,
            decision.decided_at,
            decision.receipt_id,
            decision.version,
            decision.refused,
        )

    def new_decision(self, granted: frozenset[str], now: int | None = None) -> tuple[str, Decision]:
        decided_at = int(time.time()) if now is None else now
        receipt_id = secrets.token_urlsafe(12)
        chosen = frozenset(granted) - self.policy.required_names
        refused = self.policy.optional_names - chosen
        value = self.sign(chosen, decided_at, receipt_id, refused=refused)
        decision = Decision(
            chosen,
            decided_at,
            receipt_id,
            False,
            [None, None],
            self.policy.version,
            chosen,
            refused=refused,
        )
        self._remember(value, decision)
        return value, decision

    def verify(self, value: str, now: float | None = None) -> Decision | None:
        """The decision a cookie value holds, or None when it is bad, expired, or one this
        host does not count (another policy version: see `kept`)."""
        if now is None:
            now = time.time()
        decision = self._cache.get(value)
        if decision is None:
            decision = self._verify_fresh(value)
            if decision is None:
                return None
            self._remember(value, decision)
        else:
            self.cache_hits += 1
        age = now - decision.decided_at
        # The cookie's Max-Age runs out at decided_at + max_age, and a browser drops it at
        # that very moment (expired when now >= expiry): so does the decision.
        if age >= self.max_age or age < -_CLOCK_SKEW or not decision.counts:
            return None
        return decision

    def cached_consent(self, value: str, gpc: bool) -> Consent | None:
        """The Consent of a value verified before, still fresh and under the newest key.

        The returning visitor's path: one dict lookup and an age check. None means "ask
        `verify`", which then handles misses, expiry and key rotation as always.
        """
        decision = self._cache.get(value)
        if decision is None or decision.needs_resign:
            return None
        age = time.time() - decision.decided_at
        if age >= self.max_age or age < -_CLOCK_SKEW:
            return None
        self.cache_hits += 1
        consent = decision.consents[gpc]  # undecided ones for another version's decision
        return consent if consent is not None else self.decided(decision, gpc)

    def ahead(self, value: str, now: float | None = None) -> float | None:
        """How many seconds ahead of this host's clock the decision time of `value` lies,
        for a value `verify` refused for that alone (more than `_CLOCK_SKEW`, at most
        `_KEPT_AHEAD`); else None.

        Only a host of ours can sign a decision: one dated that far ahead comes from a host
        whose clock is ahead, or this one is behind. Not counted here, but not bad either:
        cleared, the visitor's decision would be gone from every server.
        """
        decision = self._cache.get(value)  # `verify` keeps every value it has verified
        if decision is None:
            return None
        seconds = decision.decided_at - (time.time() if now is None else now)
        return seconds if _CLOCK_SKEW < seconds <= _KEPT_AHEAD else None

    def kept(self, value: str, now: float | None = None) -> Decision | None:
        """The decision of a value `verify` refused although no bad cookie: made for another
        policy version (one this policy does not accept, or one it accepts that is older
        than this policy's lifetime but not than `_LONGEST_LIFETIME`), or dated ahead of
        this host's clock by more than the skew tolerated and at most `_KEPT_AHEAD`. Else
        None.

        Neither counts here, and neither is cleared: it is the visitor's decision on the
        hosts of that version or clock. Only a value verified before is looked at (`verify`
        keeps every value it verified), so this costs a lookup.
        """
        decision = self._cache.get(value)
        if decision is None:
            return None
        age = (time.time() if now is None else now) - decision.decided_at
        if age >= self._lifetime(decision) or age < -_KEPT_AHEAD:
            return None  # expired, or from a clock too far off to be drift: bad
        # Refused by `verify`: another version (or one accepted, but past this policy's
        # lifetime), or a clock ahead.
        counted = decision.counts and age < self.max_age and age >= -_CLOCK_SKEW
        return None if counted else decision

    def _lifetime(self, decision: Decision) -> int:
        """Seconds a decision lives in the browser: this policy's lifetime for its own, the
        longest any policy allows for another version's (see `_LONGEST_LIFETIME`)."""
        return self.max_age if decision.version == self.policy.version else _LONGEST_LIFETIME

    def needs_check(self, value: str) -> bool:
        """Whether `verify` would check this value's signature: a value it has not verified
        before, and that could be a token (see `_verify_fresh`). The rest costs a lookup."""
        return (
            value not in self._cache
            and hash(value) not in self._rejected
            and _could_be_token(value)
        )

    def foreign(self, value: str) -> bool:
        """A well-formed consent token that none of our keys signed: another app's.

        Under a mount the browser also sends the consent cookie of an app at the host's root
        (Path=/), signed with that app's key: not ours to reject or clear. Garbage, or a
        token of ours that is expired or outdated, is not foreign.
        """
        payload, dot, signature = value.rpartition(".")
        if (
            not (payload and dot and _SIGNATURE.fullmatch(signature))
            or len(value) > MAX_COOKIE_CHARS
        ):
            return False
        return not any(signer.validate(value) for signer in self._signers)

    def remaining_age(self, decision: Decision, now: float | None = None) -> int:
        """The Max-Age of a re-signed cookie: what is left of the decision's lifetime.

        At most the whole lifetime: a decision signed by a host whose clock is ahead (up to
        `_CLOCK_SKEW`) looks younger than brand new here, and its cookie would outlive
        `consent_max_age` by the skew.
        """
        if now is None:
            now = time.time()
        lifetime = self.max_age
        if decision.decided_at + lifetime <= now:
            # Another version's decision past this policy's lifetime, kept for the hosts of
            # its version: cut to this lifetime it was re-signed to expire at once. What is
            # left of the longest lifetime, then (its own is not known here).
            lifetime = self._lifetime(decision)
        return max(1, min(lifetime, int(decision.decided_at + lifetime - now)))

    def _remember(self, value: str, decision: Decision) -> None:
        cache = self._cache
        if len(cache) >= CACHE_SIZE:
            cache.pop(next(iter(cache)))  # oldest first: cheap, and good enough for a hit rate
        cache[value] = decision

    def _verify_fresh(self, value: str) -> Decision | None:
        if not _could_be_token(value):
            return None
        key = hash(value)
        rejected = self._rejected
        if key in rejected:
            return None
        self.verifications += 1
        payload = _loads(self._newest, value)
        needs_resign = False
        if payload is _BAD and self._older is not None:
            payload = _loads(self._older, value)
            needs_resign = True
        decision = None if payload is _BAD else self._decode(payload, needs_resign)
        if decision is None:
            if len(rejected) >= CACHE_SIZE:
                rejected.pop(next(iter(rejected)))  # oldest first, as the cache
            rejected[key] = None
        return decision

    def _decode(self, payload: Any, needs_resign: bool) -> Decision | None:
        if not isinstance(payload, dict):
            return None
        version = payload.get("v")
        granted = payload.get("g")
        decided_at = payload.get("t")
        receipt_id = payload.get("r")
        if not isinstance(version, str) or not version:
            return None
        policy = self.policy
        own = version == policy.version
        # Another version's categories are not this policy's: bounded, not checked by name.
        most = len(policy.categories) if own else _MAX_FOREIGN_CATEGORIES
        if (
            not isinstance(granted, list)
            or len(granted) > most
            or not all(isinstance(g, str) for g in granted)
        ):
            return None
        signed = frozenset(granted)
        if own and not signed <= policy.category_names:
            return None
        if not isinstance(decided_at, int) or isinstance(decided_at, bool):
            return None
        if not isinstance(receipt_id, str) or not 0 < len(receipt_id) <= 64:
            return None
        named_refused = payload.get("n")
        refused = None
        if named_refused is not None:
            if (
                not isinstance(named_refused, list)
                or len(named_refused) > most
                or not all(isinstance(n, str) for n in named_refused)
            ):
                return None
            refused = frozenset(named_refused)
        # Consent is given to one version of the policy: another version asks again, unless
        # this policy accepts that version's decisions. Then it grants what it names and
        # this policy has: a category the visitor was never asked about stays refused.
        counts = own or version in policy.accepts_versions
        decision = Decision(
            signed & policy.optional_names,
            decided_at,
            receipt_id,
            needs_resign,
            [None, None],
            version,
            signed,
            counts,
            refused,
        )
        if not counts:  # undecided here, what it refused still refused (`undecided_after`)
            decision.consents[:] = self._undecided_refusing_pair(self._refused_by(decision))
        return decision


_BAD = object()


def _could_be_token(value: str) -> bool:
    """False for a value no signer of ours can have made, told without the HMAC: too long,
    not ASCII, or without the '.' before a signature (garbage a subdomain planted, say)."""
    return len(value) <= MAX_COOKIE_CHARS and value.isascii() and "." in value


def _loads(serializer: URLSafeSerializer, value: str) -> Any:
    try:
        return serializer.loads(value)
    except BadData:
        return _BAD
    except Exception:  # a cookie is attacker input (zlib, JSON, base64 errors): never a 500
        return _BAD
