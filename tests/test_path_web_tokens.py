"""JSON Web Tokens in the path: three base64url parts joined by dots, the header `eyJ...`.

The token rule looks at runs of base64url characters, which a `.` ends: a JWT whose parts are
each under 24 characters (an unsigned one, `alg: none`, or a short payload such as
`{"u":1}`) passed untouched, payload and all. Its shape gives it away whatever its length:
the header is JSON, so its base64url starts with `eyJ` (`{"`).
"""

from __future__ import annotations

import pytest

from analytics.paths import REDACTED, redact_path


@pytest.mark.parametrize(
    ("path", "stored"),
    [
        # An unsigned JWT (alg "none") with a short payload: each part under 24 characters.
        ("/t/eyJhbGciOiJub25lIn0.eyJzdWIiOiIxMjM0In0.", f"/t/{REDACTED}"),
        ("/t/eyJhbGciOiJIUzI1NiJ9.eyJ1IjoxfQ.c2ln", f"/t/{REDACTED}"),
        ("/login/eyJhbGciOiJIUzI1NiJ9.eyJ1IjoxfQ.c2ln/done", f"/login/{REDACTED}/done"),
    ],
)
def test_json_web_tokens_are_redacted_whatever_their_parts_length(path: str, stored: str) -> None:
    assert redact_path(path) == stored


@pytest.mark.parametrize(
    "path",
    [
        "/releases/v1.2.3",
        "/files/report.final.pdf",
        "/eyJ/a.b",  # the letters alone, no encoded header
        "/blog/keyJ.com.review",
    ],
)
def test_dotted_names_stay(path: str) -> None:
    assert redact_path(path) == path
