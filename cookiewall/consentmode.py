"""Google Consent Mode v2: the visitor's choice as the signals Google tags read.

Google's tags (gtag.js, Tag Manager) do not look at cookies or banners; they read consent
signals pushed to `dataLayer` — `gtag("consent", "default", {...})` before they load and
`gtag("consent", "update", {...})` when the visitor decides. A policy maps signals to its
categories (`Category("analytics", consent_mode=["analytics_storage"])`); each signal is
"granted" exactly when its category is granted now, so GPC and an undecided visitor deny.

The defaults come from the server, as an external script (`<path_prefix>/consent-mode.js`):
the consent cookie is HttpOnly, so page scripts cannot read it, and an external script keeps
pages free of inline script under a strict Content-Security-Policy. The banner script sends
the update when the visitor decides without a reload.

Reference: https://developers.google.com/tag-platform/security/guides/consent
"""

from __future__ import annotations

import json

from cookiewall.consent import Consent
from cookiewall.policy import Policy

GRANTED = "granted"
DENIED = "denied"


def consent_mode(policy: Policy, consent: Consent) -> dict[str, str]:
    """`{signal: "granted" | "denied"}` for every signal the policy maps, in Google's order.

    `policy`: the `Policy` whose categories list the signals (`Category(consent_mode=...)`);
    an empty dict when it maps none. `consent`: the visitor's `Consent`
    (`request.state.consent`): a signal is "granted" exactly when its category is in
    `consent.granted`, so an undecided visitor, a refusal and GPC all deny.
    """
    granted = consent.granted
    return {
        signal: GRANTED if category in granted else DENIED
        for signal, category in policy.consent_mode
    }


def default_script(policy: Policy, consent: Consent) -> bytes:
    """The JavaScript that sets the visitor's Consent Mode defaults; load it before gtag.js.

    Holds only the signals (no receipt id, nothing about the visitor beyond the choice).
    With ad storage denied it also asks Google tags to redact ad data (`ads_data_redaction`).
    """
    signals = consent_mode(policy, consent)
    lines = [
        f"// cookiewall: Google Consent Mode defaults (policy {json.dumps(policy.version)}).",
        "window.dataLayer = window.dataLayer || [];",
        # gtag.js reads the `arguments` object itself, not an array: the same stub as Google's.
        "window.gtag = window.gtag || function () { window.dataLayer.push(arguments); };",
        f'window.gtag("consent", "default", {json.dumps(signals, sort_keys=False)});',
    ]
    if signals.get("ad_storage") == DENIED:
        lines.append('window.gtag("set", "ads_data_redaction", true);')
    return ("\n".join(lines) + "\n").encode()


__all__ = ["DENIED", "GRANTED", "consent_mode", "default_script"]
