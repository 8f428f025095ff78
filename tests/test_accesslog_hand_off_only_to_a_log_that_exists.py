"""TrafficMiddleware hands the private access log the path as sent (`SENT_PATH`) only in a
process that has built a `PrivateAccessLog`, its only reader: setting the context variable
cost about 1 k instructions on every recorded request, also where no log line is filtered.

A process that has one hands off as before, and its line is the event's path; a filter built
after a response started (never in a server, whose logging is set up before it serves)
judges that line itself, redacting as much or more."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import MutableMapping
from pathlib import Path

import pytest

from analytics import Recorder, TrafficMiddleware, accesslog
from analytics.accesslog import SENT_PATH, PrivateAccessLog
from tests.recording_support import html_app, raw_scope, spooled

# Sent with plain slashes, the event keeps it (a route's segments are not one number); the
# log, which cannot tell `/` from `%2F` without the hand-off, redacts it.
PATH = "/pay/4111/1111/1111/1111"


@pytest.mark.parametrize(
    ("log_built", "handed_off", "logged"),
    [(True, (PATH, PATH.encode()), PATH), (False, None, "/pay/:redacted")],
)
def test_the_path_as_sent_is_handed_off_only_when_a_private_log_exists(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    log_built: bool,
    handed_off: tuple[str, bytes] | None,
    logged: str,
) -> None:
    monkeypatch.setattr(accesslog, "private_log_built", False)  # as in a fresh process
    log = PrivateAccessLog() if log_built else None
    recorder = Recorder(tmp_path / "spool", "example.com", flush_interval=3600)
    seen: list[tuple[str, bytes | None] | None] = []
    lines: list[str] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, object]) -> None:
        # Where uvicorn writes its access line: in the app's task, at the response start.
        if message["type"] == "http.response.start":
            seen.append(SENT_PATH.get())
            record = logging.LogRecord(
                "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                ("203.0.113.7:51234", "GET", PATH, "1.1", 200), None,
            )  # fmt: skip
            (log or PrivateAccessLog()).filter(record)
            assert isinstance(record.args, tuple)
            lines.append(str(record.args[2]))

    scope = raw_scope(PATH, ("203.0.113.7", 51234))
    asyncio.run(TrafficMiddleware(html_app, recorder=recorder)(scope, receive, send))
    stored = [row["path"] for row in spooled(recorder)]
    recorder.close()
    assert seen == [handed_off]
    assert lines == [logged]
    assert stored == [PATH]  # the event is the same either way
