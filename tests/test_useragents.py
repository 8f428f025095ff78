from __future__ import annotations

import pytest
import ua_parser

from analytics.useragents import classify_user_agent

CHROME_WIN = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize(
    ("ua", "device", "is_bot"),
    [
        (CHROME_WIN, "desktop", False),
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "desktop",
            False,
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/18.1 Safari/605.1.15",
            "desktop",
            False,
        ),
        (
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36",
            "desktop",
            False,
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
            "like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
            "mobile",
            False,
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Mobile Safari/537.36",
            "mobile",
            False,
        ),
        (
            "Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/"
            "537.36 (KHTML, like Gecko) Chrome/52.0 Mobile Safari/537.36 Edge/15.15063",
            "mobile",
            False,
        ),
        (
            "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
            "tablet",
            False,
        ),
        (
            "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36",
            "tablet",
            False,
        ),
        (
            "Mozilla/5.0 (Linux; Android 11; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Silk/120.1.1 like Chrome/120.0.0.0 Safari/537.36",
            "tablet",
            False,
        ),
        (
            "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko)",
            "other",
            False,
        ),
        ("SomethingNobodyKnows/1.0", "other", False),
        # crawlers and automated clients
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot", True),
        ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bot", True),
        ("Mozilla/5.0 (compatible; GPTBot/1.0; +https://openai.com/gptbot)", "bot", True),
        (
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; "
            "+claudebot@anthropic.com)",
            "bot",
            True,
        ),
        ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "bot", True),
        ("Twitterbot/1.0", "bot", True),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "HeadlessChrome/131.0.0.0 Safari/537.36",
            "bot",
            True,
        ),
        ("curl/8.4.0", "bot", True),
        ("Wget/1.21.4", "bot", True),
        ("python-requests/2.32.3", "bot", True),
        ("python-httpx/0.28.1", "bot", True),
        ("Go-http-client/2.0", "bot", True),
        ("okhttp/4.12.0", "bot", True),
        ("Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", "bot", True),
        ("", "bot", True),  # every browser sends a user agent; scripts often do not
        ("   ", "bot", True),
    ],
)
def test_device_and_bot_classes(ua: str, device: str, is_bot: bool) -> None:
    result = classify_user_agent(ua.encode("latin-1"))
    assert (result.device, result.is_bot) == (device, is_bot)


def test_non_ascii_and_oversized_user_agents_do_not_fail() -> None:
    assert classify_user_agent(b"Mozilla/5.0 \xff\xfe (X11; Linux x86_64)").device == "desktop"
    assert classify_user_agent(b"A" * 100_000).device in ("other", "bot")


def test_a_repeated_user_agent_is_not_parsed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # Speed itself is measured in bench/ (SPEC 5: no timed tests); here: a hit skips the parse.
    calls: list[str] = []
    real_parse = ua_parser.parse

    def counting_parse(ua: str) -> object:
        calls.append(ua)
        return real_parse(ua)

    monkeypatch.setattr("analytics.useragents.parse", counting_parse)
    classify_user_agent.cache_clear()
    ua = CHROME_WIN.encode()
    first = classify_user_agent(ua)
    for _ in range(100):
        assert classify_user_agent(ua) is first
    assert len(calls) == 1


_CHROME = "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0"


_WEBKIT = "AppleWebKit/605.1.15 (KHTML, like Gecko)"


# Current browsers, desktop and mobile: never a bot, and the device an analyst expects.
@pytest.mark.parametrize(
    ("user_agent", "device"),
    [
        (f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_CHROME} Safari/537.36", "desktop"),
        (f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) {_CHROME} Safari/537.36", "desktop"),
        (f"Mozilla/5.0 (X11; Linux x86_64) {_CHROME} Safari/537.36", "desktop"),
        (f"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) {_CHROME} Safari/537.36", "desktop"),
        (f"Mozilla/5.0 (Windows NT 10.0; ARM64) {_CHROME} Safari/537.36", "desktop"),
        (f"Mozilla/5.0 (Linux; Android 10; K) {_CHROME} Mobile Safari/537.36", "mobile"),
        (f"Mozilla/5.0 (Linux; Android 10; K) {_CHROME} Safari/537.36", "tablet"),
        (f"Mozilla/5.0 (Linux; Android 15; Pixel 9 Pro) {_CHROME} Mobile Safari/537.36", "mobile"),
        (f"Mozilla/5.0 (Linux; Android 13; SM-X200) {_CHROME} Safari/537.36", "tablet"),
        (f"Mozilla/5.0 (Linux; Android 13; Lenovo TB-J716F) {_CHROME} Safari/537.36", "tablet"),
        (
            f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) {_WEBKIT} "
            "CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
            "mobile",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "desktop",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:133.0) Gecko/20100101 Firefox/133.0",
            "desktop",
        ),
        (
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "desktop",
        ),
        ("Mozilla/5.0 (Android 15; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0", "mobile"),
        ("Mozilla/5.0 (Android 14; Tablet; rv:133.0) Gecko/133.0 Firefox/133.0", "tablet"),
        (
            f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) {_WEBKIT} FxiOS/133.0 "
            "Mobile/15E148 Safari/605.1.15",
            "mobile",
        ),
        (
            f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) {_WEBKIT} Version/18.1 "
            "Safari/605.1.15",
            "desktop",  # also what iPadOS Safari sends by default: the UA cannot tell them apart
        ),
        (
            f"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) {_WEBKIT} Version/18.1 "
            "Mobile/15E148 Safari/604.1",
            "mobile",
        ),
        (
            f"Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) {_WEBKIT} Version/18.1 "
            "Mobile/15E148 Safari/604.1",
            "tablet",
        ),
        (
            f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_CHROME} Safari/537.36 Edg/131.0.0.0",
            "desktop",
        ),
        (
            f"Mozilla/5.0 (Linux; Android 10; K) {_CHROME} Mobile Safari/537.36 EdgA/131.0.0.0",
            "mobile",
        ),
        (
            f"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) {_WEBKIT} Version/18.0 "
            "EdgiOS/131.2903.68 Mobile/15E148 Safari/605.1.15",
            "mobile",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-X710) AppleWebKit/537.36 (KHTML, like "
            "Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Safari/537.36",
            "tablet",
        ),
        (
            "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Silk/131.3.2 like Chrome/131.0.6778.200 Safari/537.36",
            "tablet",
        ),
        (
            f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) {_WEBKIT} "
            "GSA/343.0.695551749 Mobile/15E148 Safari/604.1",
            "mobile",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240905.003; wv) AppleWebKit/537.36"
            " (KHTML, like Gecko) Version/4.0 Chrome/129.0.6668.100 Mobile Safari/537.36 "
            "Instagram 352.0.0.38.100 Android (34/14; 420dpi; 1080x2400; Google/google; Pixel 8)",
            "mobile",
        ),
    ],
)
def test_current_browsers_are_people_on_the_expected_device(user_agent: str, device: str) -> None:
    assert classify_user_agent(user_agent.encode()) == (device, False)


@pytest.mark.parametrize(
    "user_agent",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
        "+https://openai.com/gptbot)",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0; "
        "+https://openai.com/bot",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Claude-User/1.0; "
        "+Claude-User@anthropic.com)",
        "WhatsApp/2.23.20.0",
        # missed before: an AI assistant fetching for its user, Bluesky's link-card fetcher,
        # and the fetch() of the JavaScript runtimes (Node's sends just "node")
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Perplexity-User/1.0; "
        "+https://perplexity.ai/perplexity-user)",
        "Mozilla/5.0 (compatible; Bluesky Cardyb/1.1; +mailto:support@bsky.app)",
        "node",
        "Node",
        "Deno/2.0.0",
        "Bun/1.1.30",
    ],
)
def test_automated_clients_are_bots(user_agent: str) -> None:
    assert classify_user_agent(user_agent.encode()) == ("bot", True)


# Android says "Mobile" on phones and nothing on tablets, so a TV, a streaming stick or a
# headset running Android looked like a tablet; like PlayStation, Switch and webOS TVs (and
# an Xbox, which says Windows), they are neither phone, tablet nor desktop: `other`.
@pytest.mark.parametrize(
    "user_agent",
    [
        "Mozilla/5.0 (Linux; Android 9; SHIELD Android TV Build/PPR1.180610.011) "
        f"{_CHROME} Safari/537.36",
        "Mozilla/5.0 (Linux; Android 9; AFTMM Build/PS7233; wv) AppleWebKit/537.36 (KHTML, "
        "like Gecko) Version/4.0 Chrome/130.0.6723.102 Safari/537.36",  # Fire TV Stick 4K
        "Mozilla/5.0 (Linux; Android 10; BRAVIA 4K VH2 Build/QTG3.200305.006.S292; wv) "
        "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/126.0.6478.134 Safari/537.36",
        f"Mozilla/5.0 (Linux; Android 13; Chromecast) {_CHROME} Safari/537.36",
        f"Mozilla/5.0 (Linux; Android 11; Smart TV Build/RP1A.201005.006) {_CHROME} Safari/537.36",
        "Mozilla/5.0 (X11; Linux x86_64; Quest 3) AppleWebKit/537.36 (KHTML, like Gecko) "
        "OculusBrowser/35.0 Chrome/128.0.0.0 VR Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox Series X) "
        f"{_CHROME} Safari/537.36 Edge/20.02",
        "Mozilla/5.0 (PlayStation; PlayStation 5/6.00) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/15.4 Safari/605.1.15",
        "Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/94.0.4606.128 Safari/537.36 WebAppManager",
    ],
)
def test_tvs_consoles_and_headsets_are_other_devices(user_agent: str) -> None:
    assert classify_user_agent(user_agent.encode()) == ("other", False)


# --- a phone whose model name holds a bot token is a phone --------------------------------


ANDROID = "Mozilla/5.0 (Linux; Android {v}; {model}) AppleWebKit/537.36 (KHTML, like Gecko) "


CHROME = "Chrome/131.0.0.0 {mobile}Safari/537.36"


def _android(model: str, version: str = "13", mobile: bool = True) -> bytes:
    tail = CHROME.format(mobile="Mobile " if mobile else "")
    return (ANDROID.format(v=version, model=model) + tail).encode()


@pytest.mark.parametrize(
    ("ua", "device", "is_bot"),
    [
        # Cubot sells millions of Android phones; "bot" in the brand made every one a bot
        (_android("CUBOT NOTE 20 PRO", "11"), "mobile", False),
        (_android("CUBOT_X30", "10"), "mobile", False),
        (_android("CUBOT KINGKONG 9"), "mobile", False),
        (_android("Monitor Pro", "10", mobile=False), "tablet", False),
        # still bots: the token is in the product or the comment, not the device model
        (b"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot", True),
        (
            _android("Nexus 5X Build/MMB29P", "6.0.1")
            + b" (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "bot",
            True,
        ),
        (b"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "bot", True),
        (b"Mozilla/5.0 (compatible; MyCustomBot/1.0)", "bot", True),
        (_android("K", "10") + b" ExampleScraperBot/1.0", "bot", True),
        (b"UptimeRobot/2.0 (+http://www.uptimerobot.com/)", "bot", True),
        (b"curl/8.5.0", "bot", True),
    ],
)
def test_a_bot_token_in_the_device_model_is_not_a_bot(ua: bytes, device: str, is_bot: bool) -> None:
    from analytics.useragents import classify_user_agent

    assert tuple(classify_user_agent(ua)) == (device, is_bot)
