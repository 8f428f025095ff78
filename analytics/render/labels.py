"""Human table headers for the HTML outputs (the report page and the dashboard).

Only pages people read get them: CSV, JSON, the terminal table and the exports keep the
column names, which scripts and spreadsheets key on. A raw name such as `referrer_domain`
reads as "referrer underscore domain" to a screen reader and looks unfinished on a page.
"""

from __future__ import annotations

from collections.abc import Sequence

LABELS = {
    "period": "Period",
    "referrer_domain": "Referrer domain",
    "referrer_medium": "Medium",
    "path": "Page",
    "utm_source": "Source",
    "utm_medium": "Medium",
    "utm_campaign": "Campaign",
    "pageviews": "Pageviews",
    "visitors": "Visitors",
    "bot_hits": "Bot hits",
    "trend": "Trend",
    "change": "Change",
    "change_pct": "Change %",
    "pageviews_previous": "Pageviews, previous period",
    "pageviews_change": "Pageviews change",
    "pageviews_change_pct": "Pageviews change %",
    "visitors_previous": "Visitors, previous period",
    "visitors_change": "Visitors change",
    "visitors_change_pct": "Visitors change %",
}

# Several key columns share one header cell (the dashboard's campaign table): there the
# "utm_" prefix says nothing a reader needs, and only the first word is capitalised.
_JOINED = {"utm_source": "source", "utm_medium": "medium", "utm_campaign": "campaign"}


def column_label(column: str) -> str:
    """The header a person reads for `column`; an unlisted name gets its underscores as spaces."""
    if column in LABELS:
        return LABELS[column]
    text = column.replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else column


def key_label(columns: Sequence[str]) -> str:
    """One header for several key columns: "Source / medium / campaign"."""
    if len(columns) == 1:
        return column_label(columns[0])
    text = " / ".join(_JOINED.get(c, column_label(c).lower()) for c in columns)
    return text[:1].upper() + text[1:]
