"""Small fixes, session 6: the banner's note under Do Not Track, webmail and iCloud
referrers, and the receipt log's rotation warning for a lifetime under a day."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from analytics.referrers import parse_referrer
from cookiewall import ReceiptLog
from cookiewall.banner import Banner
from cookiewall.consent import ConsentCodec
from cookiewall.receipts import describe_duration
from tests.test_cookiewall_support import SECRET, call, make_app, make_policy

# --- 1. Under honor_dnt, the note on a refused category names both signals ----------------

GPC_ONLY = {
    "en": "off while your browser sends Global Privacy Control",
    "de": "aus, solange Ihr Browser Global Privacy Control sendet",
    "fr": "désactivé tant que votre navigateur envoie Global Privacy Control",
}
EITHER_SIGNAL = {
    "en": "off while your browser asks not to be tracked (Global Privacy Control or Do Not Track)",
    "de": (
        "aus, solange Ihr Browser darum bittet, nicht verfolgt zu werden"
        " (Global Privacy Control oder Do Not Track)"
    ),
    "fr": (
        "désactivé tant que votre navigateur demande à ne pas être suivi"
        " (Global Privacy Control ou Do Not Track)"
    ),
}


def _refused_note(banner: Banner, language: str) -> str:
    """The banner of a visitor whose signal refuses `marketing` (gpc_opt_out in make_policy)."""
    signalled = ConsentCodec(banner.policy, SECRET).undecided(True)
    return banner.fragment(language, "/", signalled)


@pytest.mark.parametrize("language", ["en", "de", "fr"])
@pytest.mark.parametrize("honor_dnt", [True, False])
def test_the_refused_note_names_the_signals_the_gate_honours(
    language: str, honor_dnt: bool
) -> None:
    markup = _refused_note(Banner(make_policy(), "/consent", honor_dnt=honor_dnt), language)
    said, unsaid = (EITHER_SIGNAL, GPC_ONLY) if honor_dnt else (GPC_ONLY, EITHER_SIGNAL)
    assert markup.count(f"({said[language]})") == 1
    assert unsaid[language] not in markup


def test_the_banner_honours_no_dnt_unless_told() -> None:
    markup = _refused_note(Banner(make_policy(), "/consent"), "en")
    assert GPC_ONLY["en"] in markup
    assert "Do Not Track" not in markup


@pytest.mark.parametrize(
    ("texts", "honor_dnt", "note"),
    [
        ({"en": {"gpc_dnt_refused": "off: <GPC> or DNT"}}, True, "off: &lt;GPC&gt; or DNT"),
        # The operator's GPC wording stays theirs where the gate honours GPC alone...
        ({"en": {"gpc_refused": "off (GPC)", "gpc_dnt_refused": "x"}}, False, "off (GPC)"),
        # ...and a language the policy adds inherits the DNT note like any other text.
        ({"it": {"title": "Cookie"}}, True, EITHER_SIGNAL["en"]),
    ],
)
def test_the_policy_words_the_dnt_note(
    texts: dict[str, dict[str, str]], honor_dnt: bool, note: str
) -> None:
    banner = Banner(make_policy(texts=texts), "/consent", honor_dnt=honor_dnt)
    language = next(iter(texts))
    assert f"({note})" in _refused_note(banner, language)


@pytest.mark.parametrize("honor_dnt", [1, "yes", None])
def test_honor_dnt_must_be_a_boolean(honor_dnt: object) -> None:
    with pytest.raises(ValueError, match="honor_dnt must be True or False"):
        Banner(make_policy(), "/consent", honor_dnt=honor_dnt)  # type: ignore[arg-type]


# The gate builds its Banner with its own honor_dnt.
@pytest.mark.parametrize("where", ["/consent/banner?next=/", "/?set=session"])
@pytest.mark.parametrize("language", ["en", "de", "fr"])
def test_the_gates_banners_under_dnt_name_both_signals(where: str, language: str) -> None:
    app = make_app(honor_dnt=True, inject_banner=True)
    headers = {"dnt": "1", "accept": "text/html", "accept-language": language}
    markup = call(app, "GET", where, headers=headers).text
    assert f"({EITHER_SIGNAL[language]})" in markup
    assert GPC_ONLY[language] not in markup


# --- 2. Yahoo!'s search is search.yahoo.*, its webmail email, its portal a referral;
# iCloud's one host serves mail, Drive, Notes and shared photos alike ---------------------------


@pytest.mark.parametrize(
    ("referrer", "medium", "source"),
    [
        # Yahoo!'s results pages, and the redirector their links go through
        ("https://search.yahoo.com/search?p=x", "search", "Yahoo!"),
        ("https://uk.search.yahoo.com/", "search", "Yahoo!"),
        ("https://r.search.yahoo.com/", "search", "Yahoo!"),
        ("https://search.yahoo.co.jp/", "search", "Yahoo!"),
        # webmail: on every Yahoo! suffix, and under any webmail label
        ("https://mail.yahoo.com/d/folders/1", "email", "Yahoo! Mail"),
        ("https://uk.mg.mail.yahoo.com/", "email", "Yahoo! Mail"),
        ("https://mail.yahoo.co.jp/", "email", "Yahoo! Mail"),
        ("https://webmail.yahoo.com/", "email", "yahoo.com"),
        ("https://webmail.seznam.cz/", "email", "seznam.cz"),  # seznam.cz itself is search
        # articles and pages that link out: nobody searched
        ("https://news.yahoo.com/some-story", "referral", "Yahoo! News"),
        ("https://uk.news.yahoo.com/", "referral", "Yahoo! News"),
        ("https://finance.yahoo.com/quote/X", "referral", "Yahoo! Finance"),
        ("https://sports.yahoo.com/", "referral", "Yahoo!"),
        ("https://www.yahoo.com/", "referral", "Yahoo!"),
        ("https://de.yahoo.com/", "referral", "Yahoo!"),
        ("https://yahoo.co.jp/", "referral", "Yahoo!"),
        ("https://login.yahoo.com/", "referral", "Yahoo!"),
        # not Yahoo!'s: a platform where anyone may name a site so
        ("https://yahoo.netlify.app/", "referral", "yahoo.netlify.app"),
        # iCloud: www.icloud.com/mail and www.icloud.com/iclouddrive/… share one host, and a
        # referrer keeps only the host: a named site, not email
        ("https://www.icloud.com/mail/", "referral", "iCloud"),
        ("https://www.icloud.com/iclouddrive/0abc#file", "referral", "iCloud"),
        ("https://www.icloud.com/notes/0abc", "referral", "iCloud"),
        ("https://beta.icloud.com/", "referral", "iCloud"),
        # the same rules still name Google's mail and news as before
        ("https://mail.google.com/mail/u/0/", "email", "Gmail"),
        ("https://news.google.co.uk/", "referral", "Google News"),
    ],
)
def test_yahoo_and_icloud_referrers_are_what_they_are(
    referrer: str, medium: str, source: str
) -> None:
    found = parse_referrer(referrer.encode(), "example.com")
    assert (found.medium, found.source) == (medium, source)


# --- 3. The rotation warning states the consent lifetime as it is, under a day too --------------


@pytest.mark.parametrize(
    ("keep_for", "said"),
    [
        (timedelta(days=180), "(180 days)"),
        (timedelta(days=1), "(1 day)"),
        (timedelta(days=1, hours=12), "(1 day 12 hours)"),
        (timedelta(hours=12), "(12 hours)"),
        (timedelta(hours=1), "(1 hour)"),
        (timedelta(minutes=90), "(1 hour 30 minutes)"),
        (timedelta(minutes=5), "(5 minutes)"),
        (timedelta(seconds=45), "(45 seconds)"),
        (timedelta(hours=2, seconds=1), "(2 hours 1 second)"),
    ],
)
def test_the_rotation_warning_states_the_lifetime_as_it_is(
    keep_for: timedelta, said: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = ReceiptLog(tmp_path / "r.jsonl", max_bytes=1024, backups=0, keep_for=keep_for)
    caplog.set_level("WARNING", logger="cookiewall")
    for index in range(12):  # ~6 receipts fill a file: one rotation at least, just now
        log.record(
            receipt_id=f"r{index:06d}",
            action="accept_all",
            policy_version="v1",
            granted=["necessary"],
            gpc=False,
        )
    warnings = [r.getMessage() for r in caplog.records if "receipts log rotation" in r.getMessage()]
    assert warnings
    assert all(f"within the consent lifetime {said};" in message for message in warnings)
    assert "(0 days)" not in warnings[0]


@pytest.mark.parametrize(
    ("span", "words"),
    [
        (timedelta(milliseconds=1), "under a second"),
        (timedelta(seconds=1, milliseconds=500), "1 second"),
        (timedelta(days=400, seconds=5), "400 days 5 seconds"),
        (timedelta(days=2, hours=1, minutes=1, seconds=1), "2 days 1 hour 1 minute 1 second"),
        (timedelta(days=999_999_999), "999999999 days"),
    ],
)
def test_durations_are_described_in_every_unit_that_is_not_zero(
    span: timedelta, words: str
) -> None:
    assert describe_duration(span) == words
