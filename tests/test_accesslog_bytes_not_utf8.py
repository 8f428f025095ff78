"""The private access log redacts what the recorder redacts when a path's bytes are not UTF-8.

uvicorn gives its access log the path decoded with errors replaced (U+FFFD for each byte that
is not UTF-8) and never `raw_path`, so `/pay/4111%A01111%A01111%A01111` (a card's number with
Latin-1 no-break spaces, which the recorder stores as `/pay/:redacted`) was logged as
`/pay/4111%EF%BF%BD1111…`. A segment holding U+FFFD is now judged with it read as a space and
as nothing, and redacted if either reading is.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

import pytest

from analytics.accesslog import _private_path
from analytics.paths import REDACTED, redact_sent_path


def _logged(raw: str) -> str:
    """What the access log says for a path sent as `raw` (uvicorn: decoded, quoted again)."""
    return _private_path(quote(unquote(raw)))


@pytest.mark.parametrize(
    "raw",
    [
        "/pay/4111%A01111%A01111%A01111",
        "/call/+49%96151%9612345678",
        "/iban/DE89%A03704%A00044%A00532%A00130%A000",
        "/users/j%F6rg@example.com",
    ],
)
def test_what_the_recorder_redacts_is_redacted_in_the_log(raw: str) -> None:
    assert redact_sent_path(unquote(raw), raw.encode()).endswith(REDACTED)
    assert _logged(raw).endswith(REDACTED), _logged(raw)


@pytest.mark.parametrize("raw", ["/caf%E9", "/na%EFve/menu", "/a/b"])
def test_other_paths_are_logged_as_before(raw: str) -> None:
    assert REDACTED not in _logged(raw)
