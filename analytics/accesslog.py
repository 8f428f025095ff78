"""A private access log for uvicorn: no client address, no query string, paths redacted.

uvicorn's access log writes every request's client address and full URL, query string
included, to stdout: on most hosts that lands in a log store next to the analytics that
promise never to link an address to a visit; its WebSocket handshake lines (on
`uvicorn.error`) carry both as well. `PrivateAccessLog` is a `logging.Filter` for uvicorn's
handlers that keeps what operators read access logs for (method, path, status, timing of
the line) and drops the rest: the client address becomes `-`, the query string is cut, and
the path is redacted exactly as events store it (ids, e-mail addresses and tokens become
`:id`/`:redacted`, see `analytics.paths.redact_path`).

    uvicorn app:app --log-config examples/uvicorn-log.json
    uvicorn.run(app, log_config=analytics.accesslog.LOG_CONFIG)

References: uvicorn's logging (`uvicorn.config.LOGGING_CONFIG`, `uvicorn.logging`), Python's
`logging.config.dictConfig` schema.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote, unquote

from analytics.paths import REDACTED, redact_path

# uvicorn calls access_logger.info('%s - "%s %s HTTP/%s" %d', client, method, path, version,
# status) from both of its HTTP implementations; AccessFormatter unpacks the same five args.
_ACCESS_FORMAT = '%s - "%s %s HTTP/%s" %d'
_ACCESS_ARGS = 5
_ACCESS_LOGGER = "uvicorn.access"
# Its WebSocket implementations log each handshake on `uvicorn.error` (the default handler) as
# '%s - "WebSocket %s" [accepted]' (or 403, or a status): client and path with query again.
_WEBSOCKET_PREFIX = '%s - "WebSocket %s"'
# At --log-level trace: connection lines on `uvicorn.error` ("%sHTTP connection made" with
# "<client>:<port> - " as the argument), and on `uvicorn.asgi` every ASGI message, prefixed
# "<client>:<port> - ASGI", the scope among them (client, path, raw_path, query string).
_TRACE_LEVEL = 5
_ASGI_LOGGER = "uvicorn.asgi"
_CLIENT_SEPARATOR = " - "


def _private_path(full_path: object) -> str:
    path = str(full_path).split("?", 1)[0]
    # uvicorn logs the path percent-encoded (so no CR/LF reaches the log); redaction reads the
    # decoded path, and the result is encoded again for the same reason.
    decoded = unquote(path)
    if "\ufffd" in decoded:
        decoded = "/".join(_judged_as_sent(segment) for segment in decoded.split("/"))
    return quote(redact_path(decoded), safe="/:@!$&'()*+,;=-._~")


def _judged_as_sent(segment: str) -> str:
    """A segment whose bytes that were not UTF-8 uvicorn gave as U+FFFD (the log never sees
    `raw_path`): redacted when it would be with them read as a space or as nothing, as the
    recorder, reading the bytes themselves, redacts `/pay/4111%A01111%A01111%A01111`."""
    if "\ufffd" not in segment:
        return segment
    for reading in (" ", ""):
        if redact_path("/" + segment.replace("\ufffd", reading)) == "/" + REDACTED:
            return REDACTED
    return segment


class PrivateAccessLog(logging.Filter):
    """Rewrites uvicorn's access and WebSocket records in place; other records pass unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, tuple):
            return True
        msg = record.msg
        if len(args) == _ACCESS_ARGS and (msg == _ACCESS_FORMAT or record.name == _ACCESS_LOGGER):
            _client, method, full_path, http_version, status = args
            record.args = ("-", method, _private_path(full_path), http_version, status)
        elif len(args) >= 2 and isinstance(msg, str) and msg.startswith(_WEBSOCKET_PREFIX):
            record.args = ("-", _private_path(args[1]), *args[2:])
        elif record.levelno <= _TRACE_LEVEL and isinstance(msg, str) and msg.startswith("%s"):
            record.args = tuple(_private_trace_arg(arg) for arg in args)
        return True


def _private_trace_arg(arg: object) -> object:
    """A trace record's argument without the client or the URL's identifying parts."""
    if isinstance(arg, str) and _CLIENT_SEPARATOR in arg:
        # "<client>:<port> - " or "<client>:<port> - ASGI": only what follows the client
        return arg.rpartition(_CLIENT_SEPARATOR)[2]
    if isinstance(arg, dict) and "client" in arg:  # an ASGI scope, headers already "<...>"
        scope = {**arg, "client": "-"}
        if "path" in scope:
            scope["path"] = _private_path(scope["path"])
        if "raw_path" in scope:
            scope["raw_path"] = "<...>"
        if "query_string" in scope:
            scope["query_string"] = "<...>"
        return scope
    return arg


# uvicorn's own default configuration (uvicorn.config.LOGGING_CONFIG, 0.30+) with the filter
# on the access handler, plus the cookiewall and analytics loggers; written out so that
# importing this module needs no uvicorn.
LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"private": {"()": "analytics.accesslog.PrivateAccessLog"}},
    "formatters": {
        "default": {
            "()": "uvicorn.logging.DefaultFormatter",
            "fmt": "%(levelprefix)s %(message)s",
            "use_colors": None,
        },
        "access": {
            "()": "uvicorn.logging.AccessFormatter",
            "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s',
        },
    },
    "handlers": {
        "default": {
            "formatter": "default",
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "filters": ["private"],
        },
        "access": {
            "formatter": "access",
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "filters": ["private"],
        },
    },
    "loggers": {
        "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"level": "INFO"},
        "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        # Without these, the gate's and the recorder's own lines had no handler: warnings
        # reached stderr through Python's last resort (no level), and the gate's INFO line for
        # a removed cookie (once per name) was never shown. Names only, never values.
        "cookiewall": {"handlers": ["default"], "level": "INFO", "propagate": False},
        "analytics": {"handlers": ["default"], "level": "INFO", "propagate": False},
    },
}

__all__ = ["LOG_CONFIG", "PrivateAccessLog"]
