"""Device and bot classes of clients the main tables miss: phone browsers without "Mobile",
headsets and TVs that say "Mobile", and automated clients with no bot token."""

from __future__ import annotations

import pytest

from analytics.useragents import classify_user_agent

_CHROME = "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0"


# Opera Mini (server-side rendering, still common on cheap Android phones) and the old Opera
# Mobile say "Opera Mini"/"Opera Mobi" instead of "Mobile": they were counted as tablets.
@pytest.mark.parametrize(
    "user_agent",
    [
        "Opera/9.80 (Android; Opera Mini/36.2.2254/119.132; U; id) Presto/2.12.423 Version/12.16",
        "Opera/9.80 (Android; Opera Mini/7.6.40234/191.303; U; en) Presto/2.12.423 Version/12.16",
        "Opera/9.80 (Android 2.3.3; Linux; Opera Mobi/ADR-1111101157; U; es-ES) Presto/2.9.201 "
        "Version/11.50",
    ],
)
def test_opera_mini_and_opera_mobile_on_android_are_phones(user_agent: str) -> None:
    assert classify_user_agent(user_agent.encode()) == ("mobile", False)


@pytest.mark.parametrize(
    ("user_agent", "device"),
    [
        # Opera's tablet build says so; Android tablets without Opera stay tablets
        (
            "Opera/9.80 (Android 3.2.1; Linux; Opera Tablet/ADR-1109081720; U; en) "
            "Presto/2.8.149 Version/11.10",
            "tablet",
        ),
        (f"Mozilla/5.0 (Linux; Android 13; SM-X710) {_CHROME} Safari/537.36", "tablet"),
        (f"Mozilla/5.0 (Linux; Android 13; Pixel 7) {_CHROME} Mobile Safari/537.36", "mobile"),
    ],
)
def test_other_android_browsers_keep_their_class(user_agent: str, device: str) -> None:
    assert classify_user_agent(user_agent.encode()) == (device, False)


# A headset's or a TV's own name outweighs "Mobile": the Quest browser says "Mobile VR", apps
# on a Fire TV stick (model AFTxx) use Android's phone WebView, and Android TVs that carry the
# HbbTV (broadcast TV) token say nothing but "Android". They were counted as phones or tablets.
@pytest.mark.parametrize(
    "user_agent",
    [
        "Mozilla/5.0 (Linux; Android 10; Quest 2) AppleWebKit/537.36 (KHTML, like Gecko) "
        "OculusBrowser/16.6.0.1.52.314146309 SamsungBrowser/4.0 Chrome/91.0.4472.164 Mobile VR "
        "Safari/537.36",
        "Mozilla/5.0 (Linux; Android 12; Quest 3) AppleWebKit/537.36 (KHTML, like Gecko) "
        "OculusBrowser/33.0.0 SamsungBrowser/4.0 Chrome/124.0 Mobile VR Safari/537.36",
        "Mozilla/5.0 (Linux; Android 7.1.2; AFTMM Build/NS6265; wv) AppleWebKit/537.36 (KHTML, "
        "like Gecko) Version/4.0 Chrome/70.0.3538.110 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; U; Android 9; en-us; M7332 Build/PPR1.180610.011) AppleWebKit/537.36"
        " (KHTML, like Gecko) Version/4.0 Chrome/68.0.3440.70 Safari/537.36 HbbTV/1.4.1 "
        "(+DRM;Philips;TPM191E;TPM191E_R.101.001.227.000;_TV_MT5806;) FVC/4.0 (Philips;TPM191E;)",
        "HbbTV/1.5.1 (+DRM; Panasonic; SmartTV2020mid; 3.216; 1.0; ; ) FVC/5.0 (Panasonic; "
        "SmartTV2020mid)",
    ],
)
def test_headsets_and_tvs_that_say_mobile_are_other_devices(user_agent: str) -> None:
    assert classify_user_agent(user_agent.encode()) == ("other", False)


@pytest.mark.parametrize(
    ("user_agent", "device"),
    [
        # a Samsung phone in a Gear VR headset is still that phone
        (
            "Mozilla/5.0 (Linux; Android 10; SM-G970F) AppleWebKit/537.36 (KHTML, like Gecko) "
            "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile VR Safari/537.36",
            "mobile",
        ),
        # "TV" inside a phone's UA does not move it (the TikTok, Twitch or TV-guide apps)
        (
            f"Mozilla/5.0 (Linux; Android 14; Pixel 8) {_CHROME} Mobile Safari/537.36 TV Guide",
            "mobile",
        ),
    ],
)
def test_phones_near_tv_and_vr_words_stay_phones(user_agent: str, device: str) -> None:
    assert classify_user_agent(user_agent.encode()) == (device, False)


# Automated clients with no bot token that neither uap-core nor crawlerdetect knows: they were
# counted as people ("other" or, for Cypress and Checkly's browser checks, "desktop").
@pytest.mark.parametrize(
    "user_agent",
    [
        "Java-http-client/17.0.9",  # java.net.http.HttpClient's default
        "insomnia/8.4.5",
        "Datadog/Synthetics",
        f"Mozilla/5.0 (X11; Linux x86_64) {_CHROME} Safari/537.36 Checkly/1.0 "
        "(https://www.checklyhq.com)",
        f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_CHROME} Safari/537.36 Cypress/13.6.0",
        "Consul Health Check",
        "Blackbox Exporter/0.24.0",
        "Prometheus/2.45.0",
        "Mozilla/5.0 (compatible; Google-Cloud-Scheduler)",
        # fediverse servers fetching a link preview, each as a post spreads (Mastodon's
        # "http.rb/5.1.1 (Mastodon/4.2.0; ...)" and Pleroma's were already bots)
        "Misskey/2023.11.0 (https://misskey.io)",
        "Akkoma 3.10.0; https://example.org <admin@example.org>",
        "GoToSocial/0.13.0 (+https://gts.example.org)",
        "Lemmy/0.19.3; +https://lemmy.world",
    ],
)
def test_monitors_api_clients_and_preview_fetchers_are_bots(user_agent: str) -> None:
    assert classify_user_agent(user_agent.encode()) == ("bot", True)


# Whole user agents no browser sends: scanners and scripts that fill the header with the bare
# product token, or with the dash access logs print for "none". They counted as `other` people.
@pytest.mark.parametrize(
    "user_agent", ["Mozilla/5.0", "Mozilla/4.0", "mozilla/5.0", "Mozilla", "-"]
)
def test_placeholder_user_agents_are_bots(user_agent: str) -> None:
    assert classify_user_agent(user_agent.encode()) == ("bot", True)


@pytest.mark.parametrize(
    ("user_agent", "device"),
    [
        # the bare token starts real user agents, and a lone word is not a placeholder
        ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "desktop"),
        ("SomethingNobodyKnows/1.0", "other"),
    ],
)
def test_user_agents_that_start_like_placeholders_are_people(user_agent: str, device: str) -> None:
    assert classify_user_agent(user_agent.encode()) == (device, False)


# Facebook's and Instagram's in-app browsers repeat the phone's maker after the platform
# comment ("FBMF/CUBOT;FBBD/CUBOT", "Android (30/11; ...; CUBOT; ...)"), where the "bot" in
# Cubot's name made every Cubot phone in those apps a bot.
_FB_ANDROID = (
    "Mozilla/5.0 (Linux; Android 12; KINGKONG 9 Build/SP1A.210812.016; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.230 Mobile Safari/537.36 "
    "[FB_IAB/FB4A;FBAV/442.0.0.33.113;FBBV/541123456;FBDM/{density=2.0,width=720,height=1600};"
    "FBLC/en_US;FBRV/0;FBCR/;FBMF/CUBOT;FBBD/CUBOT;FBPN/com.facebook.katana;FBDV/KINGKONG 9;"
    "FBSV/12;FBOP/1;FBCA/arm64-v8a:;]"
)
_INSTAGRAM_ANDROID = (
    "Mozilla/5.0 (Linux; Android 11; {model} Build/RP1A.200720.011; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/129.0.6668.100 Mobile Safari/537.36 Instagram "
    "352.0.0.38.100 Android (30/11; 320dpi; 720x1600; CUBOT; NOTE 20 PRO; NOTE_20_PRO; mt6762; "
    "en_US; 645617843)"
)


@pytest.mark.parametrize(
    "user_agent",
    [
        _FB_ANDROID,
        _INSTAGRAM_ANDROID.format(model="CUBOT NOTE 20 PRO"),
        _INSTAGRAM_ANDROID.format(model="NOTE 20 PRO"),
    ],
)
def test_cubot_phones_in_in_app_browsers_are_people(user_agent: str) -> None:
    assert classify_user_agent(user_agent.encode()) == ("mobile", False)


@pytest.mark.parametrize(
    "user_agent",
    [
        "Mozilla/5.0 (compatible; CubotCrawlerBot/1.0)",
        _INSTAGRAM_ANDROID.format(model="NOTE 20 PRO") + " ExampleBot/2.0",
    ],
)
def test_a_bot_naming_itself_next_to_cubot_is_still_a_bot(user_agent: str) -> None:
    assert classify_user_agent(user_agent.encode()) == ("bot", True)
