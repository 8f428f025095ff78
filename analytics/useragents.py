"""Device class and bot detection from the `User-Agent` header, cached.

ua-parser (the uap-core regexes) gives the device and OS families; a client is a bot when
ua-parser says "Spider", crawlerdetect recognises it, or it carries one of a few tokens that
automated clients use. A request without a user agent is counted as a bot: every browser
sends one, scripts often do not.

A parse costs about half a millisecond, so results are cached per user-agent string (bounded
LRU); the cache lives in memory only and the string itself is never stored.

References:
    RFC 9110 §10.1.5 (User-Agent), https://github.com/ua-parser/uap-core,
    https://github.com/moskrc/CrawlerDetect
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from crawlerdetect import CrawlerDetect
from ua_parser import BasicResolver, Domain, Resolver, Result, load_builtins

CACHE_SIZE = 4096
# Real user agents stay under about 400 characters; the parsers read no more than this.
MAX_USER_AGENT_LENGTH = 512
# crawlerdetect's pattern takes time quadratic in the length of some inputs (about 60 ms for
# 1 kB of one letter, with the GIL held, so every request of the worker waits): it reads this
# much, where bots name themselves ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://...)").
CRAWLER_SCAN_LENGTH = 256

# Automated clients that neither uap-core nor crawlerdetect always catch (lower-case).
BOT_TOKENS = (
    "bot",
    "crawler",
    "spider",
    "scrape",
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "python-httpx",
    "aiohttp",
    "go-http-client",
    "deno/",
    "bun/",
    "okhttp",
    "java/",
    "libwww-perl",
    "headless",
    "phantomjs",
    "selenium",
    "puppeteer",
    "lighthouse",
    "pingdom",
    "uptime",
    "monitor",
    "preview",
    "perplexity-user",  # fetches a page for an assistant's user (ChatGPT-User, Claude-User too)
    "cardyb",  # Bluesky's link-card fetcher
    "java-http-client",
    "insomnia/",
    "cypress/",  # end-to-end tests append it to the browser's user agent
    "synthetics",  # Datadog's API checks
    "checkly/",
    "health check",  # Consul
    "blackbox exporter",  # Prometheus's prober
    "prometheus/",
    "google-cloud-scheduler",
    "google-safety",  # Google's link scanner (Gmail, Safe Browsing): follows links, shows none
    "vercel-screenshot",  # Vercel's deployment previews: every page of each deployment
    # fediverse servers fetch a link's preview as a post reaches them (Mastodon and Pleroma
    # are in crawlerdetect)
    "misskey/",
    "akkoma ",
    "gotosocial/",
    "lemmy/",
)
# Whole user agents of automated clients, too short to be searched for inside others: the
# fetch() of Node.js sends just "node"; scanners send the bare product token or the dash that
# access logs print for "none" (no browser sends either).
BOT_NAMES = frozenset({"node", "mozilla", "mozilla/5.0", "mozilla/4.0", "-"})

_DESKTOP_OS = frozenset(
    {
        "Windows",
        "Mac OS X",
        "Linux",
        "Ubuntu",
        "Fedora",
        "Debian",
        "Chrome OS",
        "ChromeOS",
        "FreeBSD",
        "OpenBSD",
        "NetBSD",
        "Solaris",
    }
)
_MOBILE_OS = frozenset(
    {"Windows Phone", "BlackBerry OS", "Symbian OS", "KaiOS", "Firefox OS", "HarmonyOS"}
)
# Phone browsers that say neither "Mobile" nor a phone model: Opera Mini (still common on
# cheap Android phones) and the old Presto Opera Mobile (its tablet build says "Opera Tablet").
_PHONE_BROWSERS = ("opera mini", "opera mobi")
# Phone makers with a bot token in their name. Facebook's and Instagram's in-app browsers
# repeat the maker after the platform comment ("FBMF/CUBOT;", "Android (30/11; ...; CUBOT;"),
# where the device-model check below does not reach.
_MAKERS_WITH_BOT_TOKENS = ("cubot",)
_TABLET_WORDS = ("ipad", "tablet", "kindle", "silk/", "playbook", "sm-t", "tab ")
# Screens nobody holds: TVs and streaming sticks (Android ones do not say "Mobile", so they
# would pass for tablets), consoles, VR headsets (lower-case UA; Fire TV models are AFTxx).
_NOT_HANDHELD = re.compile(
    r"\btv\b|smart-?tv|googletv|bravia|chromecast|xbox|playstation|nintendo|oculus|\bquest \d"
)
_FIRE_TV_MODEL = re.compile(r"\bAFT[A-Z0-9]{1,6}\b")
# Names only a headset or a TV carries, which outweigh "Mobile" (the Quest browser says
# "Mobile VR"); an Android TV set with HbbTV (broadcast TV apps) names no TV otherwise.
_NEVER_HANDHELD = re.compile(r"oculusbrowser|hbbtv")


class Device(NamedTuple):
    device: str  # one of analytics.event.DEVICES
    is_bot: bool


BOT = Device("bot", True)

_crawlers = CrawlerDetect()
_resolver: Resolver | None = None


def load_parser() -> Resolver:
    """ua-parser's resolver with its regexes compiled (about 0.2 s, once per process).

    Ours, not `ua_parser.parse`'s global one: that one is built lazily under a module lock,
    sits behind a cache with a lock of its own, and its lazy regexes compile under
    `functools.cached_property`'s lock (Python 3.11). A process that forks while the flusher
    holds any of them (a worker using multiprocessing, a pre-fork server) leaves the child
    stuck on the first user agent it classifies. Eager regexes and no cache (ours is the LRU
    below) take no lock. The Recorder loads it when it is made, before its flusher thread
    exists, so no thread imports the regexes while a fork could copy a held import lock.
    """
    global _resolver
    if _resolver is None:  # two threads racing both build one; either is right
        _resolver = BasicResolver(load_builtins())
    return _resolver


def parse(ua: str) -> Result:
    """What `ua_parser.parse` says of `ua`, from the resolver above."""
    return (_resolver or load_parser())(ua, Domain.ALL).complete()


def _without_device_model(lowered: str, model: str | None) -> str:
    """`lowered` without the device item of its platform comment, the `CUBOT NOTE 20 PRO` of
    `(Linux; Android 11; CUBOT NOTE 20 PRO)`: a model or brand name may hold a bot token
    (Cubot phones, a "Monitor" tablet), a bot's own name is elsewhere."""
    start = lowered.find("(")
    end = lowered.find(")", start)
    if not model or start < 0 or end < 0:
        return lowered
    model = model.lower()
    items = lowered[start + 1 : end].split(";")
    kept = ";".join(item for item in items if model not in item)
    return f"{lowered[:start]}({kept}{lowered[end:]}"


def _is_bot(ua: str, lowered: str, device_family: str | None) -> bool:
    if device_family == "Spider":
        return True
    if lowered in BOT_NAMES or any(token in lowered for token in BOT_TOKENS):
        return True
    return bool(_crawlers.isCrawler(ua[:CRAWLER_SCAN_LENGTH]))


def _is_feature_phone(lowered: str, family: str) -> bool:
    """A phone whose UA names no OS ua-parser knows: J2ME (`MIDP`) handsets and Opera Mini
    or Opera Mobile on them, which say neither "Mobile" nor an OS."""
    return (
        "midp" in lowered
        or "feature phone" in family
        or any(name in lowered for name in _PHONE_BROWSERS)
    )


def _device_class(ua: str, lowered: str, os_family: str | None, device_family: str | None) -> str:
    family = (device_family or "").lower()
    if _NEVER_HANDHELD.search(lowered) or _FIRE_TV_MODEL.search(ua):
        return "other"  # Fire TV apps use the phone WebView too ("Mobile Safari")
    if "mobile" not in lowered and _NOT_HANDHELD.search(lowered):
        return "other"
    if any(word in lowered for word in _TABLET_WORDS) or "tablet" in family:
        return "tablet"
    if os_family == "iOS":
        return "tablet" if family.startswith("ipad") else "mobile"
    if os_family == "Android":
        # Android phones say "Mobile"; Android tablets do not (Chrome's and Google's convention)
        if "mobile" in lowered or any(name in lowered for name in _PHONE_BROWSERS):
            return "mobile"
        return "tablet"
    if os_family in _MOBILE_OS or "mobile" in lowered or _is_feature_phone(lowered, family):
        return "mobile"
    if os_family in _DESKTOP_OS or (os_family or "").startswith("Windows"):
        return "desktop"
    return "other"


def _classify(raw: bytes) -> Device:
    ua = raw.decode("latin-1").strip()[:MAX_USER_AGENT_LENGTH]
    if not ua:
        return BOT
    lowered = ua.lower()
    result = parse(ua)
    device = result.device
    device_family = device.family if device else None
    tokens_in = _without_device_model(lowered, device.model) if device else lowered
    for maker in _MAKERS_WITH_BOT_TOKENS:
        tokens_in = tokens_in.replace(maker, " ")
    if _is_bot(ua, tokens_in, device_family):
        return BOT
    os_family = result.os.family if result.os else None
    return Device(_device_class(ua, lowered, os_family, device_family), False)


class _UserAgentClassifier:
    """`classify_user_agent`, cached on the part of the header it reads: a client sending a
    new 16 kB user agent on every request cannot make the cache hold 4 096 of them."""

    def __init__(self) -> None:
        self._cached = lru_cache(maxsize=CACHE_SIZE)(_classify)
        self.cache_clear = self._cached.cache_clear
        self.cache_info = self._cached.cache_info

    def __call__(self, raw: bytes) -> Device:
        """`(device, is_bot)` for a raw `User-Agent` header value (bytes, as ASGI gives them)."""
        # The part `_classify` reads is the key (servers strip the leading whitespace already).
        return self._cached(raw.lstrip()[:MAX_USER_AGENT_LENGTH])


classify_user_agent = _UserAgentClassifier()
