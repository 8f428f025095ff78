"""Campaign keys are read as written: `utm_source`, `utm_medium`, `utm_campaign` (and the
`ref` / `source` stand-ins) in lower case only; `?UTM_SOURCE=x` or `?Utm_Source=x` is no tag.

Chosen to count what the common tools count, so numbers compared across them agree:
Plausible reads `query_params["utm_source"]` from `URI.decode_query` (plausible/analytics,
lib/plausible/ingestion/request.ex and event.ex), Matomo looks the name up exactly in
`UrlHelper::getParameterFromQueryString` (matomo-org/matomo core/UrlHelper.php, used by the
Referrers and MarketingCampaignsReporting detectors), and UTM guides for Google Analytics 4
list `UTM_Source` among the spellings that lose the tag. Values keep their case, as in all
three (`Newsletter` and `newsletter` are two sources).
"""

from __future__ import annotations

import pytest

from analytics.paths import extract_utm

# (query string, (utm_source, utm_medium, utm_campaign))
CASES = [
    (b"utm_source=hn&utm_medium=social&utm_campaign=launch", ("hn", "social", "launch")),
    (b"UTM_SOURCE=hn&UTM_MEDIUM=social&UTM_CAMPAIGN=launch", (None, None, None)),
    (b"Utm_Source=hn&Utm_Medium=social", (None, None, None)),
    (b"utm_SOURCE=hn&utm_campaign=launch", (None, None, "launch")),
    (b"REF=hn", (None, None, None)),
    (b"Source=hn&ref=news", ("news", None, None)),
    (b"UTM_SOURCE=loud&utm_source=quiet", ("quiet", None, None)),
    (b"utm_source=Newsletter", ("Newsletter", None, None)),
    (b"utm_source=NEWSLETTER&utm_medium=Email", ("NEWSLETTER", "Email", None)),
]


@pytest.mark.parametrize(("query", "tags"), CASES, ids=[c[0].decode() for c in CASES])
def test_only_lower_case_campaign_keys_are_read_and_values_keep_their_case(
    query: bytes, tags: tuple[str | None, str | None, str | None]
) -> None:
    assert extract_utm(query) == tags
