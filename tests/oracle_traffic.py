"""A scripted week of traffic to the oracle shop (tests/apps/oracle_shop.py), with what SPEC 4
says each request must become, written out by hand: the ground truth of the end-to-end numbers
test. Nothing here calls analytics code: referrers, paths, tags and visitor identities are
classified in the tables below, from SPEC's and the README's sentences.

Days are Europe/Berlin days (the warehouse's zone). Times are Berlin wall-clock times, each
made unique by its microseconds so that an event is found again by its `ts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")
ZONE = "Europe/Berlin"
SITE = "café.example"
SHOP = "shop.example"  # the second site: the same server answers it by its Host header

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)
ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)
BROWSERS = (FIREFOX, CHROME, IPHONE, ANDROID)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
BINGBOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
GPTBOT = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot)"
)
AHREFS = "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"
CHATGPT_USER = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0; "
    "+https://openai.com/bot"
)
CURL = "curl/8.5.0"

# Referer header -> (referrer_domain, referrer_medium); None: the request is not recorded.
DIRECT = (None, "direct")
REFERRERS: dict[str | None, tuple[str | None, str] | None] = {
    None: DIRECT,
    "https://www.google.com/search?q=caf%C3%A9": ("google.com", "search"),
    "https://www.google.co.uk/": ("google.co.uk", "search"),
    "https://mail.google.com/mail/u/0/": ("google.com", "email"),
    "https://gemini.google.com/app": ("google.com", "ai"),
    "https://duckduckgo.com/": ("duckduckgo.com", "search"),
    "https://www.bing.com/search?q=x": ("bing.com", "search"),
    "https://m.facebook.com/story.php?id=1": ("facebook.com", "social"),
    "https://l.facebook.com/l.php?u=x": ("facebook.com", "social"),
    "https://www.facebook.com/": ("facebook.com", "social"),
    "https://news.ycombinator.com/item?id=1": ("ycombinator.com", "social"),
    "https://mastodon.social/@cafe": ("mastodon.social", "social"),
    "https://t.co/AbCdEf": ("t.co", "social"),
    "android-app://com.google.android.gm/": ("com.google.android.gm", "email"),
    "https://chatgpt.com/": ("chatgpt.com", "ai"),
    "https://claude.ai/chat/1": ("claude.ai", "ai"),
    "https://www.perplexity.ai/search": ("perplexity.ai", "ai"),
    "https://xn--bcher-kva.de/liste": ("bücher.de", "referral"),
    "HTTPS://WWW.Bücher.DE./empfehlung": ("bücher.de", "referral"),
    "https://foo.github.io/links": ("foo.github.io", "referral"),
    "http://192.0.2.1:8080/": ("(ip)", "referral"),
    "https://blog.friend.org/p": ("friend.org", "referral"),
    "https://www.friend.org/": ("friend.org", "referral"),
    "https://user:pw@www.friend.org:8443/x": ("friend.org", "referral"),
    "https://café.example/menu": ("café.example", "internal"),
    "https://www.xn--caf-dma.example/": ("café.example", "internal"),
    "https://café.example/?utm_source=Newsletter&utm_medium=email&utm_campaign=Autumn": (
        "café.example",
        "internal",
    ),
    "ftp://files.example/": DIRECT,
    "not a url at all": DIRECT,
    "https://semalt.com/": None,
    "https://best.darodar.com/": None,
}


# For the second site, what differs: its own pages are internal, the first site's a referral.
ON_SHOP: dict[str | None, tuple[str | None, str]] = {
    "https://shop.example/cart": ("shop.example", "internal"),
    "https://café.example/menu": ("café.example", "referral"),
}


@dataclass(frozen=True)
class Visitor:
    address: str | None  # the client address the hash is made of; None: no visitor id
    forwarded_for: str | None  # what the request's X-Forwarded-For says (peer: 127.0.0.1)
    user_agent: str
    bot: bool = False
    consent: str = "undecided"  # undecided, all (accepted), none (refused analytics)
    headers: tuple[tuple[str, str], ...] = ()  # DNT, Sec-GPC

    @property
    def hashed(self) -> bool:
        no_tracking = any(name in ("dnt", "sec-gpc") for name, _ in self.headers)
        return self.address is not None and self.consent != "none" and not no_tracking


def crowd(number: int, user_agent: str | None = None) -> Visitor:
    """An undecided browser user at 198.51.100.<number>, behind the site's own proxy."""
    address = f"198.51.100.{number}"
    return Visitor(address, address, user_agent or BROWSERS[number % len(BROWSERS)])


@dataclass(frozen=True)
class Hit:
    when: datetime  # aware (UTC), unique
    visitor: Visitor
    target: str  # path and query as sent
    referer: str | None = None
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    status: int = 200  # the answer the client must get
    path: str | None = None  # the stored path; None: not recorded (not a page, excluded)
    recorded_status: int | None = None  # the stored status, when it differs from `status`
    utm: tuple[str | None, str | None, str | None] = (None, None, None)
    site: str = SITE

    @property
    def classified(self) -> tuple[str | None, str] | None:
        if self.site == SHOP and self.referer in ON_SHOP:
            return ON_SHOP[self.referer]
        return REFERRERS[self.referer]

    @property
    def recorded(self) -> bool:
        return self.path is not None and self.classified is not None

    @property
    def day(self) -> date:
        return self.when.astimezone(BERLIN).date()

    @property
    def visitor_key(self) -> tuple[date, str, str, str] | None:
        """Who the hash names: site + address + user agent under the salt of the UTC day."""
        if not self.visitor.hashed or self.visitor.address is None:
            return None
        utc_day = self.when.astimezone(UTC).date()
        return (utc_day, self.site, self.visitor.address, self.visitor.user_agent)


@dataclass
class Script:
    hits: list[Hit] = field(default_factory=list)

    def at(
        self,
        day: date,
        clock: str,
        visitor: Visitor,
        target: str = "/",
        *,
        fold: int = 0,
        path: str | None = "",
        **more: object,
    ) -> Hit:
        hour, minute = (int(part) for part in clock.split(":"))
        local = datetime(day.year, day.month, day.day, hour, minute, fold=fold, tzinfo=BERLIN)
        # Unique to the second, the recorder's precision: the n-th hit of a minute is at its
        # n-th second.
        earlier = sum(hit.when.replace(second=0) == local.astimezone(UTC) for hit in self.hits)
        assert earlier < 60, f"more than 60 hits at {clock}"
        when = local.astimezone(UTC) + timedelta(seconds=earlier)
        stored = target.split("?", 1)[0] if path == "" else path
        hit = Hit(when, visitor, target, path=stored, **more)  # type: ignore[arg-type]
        self.hits.append(hit)
        return hit


HISTORY = date(2026, 10, 10)
# The server is stopped and the spool rolled up here, then the rest is served and rolled up
# again (cron): inside Berlin's 30 October, while UTC still says the 29th.
SPLIT = datetime(2026, 10, 30, 0, 40, tzinfo=BERLIN)
PREVIOUS = (date(2026, 10, 21), date(2026, 10, 27))
RANGE = (date(2026, 10, 28), date(2026, 11, 3))
GOOGLE = "https://www.google.com/search?q=caf%C3%A9"
FACEBOOK_M = "https://m.facebook.com/story.php?id=1"
INTERNAL = "https://café.example/menu"
NEWSLETTER = ("Newsletter", "email", "Autumn")


def scenario() -> Script:
    s = Script()
    d = date
    # History: friend.org seen long before, so it is never "new".
    s.at(HISTORY, "12:00", crowd(1), "/blog", referer="https://blog.friend.org/p")

    # -- the previous period, 2026-10-21 .. 10-27 -------------------------------------------
    for n in (2, 3, 4):
        s.at(d(2026, 10, 21), f"1{n}:00", crowd(n), "/", referer=GOOGLE)
    for n, ref in zip(
        (5, 6, 7, 8, 9, 10),
        (FACEBOOK_M, FACEBOOK_M, FACEBOOK_M, "https://l.facebook.com/l.php?u=x",
         "https://l.facebook.com/l.php?u=x", "https://www.facebook.com/"),
        strict=True,
    ):  # fmt: skip
        s.at(d(2026, 10, 22), f"09:{n:02}", crowd(n), "/menu", referer=ref)
    s.at(d(2026, 10, 23), "10:00", crowd(11), "/", referer="https://duckduckgo.com/")
    # Around the end of summer time: 10-25 02:30 happens twice (CEST, then CET).
    owl = crowd(12, FIREFOX)
    s.at(d(2026, 10, 24), "23:30", owl, "/")  # 21:30 UTC on the 24th
    s.at(d(2026, 10, 25), "00:30", owl, "/menu", referer=INTERNAL)  # 22:30 UTC, the 24th
    s.at(d(2026, 10, 25), "02:30", owl, "/menu", fold=0)  # 00:30 UTC on the 25th
    s.at(d(2026, 10, 25), "02:30", owl, "/about", fold=1)  # 01:30 UTC on the 25th
    s.at(d(2026, 10, 26), "08:00", crowd(13), "/?utm_source=Newsletter&utm_medium=email"
         "&utm_campaign=Autumn", referer="android-app://com.google.android.gm/",
         utm=NEWSLETTER)  # fmt: skip
    s.at(d(2026, 10, 27), "18:00", crowd(14), "/", referer="https://mastodon.social/@cafe")
    s.at(d(2026, 10, 27), "18:05", crowd(15), "/menu")

    # -- the range, 2026-10-28 .. 11-03 -----------------------------------------------------
    # google.com: 3 -> 8 pageviews (search), plus one e-mail and one Gemini arrival.
    for n in (20, 21, 22):
        s.at(d(2026, 10, 28), f"10:{n}", crowd(n), "/", referer=GOOGLE)
    twice = crowd(23)
    s.at(d(2026, 10, 29), "09:00", twice, "/", referer=GOOGLE)
    s.at(d(2026, 10, 29), "09:10", twice, "/menu", referer=INTERNAL)
    s.at(d(2026, 10, 29), "09:20", twice, "/", referer=GOOGLE)
    both = crowd(24)  # search and webmail on one day: one visitor of google.com
    s.at(d(2026, 10, 29), "11:00", both, "/", referer=GOOGLE)
    s.at(d(2026, 10, 29), "11:30", both, "/menu", referer="https://mail.google.com/mail/u/0/")
    s.at(d(2026, 10, 30), "12:00", crowd(25), "/", referer=GOOGLE)
    s.at(d(2026, 10, 30), "12:05", crowd(26), "/", referer=GOOGLE)
    s.at(d(2026, 10, 30), "12:10", crowd(27), "/", referer="https://www.google.co.uk/")
    s.at(d(2026, 11, 1), "15:00", crowd(28), "/", referer="https://gemini.google.com/app")
    # facebook.com: 6 -> 2.
    s.at(d(2026, 10, 28), "14:00", crowd(30), "/menu", referer=FACEBOOK_M)
    s.at(d(2026, 10, 31), "14:00", crowd(31), "/menu", referer=FACEBOOK_M)
    # AI assistants, new in the range.
    s.at(d(2026, 10, 28), "16:00", crowd(32), "/", referer="https://chatgpt.com/")
    s.at(d(2026, 10, 29), "16:00", crowd(33), "/about", referer="https://chatgpt.com/")
    s.at(d(2026, 10, 29), "16:30", crowd(34), "/", referer="https://claude.ai/chat/1")
    s.at(d(2026, 11, 2), "16:30", crowd(35), "/", referer="https://www.perplexity.ai/search")
    # Social and referral, in every spelling.
    s.at(d(2026, 10, 30), "17:00", crowd(36), "/", referer="https://news.ycombinator.com/item?id=1")
    s.at(d(2026, 10, 30), "17:10", crowd(37), "/", referer="https://t.co/AbCdEf")
    s.at(d(2026, 10, 31), "11:00", crowd(38), "/", referer="https://xn--bcher-kva.de/liste")
    s.at(d(2026, 10, 31), "11:05", crowd(39), "/", referer="HTTPS://WWW.Bücher.DE./empfehlung")
    s.at(d(2026, 11, 2), "10:00", crowd(40), "/", referer="https://foo.github.io/links")
    s.at(d(2026, 11, 2), "10:30", crowd(41), "/", referer="http://192.0.2.1:8080/")
    s.at(d(2026, 11, 1), "10:00", crowd(42), "/blog", referer="https://www.friend.org/")
    s.at(
        d(2026, 11, 2), "09:00", crowd(43), "/blog", referer="https://user:pw@www.friend.org:8443/x"
    )
    # Not classifiable: direct. Spam: not recorded at all.
    s.at(d(2026, 10, 31), "09:00", crowd(44), "/", referer="ftp://files.example/")
    s.at(d(2026, 10, 31), "09:10", crowd(45), "/", referer="not a url at all")
    s.at(d(2026, 10, 29), "13:00", crowd(46), "/", referer="https://semalt.com/")
    s.at(d(2026, 10, 29), "13:05", crowd(47), "/menu", referer="https://best.darodar.com/")
    s.at(d(2026, 10, 30), "13:00", crowd(48), "/", referer="https://www.xn--caf-dma.example/")

    # Campaigns: tags as sent (case kept), ref=/source= stand in for utm_source.
    s.at(d(2026, 10, 28), "08:00", crowd(50), "/?utm_source=Newsletter&utm_medium=email"
         "&utm_campaign=Autumn", referer="android-app://com.google.android.gm/",
         utm=NEWSLETTER)  # fmt: skip
    s.at(d(2026, 10, 28), "08:30", crowd(51), "/?utm_source=%20Newsletter%20&utm_medium=email"
         "&utm_campaign=Autumn", utm=NEWSLETTER)  # fmt: skip
    s.at(
        d(2026, 10, 29),
        "08:00",
        crowd(52),
        "/?utm_source=newsletter&utm_campaign=Autumn",
        utm=("newsletter", None, "Autumn"),
    )
    s.at(
        d(2026, 10, 30),
        "08:00",
        crowd(53),
        "/launch?ref=producthunt",
        utm=("producthunt", None, None),
    )
    s.at(
        d(2026, 10, 30),
        "08:10",
        crowd(54),
        "/launch?source=hn&utm_campaign=launch",
        referer="https://news.ycombinator.com/item?id=1",
        utm=("hn", None, "launch"),
    )
    s.at(d(2026, 10, 31), "08:00", crowd(55), "/account?token=9f8e7d6c5b4a39281706f5e4d3c2b1a0"
         "&utm_campaign=Winter", utm=(None, None, "Winter"))  # fmt: skip
    s.at(d(2026, 10, 31), "08:05", crowd(56), "/?UTM_SOURCE=shouting")  # keys are case-sensitive
    # Anyone can send the label the reports give folded rows: it is shown as \(other).
    for n in (65, 66, 67, 68):
        s.at(
            d(2026, 11, 2),
            f"17:{n - 50}",
            crowd(n),
            "/?utm_source=(other)",
            utm=("(other)", None, None),
        )

    # A tagged landing page that posts a form back to itself: one arrival, not two.
    landing = "/?utm_source=Newsletter&utm_medium=email&utm_campaign=Autumn"
    poster = crowd(59)
    s.at(d(2026, 10, 31), "12:00", poster, landing, utm=NEWSLETTER)
    s.at(d(2026, 10, 31), "12:01", poster, landing, method="POST",
         referer=f"https://café.example{landing}")  # fmt: skip

    # Paths that identify someone are redacted.
    s.at(
        d(2026, 11, 1),
        "12:00",
        crowd(57),
        "/reset/q3Vt8LmZpR4xK9wYb2Nc7HeJ5sDf1gA",
        path="/reset/:redacted",
    )
    s.at(d(2026, 11, 1), "12:05", crowd(58), "/u/jane@example.com", path="/u/:redacted")
    s.at(d(2026, 11, 1), "12:10", crowd(63), "/reset/q3Vt8LmZ%2FpR4xK9w%2FYb2Nc7H%2FeJ5sDf1gA"
         "%2FTu6iOo8=", path="/reset/:redacted")  # fmt: skip
    s.at(d(2026, 11, 1), "12:15", crowd(64), "/files/a%2Fb", path="/files/a%2Fb")

    # Proxies: the right-most untrusted X-Forwarded-For hop is the visitor.
    behind = Visitor("203.0.113.50", "203.0.113.50, 10.1.2.3", CHROME)
    s.at(d(2026, 10, 30), "20:00", behind, "/")
    s.at(d(2026, 10, 30), "20:05", behind, "/menu", referer=INTERNAL)
    honest = Visitor("198.51.100.99", "198.51.100.99", IPHONE)
    spoofing = Visitor("198.51.100.99", "6.6.6.6, 198.51.100.99", IPHONE)
    s.at(d(2026, 10, 30), "21:00", honest, "/")
    s.at(d(2026, 10, 30), "21:05", spoofing, "/about")
    s.at(d(2026, 10, 30), "21:10", Visitor(None, "unknown", ANDROID), "/")  # names nobody
    # One visitor however the proxy writes the address: a port, IPv6 spelling, IPv4-mapped.
    for n, spelled in enumerate(("2001:db8::7", "[2001:DB8:0::7]:443", "2001:db8:0:0::7")):
        v6 = Visitor("2001:db8::7", spelled, FIREFOX)
        s.at(d(2026, 11, 1), f"18:0{n}", v6, "/menu")
    for n, spelled in enumerate(("198.51.100.80", "::ffff:198.51.100.80", "198.51.100.80:51234")):
        v4 = Visitor("198.51.100.80", f"{spelled}, 10.0.0.2", CHROME)
        s.at(d(2026, 11, 1), f"19:0{n}", v4, "/about")
    # The proxy itself (no X-Forwarded-For): the peer is the visitor.
    s.at(d(2026, 11, 2), "11:00", Visitor("127.0.0.1", None, FIREFOX), "/")

    # Near midnight: Berlin days and UTC salt days disagree.
    late = crowd(60, CHROME)
    s.at(d(2026, 10, 28), "23:59", late, "/")  # 22:59 UTC, the 28th
    s.at(d(2026, 10, 29), "00:01", late, "/menu", referer=INTERNAL)  # 23:01 UTC, the 28th
    cross = crowd(61, ANDROID)
    s.at(d(2026, 10, 30), "00:30", cross, "/")  # 23:30 UTC, the 29th
    s.at(d(2026, 10, 30), "00:50", cross, "/about")  # 23:50 UTC, the 29th: after SPLIT
    s.at(d(2026, 10, 30), "01:30", cross, "/menu", referer=INTERNAL)  # 00:30 UTC, the 30th
    month = crowd(62, IPHONE)
    s.at(d(2026, 10, 31), "23:30", month, "/")  # 22:30 UTC on 10-31
    s.at(d(2026, 11, 1), "00:30", month, "/about", referer=INTERNAL)  # 23:30 UTC on 10-31

    # Visitors who are counted without an id: refused analytics, DNT, GPC.
    refused = Visitor("198.51.100.70", "198.51.100.70", CHROME, consent="none")
    s.at(d(2026, 10, 30), "14:00", refused, "/", referer="https://www.bing.com/search?q=x")
    s.at(d(2026, 10, 30), "14:05", refused, "/menu", referer=INTERNAL)
    dnt = Visitor("198.51.100.71", "198.51.100.71", FIREFOX, headers=(("dnt", "1"),))
    s.at(d(2026, 10, 31), "15:00", dnt, "/", referer="https://claude.ai/chat/1")
    s.at(d(2026, 10, 31), "15:05", dnt, "/about", referer=INTERNAL)
    gpc = Visitor("198.51.100.72", "198.51.100.72", IPHONE, headers=(("sec-gpc", "1"),))
    s.at(d(2026, 11, 1), "16:00", gpc, "/menu")

    # A visitor who accepted: a revalidated page is a page view (304); a script's is not.
    accepted = Visitor("198.51.100.73", "198.51.100.73", FIREFOX, consent="all")
    etag = (("if-none-match", '"page-v1"'),)
    s.at(d(2026, 11, 2), "13:00", accepted, "/menu")
    s.at(
        d(2026, 11, 2),
        "13:05",
        accepted,
        "/menu",
        status=304,
        headers=(*etag, ("sec-fetch-dest", "document"), ("accept", "text/html")),
    )
    s.at(
        d(2026, 11, 2),
        "13:06",
        accepted,
        "/menu",
        status=304,
        path=None,
        headers=(*etag, ("sec-fetch-dest", "script"), ("accept", "*/*")),
    )
    # An undecided visitor's revalidation is answered in full (the banner may be due).
    s.at(d(2026, 11, 2), "13:10", crowd(74), "/menu", headers=(*etag, ("sec-fetch-dest",
         "document")))  # fmt: skip

    # Not page views: HEAD, a CORS preflight, files, JSON, plain 404, excluded paths.
    checker = crowd(75, FIREFOX)
    s.at(d(2026, 10, 29), "06:00", checker, "/", method="HEAD", path=None)
    s.at(d(2026, 10, 29), "06:01", checker, "/", method="OPTIONS", path=None)
    s.at(d(2026, 10, 29), "06:02", checker, "/static/app.css", path=None)
    s.at(d(2026, 10, 29), "06:03", checker, "/api/data", path=None)
    s.at(d(2026, 10, 29), "06:04", checker, "/nothing-here", status=404, path=None)
    s.at(d(2026, 10, 29), "06:05", checker, "/admin/panel", path=None)
    # An HTML 404 is a page view, of the path asked for.
    s.at(
        d(2026, 10, 31),
        "10:00",
        crowd(76),
        "/gone/old-post",
        status=404,
        referer="https://www.google.com/search?q=caf%C3%A9",
    )

    # Bots: counted in bot_hits only, whatever their referrer.
    bots: tuple[tuple[str, str | None], ...] = (
        (GOOGLEBOT, None), (GOOGLEBOT, None), (BINGBOT, None), (GPTBOT, None),
        (AHREFS, GOOGLE), (CHATGPT_USER, "https://chatgpt.com/"), (CURL, None),
    )  # fmt: skip
    for n, (ua, bot_referer) in enumerate(bots):
        bot = Visitor(f"192.0.2.{n + 10}", f"192.0.2.{n + 10}", ua, bot=True)
        s.at(d(2026, 10, 28) + timedelta(days=n % 5), "05:00", bot, "/menu", referer=bot_referer)
    # The second site: the same person is a visitor of each; a link between the sites is a
    # referral for the one it brings people to.
    same_person = crowd(20)  # also on café.example's google.com row on 10-28
    s.at(d(2026, 10, 28), "10:40", same_person, "/", site=SHOP)
    s.at(
        d(2026, 10, 28),
        "10:45",
        same_person,
        "/cart",
        site=SHOP,
        referer="https://shop.example/cart",
    )
    s.at(d(2026, 10, 29), "12:00", crowd(80), "/", site=SHOP, referer=INTERNAL)
    s.at(d(2026, 10, 29), "12:05", crowd(81), "/", site=SHOP, referer=GOOGLE)
    s.at(d(2026, 10, 29), "12:10", crowd(82), "/?utm_source=Newsletter&utm_medium=email"
         "&utm_campaign=Autumn", site=SHOP, utm=NEWSLETTER)  # fmt: skip
    s.at(d(2026, 10, 24), "12:00", crowd(83), "/", site=SHOP, referer=GOOGLE)
    shop_bot = Visitor("192.0.2.30", "192.0.2.30", GOOGLEBOT, bot=True)
    s.at(d(2026, 10, 29), "05:30", shop_bot, "/", site=SHOP)
    s.hits.sort(key=lambda hit: hit.when)  # as a server receives them: a clock never goes back
    return s
